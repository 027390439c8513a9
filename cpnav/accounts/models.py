"""Users, agencies, federal partnerships, memberships and invitations."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from typing import Any, ClassVar
from zoneinfo import available_timezones

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cpnav.core.crypto import secret_digest


class Level(models.TextChoices):
    FEDERAL = "federal", _("Federal")
    STATE = "state", _("State")
    LOCAL = "local", _("Local")
    TRIBAL = "tribal", _("Tribal")
    TERRITORIAL = "territorial", _("Territorial")


TERRITORIES = {
    "AS": "American Samoa",
    "GU": "Guam",
    "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands",
}
STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}  # fmt: skip
JURISDICTIONS = sorted({**STATES, **TERRITORIES}.items(), key=lambda item: item[1])
# An ORI is nine characters: the two-letter state code and seven letters or digits.
ORI_PATTERN = re.compile(r"^[A-Z]{2}[A-Z0-9]{7}$")
_TIME_ZONES = frozenset(available_timezones())


class Role(models.TextChoices):
    INVESTIGATOR = "investigator", _("Investigator")
    SUPERVISOR = "supervisor", _("Supervisor")
    FEDERAL_SPONSOR = "federal_sponsor", _("Federal sponsor")
    CCHT_REVIEWER = "ccht_reviewer", _("CCHT reviewer")
    VICTIM_SPECIALIST = "victim_specialist", _("Victim specialist")
    ENGAGEMENT_COORDINATOR = "engagement_coordinator", _("Engagement coordinator")
    AGENCY_ADMIN = "agency_admin", _("Agency administrator")
    AUDITOR = "auditor", _("Auditor")


FEDERAL_ONLY_ROLES = frozenset({Role.FEDERAL_SPONSOR})
CCHT_ONLY_ROLES = frozenset({Role.CCHT_REVIEWER, Role.ENGAGEMENT_COORDINATOR})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("an email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200)
    is_active = models.BooleanField(default=True)
    # System administrators are staff superusers; nobody else reaches Django admin.
    is_staff = models.BooleanField(default=False)
    is_demo = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    locked_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # Bumping the epoch changes the session hash, which ends every session.
    session_epoch = models.PositiveIntegerField(default=0)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    def get_session_auth_hash(self) -> str:
        base = super().get_session_auth_hash()
        return hmac.new(base.encode(), str(self.session_epoch).encode(), hashlib.sha256).hexdigest()

    @property
    def is_system_admin(self) -> bool:
        return self.is_active and self.is_staff and self.is_superuser

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


def validate_time_zone(value: str) -> None:
    if value not in _TIME_ZONES:
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


def validate_ori(value: str) -> None:
    if value and not ORI_PATTERN.match(value):
        raise ValidationError(
            _("An ORI is 9 characters: a 2-letter state code and 7 letters or digits.")
        )


class Agency(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200)
    level = models.CharField(_("level"), max_length=12, choices=Level.choices)
    state = models.CharField(
        _("state or territory"), max_length=2, blank=True, choices=JURISDICTIONS
    )
    ori = models.CharField(
        _("ORI"), max_length=9, blank=True, validators=[validate_ori],
        help_text=_("Originating Agency Identifier, if the agency has one."),
    )  # fmt: skip
    is_ccht = models.BooleanField(_("CCHT"), default=False)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="America/New_York", validators=[validate_time_zone]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"
        constraints = [
            models.UniqueConstraint(
                fields=["ori"], condition=~models.Q(ori=""), name="agency_ori_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_federal(self) -> bool:
        return self.level == Level.FEDERAL

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.level in {Level.STATE, Level.LOCAL} and not self.state:
            errors["state"] = str(_("State and local agencies need a state."))
        if self.level == Level.TERRITORIAL and self.state not in TERRITORIES:
            errors["state"] = str(_("A territorial agency needs a U.S. territory."))
        if self.level in {Level.STATE, Level.LOCAL} and self.state in TERRITORIES:
            errors["state"] = str(_("Choose 'territorial' for an agency in a territory."))
        if self.is_ccht and self.level != Level.FEDERAL:
            errors["is_ccht"] = str(_("CCHT is a federal office."))
        if self.ori and self.state and not self.ori.startswith(self.state):
            errors["ori"] = str(_("The ORI should start with the agency's state code."))
        if errors:
            raise ValidationError(errors)


class FederalPartnership(models.Model):
    """A non-federal agency's working relationship with a federal office."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="partnerships")
    federal_office = models.ForeignKey(
        Agency, on_delete=models.CASCADE, related_name="partner_agencies"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "federal_office"], name="partnership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.agency} - {self.federal_office}"

    def clean(self) -> None:
        if self.agency.is_federal:
            raise ValidationError(_("Federal agencies submit directly; they need no partner."))
        if not self.federal_office.is_federal:
            raise ValidationError(_("The partner must be a federal office."))


class Membership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agency__name", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "agency", "role"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} at {self.agency}"


def role_allowed(agency: Agency, role: str) -> bool:
    if role in FEDERAL_ONLY_ROLES and not agency.is_federal:
        return False
    return not (role in CCHT_ONLY_ROLES and not agency.is_ccht)


class Invitation(models.Model):
    """A single-use, expiring link to join an agency. Only the token's hash is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    full_name = models.CharField(max_length=200)
    roles = models.JSONField(default=list)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation for {self.email}"

    @property
    def is_open(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )

    @staticmethod
    def hash_token(token: str) -> str:
        return secret_digest(token)


# A working day to reach the person's mailbox; shorter than an invitation.
PASSWORD_RESET_HOURS = 24


class PasswordReset(models.Model):
    """An administrator-started, single-use, expiring link to set a new password.

    Like an invitation, only the token's hash is kept. Using it still takes the
    account's second factor, unless the administrator also reset the authenticator.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_resets")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"password reset for {self.user_id}"

    @property
    def is_open(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > timezone.now()

    @staticmethod
    def hash_token(token: str) -> str:
        return secret_digest(token)


class RecoveryCode(models.Model):
    """A single-use recovery code, kept only as a salted password hash.

    A code's first group is its tag: it finds the one row to check, so a sign-in
    costs one slow hash rather than one per unused code. The tag is not secret;
    the rest of the code (about 99 bits) is what the hash protects.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    tag = models.CharField(max_length=8)
    code_hash = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tag"], name="recovery_code_tag_unique")
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class APIToken(models.Model):
    """A personal API token for integrations. Only a hash is kept; the token is shown once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    token_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)  # "read", "write"
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"token {self.prefix} of {self.user_id}"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class SecurityKey(models.Model):
    """A WebAuthn credential (security key, platform authenticator, PIV-backed credential).

    Only public material is kept: the credential's id and public key. The sign
    count is the authenticator's last reported use; one that does not grow
    betrays a cloned authenticator (see accounts/webauthn.py).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="security_keys")
    # base64url of the raw id (at most 1,023 bytes by the WebAuthn spec).
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField()  # COSE_Key, as the authenticator sent it
    sign_count = models.PositiveBigIntegerField(default=0)  # 32-bit unsigned on the wire
    transports = models.JSONField(default=list)
    aaguid = models.CharField(max_length=36, blank=True)
    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"security key {self.name} of {self.user_id}"
