from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "cpnav.audit"
    label = "audit"
    verbose_name = "Audit trail"
