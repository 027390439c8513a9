from django.apps import AppConfig


class GuideConfig(AppConfig):
    name = "cpnav.guide"
    label = "guide"
    verbose_name = "Resource guide"
