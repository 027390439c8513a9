"""The services directory (providers) and the referrals made to them.

A referral is made only with the person's agreement: the database refuses a
referral whose consent is not recorded, whatever path writes it.
"""

from __future__ import annotations

import uuid
from typing import Final

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import Agency
from cpnav.cases.models import Person


class Kind(models.TextChoices):
    NATIONAL = "national", _("National")
    LOCAL = "local", _("Local")


class Service(models.TextChoices):
    SHELTER = "shelter", _("Shelter")
    LEGAL = "legal", _("Legal services")
    IMMIGRATION_COUNSEL = "immigration_counsel", _("Immigration counsel")
    MEDICAL = "medical", _("Medical care")
    MENTAL_HEALTH = "mental_health", _("Mental health")
    CASE_MANAGEMENT = "case_management", _("Case management")
    INTERPRETATION = "interpretation", _("Interpretation")
    HOTLINE = "hotline", _("Hotline")
    BENEFITS = "benefits", _("Benefits")


# The 50 states, DC and the five inhabited territories.
US_STATES: Final = frozenset(
    {
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN",
        "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV",
        "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN",
        "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "AS", "GU", "MP", "PR", "VI",
    }
)  # fmt: skip

https_only = URLValidator(schemes=["https"], message=_("Enter an address starting with https://."))


def phone_display(digits: str) -> str:
    """1-888-373-7888, 866-401-5510 or 988: the way the numbers are published."""
    if len(digits) == 11:
        return f"{digits[0]}-{digits[1:4]}-{digits[4:7]}-{digits[7:]}"
    if len(digits) == 10:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return digits


def phone_href(digits: str) -> str:
    if len(digits) == 11:
        return f"tel:+{digits}"
    if len(digits) == 10:
        return f"tel:+1{digits}"
    return f"tel:{digits}"


class Provider(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Entries loaded by a migration carry a stable key so later migrations can find them.
    key = models.SlugField(max_length=40, blank=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.LOCAL)
    jurisdiction = models.CharField(_("jurisdiction"), max_length=200)
    state = models.CharField(_("state"), max_length=2, blank=True)
    services = models.JSONField(_("services"), default=list)
    languages = models.JSONField(_("languages"), default=list, blank=True)
    hours = models.CharField(_("hours"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=15, blank=True)  # digits only
    email = models.EmailField(_("email"), blank=True)
    website = models.URLField(_("website"), max_length=300, blank=True, validators=[https_only])
    notes = models.TextField(_("notes"), blank=True)
    source = models.CharField(_("source"), max_length=500)
    active = models.BooleanField(_("active"), default=True)
    # The agency whose administrator imported the entry; empty for national entries
    # and for imports run on the command line.
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=~models.Q(key=""), name="provider_key_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def phone_display(self) -> str:
        return phone_display(self.phone)

    @property
    def phone_href(self) -> str:
        return phone_href(self.phone)

    def service_labels(self) -> list[str]:
        labels = dict(Service.choices)
        return [str(labels.get(s, s)) for s in self.services]


class ReferralStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    COMPLETED = "completed", _("Completed")


# The named transitions: from each status, where a referral may go next.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    ReferralStatus.SENT: frozenset({ReferralStatus.ACCEPTED, ReferralStatus.DECLINED}),
    ReferralStatus.ACCEPTED: frozenset({ReferralStatus.COMPLETED, ReferralStatus.DECLINED}),
    ReferralStatus.DECLINED: frozenset(),
    ReferralStatus.COMPLETED: frozenset(),
}


class Referral(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="referrals")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="referrals")
    services = models.JSONField(_("services"), default=list)
    consent_recorded = models.BooleanField(_("the person agreed to this referral"))
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    consent_recorded_at = models.DateTimeField()
    consent_note = models.TextField(_("consent note"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.SENT
    )
    follow_up_on = models.DateField(_("follow up on"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(consent_recorded=True), name="referral_needs_consent"
            )
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """An opaque handle for pages and logs: never the person's name."""
        return f"REF-{str(self.pk)[:8].upper()}"

    def next_statuses(self) -> list[str]:
        return [s for s in ReferralStatus.values if s in TRANSITIONS[self.status]]

    def service_labels(self) -> list[str]:
        labels = dict(Service.choices)
        return [str(labels.get(s, s)) for s in self.services]


class ReferralEvent(models.Model):
    """One step of a referral's history: created (sent), then each status change."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=10, choices=ReferralStatus.choices)
    note = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.status} at {self.at}"
