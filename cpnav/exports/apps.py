from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "cpnav.exports"
    label = "exports"
    verbose_name = "Exports"
