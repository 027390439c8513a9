"""CCHT engagement: informational meeting requests, virtual sessions, registrations.

Nothing here is victim data: requesters and attendees are officers and staff
who gave their work contact details to take part.
"""

from __future__ import annotations

import uuid
from typing import Final

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import JURISDICTIONS, Agency, validate_time_zone


class Topic(models.TextChoices):
    CP_BASICS = "cp_basics", _("Continued Presence basics")
    PREPARING = "preparing_request", _("Preparing a CP request")
    VICTIM_CENTERED = "victim_centered", _("Victim-centered practice")
    T_U_VISAS = "t_u_visas", _("T and U visas")
    LABOR = "labor_trafficking", _("Recognizing labor trafficking")
    BENEFITS = "benefits", _("Benefits and services for victims")


class Audience(models.TextChoices):
    PATROL = "patrol", _("Patrol officers")
    INVESTIGATORS = "investigators", _("Investigators")
    SUPERVISORS = "supervisors", _("Supervisors and command staff")
    PROSECUTORS = "prosecutors", _("Prosecutors")
    VICTIM_SERVICES = "victim_services", _("Victim services staff")
    TASK_FORCE = "task_force", _("Task force members")


class RequestStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Received")
    DATES_PROPOSED = "dates_proposed", _("Other dates proposed")
    ACCEPTED = "accepted", _("Accepted")
    SCHEDULED = "scheduled", _("Scheduled")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# Where a meeting request may go next, by who moves it.
COORDINATOR_MOVES: Final[dict[str, frozenset[str]]] = {
    RequestStatus.SUBMITTED: frozenset(
        {RequestStatus.ACCEPTED, RequestStatus.DATES_PROPOSED, RequestStatus.DECLINED,
         RequestStatus.SCHEDULED}
    ),
    RequestStatus.DATES_PROPOSED: frozenset(
        {RequestStatus.ACCEPTED, RequestStatus.DATES_PROPOSED, RequestStatus.DECLINED,
         RequestStatus.SCHEDULED}
    ),
    RequestStatus.ACCEPTED: frozenset(
        {RequestStatus.DATES_PROPOSED, RequestStatus.DECLINED, RequestStatus.SCHEDULED}
    ),
    RequestStatus.SCHEDULED: frozenset({RequestStatus.SCHEDULED}),
    RequestStatus.DECLINED: frozenset(),
    RequestStatus.WITHDRAWN: frozenset(),
}  # fmt: skip
REQUESTER_MAY_WITHDRAW: Final = frozenset(
    {RequestStatus.SUBMITTED, RequestStatus.DATES_PROPOSED, RequestStatus.ACCEPTED}
)


class MeetingRequest(models.Model):
    """An agency's request for an informational meeting with CCHT."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # A signed-in requester; empty when it came through the public form.
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="meeting_requests",
    )  # fmt: skip
    contact_name = models.CharField(_("your name"), max_length=200)
    contact_email = models.EmailField(_("your work email"))
    contact_phone = models.CharField(_("phone"), max_length=40, blank=True)
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.SET_NULL, related_name="meeting_requests"
    )
    agency_name = models.CharField(_("agency"), max_length=200)
    jurisdiction = models.CharField(_("state or territory"), max_length=2, choices=JURISDICTIONS)
    jurisdiction_detail = models.CharField(_("city, county or tribal area"), max_length=200)
    audience = models.JSONField(_("audience"), default=list)
    audience_size = models.PositiveIntegerField(_("about how many people"))
    topics = models.JSONField(_("topics"), default=list)
    topics_other = models.CharField(_("other topics"), max_length=500, blank=True)
    # Preferred dates in the requester's time zone, earliest first.
    preferred_dates = models.JSONField(_("preferred dates"), default=list)
    preferred_time = models.CharField(_("preferred time of day"), max_length=10)
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    accessibility_needs = models.TextField(_("accessibility needs"), blank=True)
    language_needs = models.CharField(_("language needs"), max_length=200, blank=True)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.SUBMITTED
    )
    # The coordinator's offer: ISO datetimes with their zone, and a message.
    proposed_times = models.JSONField(default=list, blank=True)
    agreed_start = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    session = models.ForeignKey(
        "Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="meeting_requests"
    )
    # A public requester follows the request with a secret link; only its hash is kept.
    status_token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(audience_size__gte=1), name="meeting_audience_positive"
            )
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"MR-{str(self.pk)[:8].upper()}"

    def topic_labels(self) -> list[str]:
        labels = dict(Topic.choices)
        return [str(labels.get(t, t)) for t in self.topics]

    def audience_labels(self) -> list[str]:
        labels = dict(Audience.choices)
        return [str(labels.get(a, a)) for a in self.audience]

    @property
    def is_open(self) -> bool:
        return self.status in REQUESTER_MAY_WITHDRAW


class MeetingRequestEvent(models.Model):
    """One step of a meeting request's history."""

    meeting_request = models.ForeignKey(
        MeetingRequest, on_delete=models.CASCADE, related_name="events"
    )
    status = models.CharField(max_length=16, choices=RequestStatus.choices)
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    actor_label = models.CharField(max_length=254, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.status} at {self.at}"


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    CANCELLED = "cancelled", _("Cancelled")


class Session(models.Model):
    """A virtual engagement session. Public ones are listed; others are shared by link."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    topics = models.JSONField(_("topics"), default=list)
    starts_at = models.DateTimeField(_("starts"))
    duration_minutes = models.PositiveIntegerField(_("length in minutes"), default=60)
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    capacity = models.PositiveIntegerField(_("places"))
    meeting_link = models.URLField(_("meeting link"), max_length=500)
    materials = models.JSONField(_("materials (guide pages)"), default=list)
    presenters = models.CharField(_("presenters"), max_length=500, blank=True)
    is_public = models.BooleanField(_("list publicly"), default=True)
    status = models.CharField(
        max_length=10, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    cancel_reason = models.TextField(blank=True)
    follow_up_sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["status", "starts_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(capacity__gte=1), name="session_capacity"),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=15, duration_minutes__lte=480),
                name="session_duration",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def uid(self) -> str:
        """The calendar UID: the same in every invitation, update and cancellation."""
        return f"session-{self.pk}@cpnav"

    @property
    def is_cancelled(self) -> bool:
        return self.status == SessionStatus.CANCELLED

    def topic_labels(self) -> list[str]:
        labels = dict(Topic.choices)
        return [str(labels.get(t, t)) for t in self.topics]


class RegistrationStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    WAITLISTED = "waitlisted", _("On the waiting list")
    CANCELLED = "cancelled", _("Cancelled")


class Registration(models.Model):
    """One person's place (or place in line) at a session."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="registrations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="registrations",
    )  # fmt: skip
    full_name = models.CharField(_("full name"), max_length=200)
    email = models.EmailField(_("work email"))
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.SET_NULL, related_name="registrations"
    )
    agency_name = models.CharField(_("agency"), max_length=200)
    status = models.CharField(max_length=10, choices=RegistrationStatus.choices)
    # When the person joined the line (or re-joined after cancelling): the waiting order.
    queued_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The SEQUENCE of the last calendar message sent to this person; each new one is higher.
    sequence = models.PositiveIntegerField(default=0)
    attended = models.BooleanField(null=True, blank=True)
    attendance_recorded_at = models.DateTimeField(null=True, blank=True)
    follow_up_sent_at = models.DateTimeField(null=True, blank=True)
    # The registrant manages the place with a secret link; only its hash is kept.
    manage_token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["queued_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["session", "email"], name="registration_once")
        ]
        indexes = [models.Index(fields=["session", "status", "queued_at"])]

    def __str__(self) -> str:
        return f"{self.email} at {self.session_id}"


class SessionReminder(models.Model):
    """A reminder sent once: the unique key makes a rerun (or a second server) skip it."""

    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="reminders"
    )
    key = models.CharField(max_length=40)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["registration", "key"], name="session_reminder_once")
        ]

    def __str__(self) -> str:
        return self.key
