from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cpnav.cases"
    label = "cases"
    verbose_name = "Cases and CP requests"
