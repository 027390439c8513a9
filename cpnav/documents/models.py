"""Every generated package file, kept with its SHA-256, so the history shows exactly what was sent."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from cpnav.cases.models import CPRequest


class GeneratedDocument(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(CPRequest, on_delete=models.PROTECT, related_name="packages")
    version = models.PositiveIntegerField()
    format = models.CharField(max_length=4, choices=[("pdf", "PDF"), ("docx", "DOCX")])
    relative_path = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    documents = models.JSONField(default=list)  # the bundle's enabled document ids
    request_status = models.CharField(max_length=24)  # where the request stood when generated
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    generated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version", "format"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "version", "format"], name="package_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"package v{self.version} {self.format} of {self.request_id}"
