from django.apps import AppConfig


class GrantsConfig(AppConfig):
    name = "cpnav.grants"
    label = "grants"
    verbose_name = "Grants and deadlines"
