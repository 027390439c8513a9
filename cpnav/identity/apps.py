from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "cpnav.identity"
    label = "identity"
