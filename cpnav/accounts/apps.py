from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cpnav.accounts"
    label = "accounts"

    def ready(self) -> None:
        from cpnav.accounts import signals  # noqa: F401  (connects receivers)
