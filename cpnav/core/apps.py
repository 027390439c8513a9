from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "cpnav.core"
    label = "core"
