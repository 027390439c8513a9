"""The protected record: cases, the people they protect, CP requests and decisions.

Identifying fields of a person are encrypted at rest (cpnav.core.crypto);
duplicates are found through keyed hashes, never by decrypting the table.
Every model carries a version number: a save based on an old version is
refused and shown to the user instead of silently overwriting.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import Agency
from cpnav.core.crypto import EncryptedJSONField, EncryptedTextField, blind_index


class Form(models.TextChoices):
    SEX = "sex", _("Sex trafficking")
    LABOR = "labor", _("Labor trafficking")


class CriminalStatus(models.TextChoices):
    INVESTIGATING = "investigating", _("Under investigation")
    CHARGED = "charged", _("Charges filed")
    TRIAL = "trial", _("In trial")
    CONVICTED = "convicted", _("Conviction")
    CLOSED = "closed", _("Closed without charges")
    ACQUITTED = "acquitted", _("Acquittal")


class CivilStatus(models.TextChoices):
    NONE = "none", _("No civil action")
    FILED = "filed", _("Filed")
    PENDING = "pending", _("Pending")
    DISMISSED = "dismissed", _("Dismissed")
    RESOLVED = "resolved", _("Settled or decided")


class Citizenship(models.TextChoices):
    UNKNOWN = "unknown", _("Not known yet")
    NONCITIZEN = "noncitizen", _("Not a U.S. citizen or permanent resident")
    US_CITIZEN = "us_citizen", _("U.S. citizen")
    LPR = "lawful_permanent_resident", _("Lawful permanent resident")


class Case(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="cases")
    case_number = models.CharField(_("case number"), max_length=60)
    trafficking_forms = models.JSONField(_("trafficking forms"), default=list, blank=True)
    lead_investigator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lead_cases"
    )
    team: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="CaseMember", related_name="team_cases"
    )
    federal_partner = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="partnered_cases",
        verbose_name=_("federal partner office"),
    )  # fmt: skip
    criminal_status = models.CharField(
        _("criminal case status"), max_length=16, choices=CriminalStatus.choices,
        default=CriminalStatus.INVESTIGATING,
    )  # fmt: skip
    civil_court = models.CharField(_("civil action court"), max_length=200, blank=True)
    civil_number = models.CharField(_("civil action number"), max_length=80, blank=True)
    civil_filed_on = models.DateField(_("civil action filed on"), null=True, blank=True)
    civil_status = models.CharField(
        _("civil action status"), max_length=12, choices=CivilStatus.choices,
        default=CivilStatus.NONE,
    )  # fmt: skip
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "case_number"], name="case_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.case_number}"


class CaseMember(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="case_member_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.case_id}"


class Person(models.Model):
    """The victim. Names, birth date, A-number and contact details are encrypted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="people")
    full_name = EncryptedTextField(_("full name"))
    aliases = EncryptedJSONField(_("other names"), default=list, blank=True)
    date_of_birth = EncryptedTextField(_("date of birth"), blank=True, default="")
    age_estimate = models.PositiveSmallIntegerField(_("estimated age"), null=True, blank=True)
    citizenship = models.CharField(
        _("citizenship"), max_length=32, choices=Citizenship.choices, default=Citizenship.UNKNOWN
    )
    country = models.CharField(_("country of citizenship"), max_length=80, blank=True)
    languages = models.JSONField(_("languages"), default=list, blank=True)
    interpreter_needed = models.BooleanField(_("needs an interpreter"), default=False)
    a_number = EncryptedTextField(_("A-number"), blank=True, default="")
    contact = EncryptedTextField(_("contact details"), blank=True, default="")
    do_not_contact = models.BooleanField(_("do not contact directly"), default=False)
    safe_contact = EncryptedTextField(_("safe contact instructions"), blank=True, default="")
    # A possible minor victim must be reported to HHS within 24 hours
    # (22 U.S.C. 7105(b)(1)(G)); the deadlines dashboard tracks it from here.
    minor_identified_at = models.DateTimeField(
        _("possible minor identified at"), null=True, blank=True
    )
    hhs_notified_at = models.DateTimeField(_("HHS notified at"), null=True, blank=True)
    a_number_index = models.CharField(max_length=64, blank=True, db_index=True)
    name_dob_index = models.CharField(max_length=64, blank=True, db_index=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    IDENTIFYING = ("full_name", "aliases", "date_of_birth", "a_number", "contact", "safe_contact")

    class Meta:
        ordering = ["created_at"]
        indexes = [
            # Program metrics count possible minors by when they were identified.
            models.Index(
                fields=["minor_identified_at"],
                name="person_minor_identified_at",
                condition=models.Q(minor_identified_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        # Never the name: str() ends up in logs and admin pages.
        return f"person {self.pk}"

    @property
    def birth_date(self) -> date | None:
        return date.fromisoformat(self.date_of_birth) if self.date_of_birth else None

    def refresh_indexes(self) -> None:
        digits = "".join(ch for ch in self.a_number if ch.isdigit())
        self.a_number_index = blind_index(digits, purpose="a_number") if digits else ""
        self.name_dob_index = (
            blind_index(f"{self.full_name}|{self.date_of_birth}", purpose="name_dob")
            if self.full_name and self.date_of_birth
            else ""
        )


class RequestKind(models.TextChoices):
    INITIAL = "initial", _("Initial request")
    EXTENSION = "extension", _("Extension")


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    AWAITING_SUPERVISOR = "awaiting_supervisor", _("Awaiting supervisor approval")
    AWAITING_SPONSOR = "awaiting_sponsor", _("Awaiting federal sponsor")
    SUBMITTED = "submitted", _("Submitted to CCHT")
    INFORMATION_REQUESTED = "information_requested", _("Information requested by CCHT")
    GRANTED = "granted", _("Granted")
    DENIED = "denied", _("Denied")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_STATUSES = (
    Status.DRAFT, Status.AWAITING_SUPERVISOR, Status.AWAITING_SPONSOR, Status.SUBMITTED,
    Status.INFORMATION_REQUESTED,
)  # fmt: skip
# Where CCHT has the request: an extension "is requested" from then on, not while it
# is still a draft or on its way through the agency and the sponsor (who outside the
# case team may not know of it yet).
AT_CCHT = (Status.SUBMITTED, Status.INFORMATION_REQUESTED)


# Requests waiting on CCHT, and the same as SQL constants for the inbox query (see
# the partial index request_ccht_open and cpnav.cases.queues.ccht_inbox).
OPEN_AT_CCHT = ["submitted", "information_requested"]
OPEN_AT_CCHT_SQL = "\"cases_cprequest\".\"status\" IN ('submitted', 'information_requested')"


class CPRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="requests")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="requests")
    kind = models.CharField(max_length=10, choices=RequestKind.choices, default=RequestKind.INITIAL)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.DRAFT)
    facts = models.JSONField(default=dict, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    narrative = EncryptedTextField(_("summary of the exploitation"), blank=True, default="")
    determination = models.JSONField(default=dict, blank=True)
    rules_version = models.CharField(max_length=40, blank=True)
    # Coarse and non-identifying, kept beside the encrypted birth date so queues
    # and reports can filter by it: "minor", "adult" or "unknown".
    age_group = models.CharField(max_length=8, default="unknown")
    sponsor_office = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="sponsored_requests"
    )
    sponsor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="endorsed_requests",
    )  # fmt: skip
    routed_to_sponsor_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["status", "submitted_at"]),
            # Program metrics filter on these dates alone (cpnav.reports).
            models.Index(fields=["submitted_at"], name="request_submitted_at"),
            models.Index(fields=["decided_at"], name="request_decided_at"),
            # CCHT's inbox, oldest first: the open requests alone, in the order shown
            # (the inbox filters on the same list; SQLite only uses a partial index
            # whose condition the query repeats).
            models.Index(
                fields=["submitted_at", "id"],
                name="request_ccht_open",
                condition=models.Q(status__in=OPEN_AT_CCHT),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class RequestEvent(models.Model):
    """The request's own history: every transition, with who, when and why."""

    request = models.ForeignKey(CPRequest, on_delete=models.CASCADE, related_name="events")
    transition = models.CharField(max_length=32)
    from_status = models.CharField(max_length=24)
    to_status = models.CharField(max_length=24)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.transition} at {self.at}"


class DecisionKind(models.TextChoices):
    RECEIVED = "received", _("Received")
    INFORMATION_REQUESTED = "information_requested", _("Information requested")
    GRANTED = "granted", _("Granted")
    DENIED = "denied", _("Denied")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Decision(models.Model):
    """What CCHT recorded (and withdrawals), as taken from its notices."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(CPRequest, on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=24, choices=DecisionKind.choices)
    information_requested = models.TextField(blank=True)
    due_date = models.DateField(null=True, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["recorded_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True)
                | models.Q(start_date__isnull=True)
                | models.Q(end_date__gte=models.F("start_date")),
                name="decision_end_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.request_id}"


class Attachment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(CPRequest, on_delete=models.CASCADE, related_name="attachments")
    relative_path = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    # A file's name can carry a victim's name: encrypted like the person's fields.
    original_name = EncryptedTextField()
    description = models.CharField(max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return f"attachment {self.pk}"


class Share(models.Model):
    """An explicit, expiring grant to a victim specialist at another organisation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="shares")
    grantee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shares_received"
    )
    fields = models.JSONField(default=list)  # which identifying fields are not redacted
    reason = models.CharField(max_length=200)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"share of {self.person_id} with {self.grantee_id}"


class Notification(models.Model):
    """An in-app notice. Like email, it names no victim: a reference and a link."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    message = models.CharField(max_length=300)
    link = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.message
