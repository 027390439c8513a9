from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "cpnav.imports"
    label = "imports"
    verbose_name = "Imports of cases, people and grants"
