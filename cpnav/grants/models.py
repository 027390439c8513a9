"""A person's Continued Presence: its terms, end events and the papers that follow it.

The status is derived from dates and events, never stored, so it cannot drift
from the record.
"""

from __future__ import annotations

import uuid
from datetime import date

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cpnav.cases.models import AT_CCHT, CPRequest, Person


class TVisaStatus(models.TextChoices):
    UNKNOWN = "unknown", _("Not known")
    NOT_REFERRED = "not_referred", _("Not referred yet")
    REFERRED = "referred", _("Referred to immigration counsel")
    FILED = "filed", _("T visa application filed")
    APPROVED = "approved", _("T visa approved")
    DENIED = "denied", _("T visa denied")


class Grant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    person = models.OneToOneField(Person, on_delete=models.PROTECT, related_name="grant")
    work_permit_received_on = models.DateField(_("work permit received"), null=True, blank=True)
    work_permit_expires_on = models.DateField(_("work permit expires"), null=True, blank=True)
    dhs_notified_hhs_on = models.DateField(_("DHS notified HHS"), null=True, blank=True)
    hhs_letter_on = models.DateField(_("HHS certification letter dated"), null=True, blank=True)
    t_visa_status = models.CharField(
        _("T visa"), max_length=16, choices=TVisaStatus.choices, default=TVisaStatus.UNKNOWN
    )
    t_visa_referred_on = models.DateField(_("referred to counsel on"), null=True, blank=True)
    t_visa_filed_on = models.DateField(_("T visa filed on"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"grant {self.pk}"

    def current_term(self) -> GrantTerm | None:
        return self.terms.order_by("-end").first()

    def status(self, today: date) -> str:
        """active, extension_requested, expired, ended or revoked."""
        # The latest end already in effect counts; one scheduled for later cannot hide it.
        end_event = self.ends.filter(effective_on__lte=today).order_by("-effective_on").first()
        if end_event is not None:
            return "revoked" if end_event.kind == EndKind.REVOKED else "ended"
        term = self.current_term()
        if term is None or term.end < today:
            return "expired"
        pending = self.person.requests.filter(kind="extension", status__in=AT_CCHT)
        return "extension_requested" if pending.exists() else "active"


class GrantTerm(models.Model):
    """One granted period: the initial term or an extension, chained end to start."""

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="terms")
    request = models.OneToOneField(CPRequest, on_delete=models.PROTECT, related_name="term")
    kind = models.CharField(max_length=10)
    start = models.DateField()
    end = models.DateField()

    class Meta:
        ordering = ["start"]
        # Renewal metrics look terms up by their last day (cpnav.reports).
        indexes = [models.Index(fields=["end"], name="grant_term_end")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="grant_term_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.start} to {self.end}"


class EndKind(models.TextChoices):
    NO_LONGER_WITNESS = "no_longer_witness", _("No longer a potential witness")
    CIVIL_ACTION_ENDED = "civil_action_ended", _("Civil action ended")
    REVOKED = "revoked", _("Revoked")


class GrantEnd(models.Model):
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="ends")
    kind = models.CharField(max_length=20, choices=EndKind.choices)
    effective_on = models.DateField()
    reason = models.TextField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_on"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.effective_on}"


class ReminderSent(models.Model):
    """One reminder, to one person, sent once: the unique key makes a rerun skip it."""

    key = models.CharField(max_length=120)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="reminders")
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "user"], name="reminder_once")]

    def __str__(self) -> str:
        return self.key


class CalendarFeed(models.Model):
    """A private calendar address; only its hash is kept, and making a new one revokes it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"calendar feed of {self.user_id}"
