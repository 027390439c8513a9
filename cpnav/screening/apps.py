from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "cpnav.screening"
    label = "screening"
    verbose_name = "Screening"
