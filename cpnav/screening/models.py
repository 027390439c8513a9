"""An identification screening, run by one officer, possibly without naming the person."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from cpnav.accounts.models import Agency
from cpnav.cases.models import CPRequest


class Screening(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="screenings"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="screenings")
    label = models.CharField(
        max_length=80, blank=True, help_text="A private reference; no name is needed."
    )
    answers = models.JSONField(default=dict, blank=True)
    handed_to = models.ForeignKey(
        CPRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="screenings"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"screening {self.pk}"
