from django.apps import AppConfig


class NiemConfig(AppConfig):
    name = "cpnav.niem"
    label = "niem"
    verbose_name = "NIEM exchange"
