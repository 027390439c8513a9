"""An import in progress: the uploaded file, the chosen columns, the report and the progress.

The uploaded file holds victims' data, so it is kept encrypted in this row
(compressed, then AES-GCM like the person fields), only while the import
needs it: it is removed when the import is done or discarded, and at the
latest ``FILE_HOURS`` after the upload (``purge_expired``). Keeping it in the
database rather than on a disk lets any app server behind a load balancer
run the next step.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Final

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import Agency
from cpnav.core.crypto import EncryptedJSONField, EncryptedTextField

FILE_HOURS: Final = 24


class JobStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Choose the columns")
    CHECKING = "checking", _("Checking")
    REJECTED = "rejected", _("Problems found")
    CHECKED = "checked", _("Ready to import")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")
    DISCARDED = "discarded", _("Discarded")


RUNNING: Final = frozenset({JobStatus.CHECKING, JobStatus.IMPORTING})
# Ends of the road: the file is gone and nothing more can happen.
CLOSED: Final = frozenset({JobStatus.DONE, JobStatus.DISCARDED})


class Phase(models.TextChoices):
    NONE = "", _("Waiting")
    CHECKING = "checking", _("Checking rows")
    WRITING = "writing", _("Writing records")


def default_expiry() -> datetime:
    return timezone.now() + timedelta(hours=FILE_HOURS)


class ImportJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # A file's name can carry a victim's name: encrypted like the person's fields.
    file_name = EncryptedTextField()
    file_format = models.CharField(max_length=4)
    file_size = models.PositiveIntegerField()
    file_removed_at = models.DateTimeField(null=True, blank=True)
    # A file without a header row makes its first person the "columns": encrypted too.
    columns = EncryptedJSONField(default=list)
    mapping = EncryptedJSONField(default=dict)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.UPLOADED)
    phase = models.CharField(max_length=10, choices=Phase.choices, blank=True, default="")
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    # The first problems as [line, column, message]; messages can quote cells, so encrypted.
    problems = EncryptedJSONField(default=list)
    problem_count = models.PositiveIntegerField(default=0)
    rows_with_problems = models.PositiveIntegerField(default=0)
    # Counts (rows, cases, people, grants, problems per column) and column names.
    summary = EncryptedJSONField(default=dict)
    error = models.TextField(blank=True)
    language = models.CharField(max_length=10, default="en")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(default=default_expiry)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"import {self.pk}"

    @property
    def has_file(self) -> bool:
        return self.file_removed_at is None

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING

    @property
    def percent(self) -> int:
        if self.status in {JobStatus.CHECKED, JobStatus.REJECTED, JobStatus.DONE}:
            return 100
        if not self.total:
            return 0
        return min(100, self.processed * 100 // self.total)


class ImportFile(models.Model):
    """The uploaded file, apart from its job so that reading progress never loads it."""

    job = models.OneToOneField(
        ImportJob, on_delete=models.CASCADE, primary_key=True, related_name="file"
    )
    # base64(zlib(the file's bytes)), encrypted.
    data = EncryptedTextField()

    def __str__(self) -> str:
        return f"file of {self.job_id}"
