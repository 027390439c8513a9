from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "cpnav.reports"
    label = "reports"
    verbose_name = "Program metrics and dashboards"
