"""Second factors: TOTP devices, security keys (see webauthn.py) and recovery codes."""

from __future__ import annotations

import secrets
from functools import cache

import segno
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from cpnav.accounts.models import RecoveryCode, SecurityKey, User

RECOVERY_CODE_COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)
# Six groups of five from 31 symbols: about 149 bits, of which the five groups under
# the salted hash carry about 124 (ASVS V6.5.2, V11.5.1 ask for 112 and 128 in all).
# The first group is the row's tag (see RecoveryCode). Codes of five groups, made
# before, are no longer accepted; the sign-in then says none are left.
_GROUPS = 6
_GROUP_LENGTH = 5


def has_confirmed_totp(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def has_security_key(user: User) -> bool:
    return bool(SecurityKey.objects.filter(user=user).exists())


def has_enrolled_factor(user: User) -> bool:
    """An authenticator app or a security key: what a sign-in asks for after the password."""
    return has_confirmed_totp(user) or has_security_key(user)


def has_second_factor(user: User) -> bool:
    """Whether a sign-in (or a check that it is still you) can ask for a second factor."""
    return has_enrolled_factor(user) or unused_recovery_codes(user) > 0


def mfa_required(user: User) -> bool:
    """Every account needs a second factor, except demo accounts in demo mode."""
    return not (settings.DEMO_MODE and user.is_demo)


def start_enrolment(user: User) -> TOTPDevice:
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(
        user=user,
        name="Authenticator app",
        confirmed=False,
        tolerance=settings.TOTP_TOLERANCE_STEPS,
    )


def _verify_totp(device: TOTPDevice, digits: str) -> bool:
    """Check a code within the configured tolerance, whatever the device row says.

    One step either side (ASVS V6.5.5 asks for 30 seconds; this is our written
    exception): a code read at the end of its step and typed in reaches the
    server in the next step often enough - about one sign-in in six for a
    five-second gap - and each refusal counts towards the lock-out that only an
    administrator lifts (ADR 2). RFC 6238 section 5.2 allows one step for this
    delay. What keeps the wider window safe: each step is accepted once (django-otp
    keeps the last step used), failures are throttled, and five failures lock the
    account, so a guesser's chance is 5 x 3 / 10^6 before the lock.
    CPNAV's setting TOTP_TOLERANCE_STEPS = 0 turns the window off.
    """
    device.tolerance = settings.TOTP_TOLERANCE_STEPS
    return bool(device.verify_token(digits))


def pending_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


def qr_svg(device: TOTPDevice, user: User) -> str:
    uri = device.config_url.replace("otpauth://totp/", "otpauth://totp/CP%20Navigator:", 1)
    return str(segno.make(uri, error="m").svg_inline(scale=4, title="", omitsize=False))


def manual_key(device: TOTPDevice) -> str:
    from base64 import b32encode

    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def confirm_enrolment(device: TOTPDevice, code: str) -> bool:
    if not _verify_totp(device, _digits(code)):
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return True


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes; the codes themselves are never stored."""
    codes: list[str] = []
    tags: set[str] = set()
    while len(codes) < RECOVERY_CODE_COUNT:
        groups = [
            "".join(secrets.choice(_ALPHABET) for _ in range(_GROUP_LENGTH)) for _ in range(_GROUPS)
        ]
        if groups[0] in tags:  # a tag finds one row; a repeat is about 1 in 600,000
            continue
        tags.add(groups[0])
        codes.append("-".join(groups))
    # A salted slow hash each (ASVS V6.5.2): about a second for the ten, once.
    rows = [
        RecoveryCode(user=user, tag=plain[:_GROUP_LENGTH], code_hash=make_password(plain))
        for plain in map(_normalize, codes)
    ]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(rows)
    return codes


def remove_second_factors(user: User) -> None:
    """Delete every authenticator, security key and recovery code: the next sign-in
    enrols afresh."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        SecurityKey.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()


def unused_recovery_codes(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def verify_second_factor(user: User, code: str) -> str | None:
    """Return "totp" or "recovery" when the code is good, else None.

    A TOTP code is refused if its time step was already used (django-otp keeps
    the last step); a recovery code is marked used by a conditional UPDATE, so
    two requests racing with the same code cannot both succeed.
    """
    digits = _digits(code)
    if len(digits) == 6 and digits.isdigit():
        with transaction.atomic():
            device = (
                TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
            )
            if device is not None and _verify_totp(device, digits):
                return "totp"
        return None
    return "recovery" if _use_recovery_code(user, code) else None


def _use_recovery_code(user: User, code: str) -> bool:
    normalized = _normalize(code)
    if len(normalized) != _GROUPS * _GROUP_LENGTH:
        return False
    row = RecoveryCode.objects.filter(
        user=user, tag=normalized[:_GROUP_LENGTH], used_at__isnull=True
    ).first()
    if row is None:
        # Hash anyway, so the time taken does not tell whether the tag exists.
        check_password(normalized, _decoy_hash())
        return False
    if not check_password(normalized, row.code_hash):
        return False
    used = RecoveryCode.objects.filter(pk=row.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    return used == 1


@cache
def _decoy_hash() -> str:
    return make_password(secrets.token_hex(16))


def _normalize(code: str) -> str:
    """Codes are shown as "abcde-fghjk-..."; accept any case, spacing or dashes."""
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _digits(code: str) -> str:
    """Authenticator apps show codes as "123 456"; accept them with or without the gap."""
    return "".join(code.split())
