from django.apps import AppConfig
from django.core.checks import Tags, register


class CoreConfig(AppConfig):
    name = "cpnav.core"
    label = "core"

    def ready(self) -> None:
        # Here, not in crypto.py: the check reads models, and crypto is imported by them.
        from cpnav.core.keys import check_stored_keys

        register(check_stored_keys, Tags.database)
