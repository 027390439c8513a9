from django.apps import AppConfig


class CheckConfig(AppConfig):
    name = "cpnav.check"
    label = "check"
    verbose_name = "Eligibility check"
