from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "cpnav.documents"
    label = "documents"
    verbose_name = "Request packages"
