from django.apps import AppConfig


class EngagementConfig(AppConfig):
    name = "cpnav.engagement"
    label = "engagement"
    verbose_name = "CCHT engagement: meetings and sessions"
