"""Second factors: TOTP devices and single-use recovery codes."""

from __future__ import annotations

import secrets

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from cpnav.accounts.models import RecoveryCode, User

RECOVERY_CODE_COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)


def has_confirmed_totp(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def mfa_required(user: User) -> bool:
    """Every account needs a second factor, except demo accounts in demo mode."""
    return not (settings.DEMO_MODE and user.is_demo)


def start_enrolment(user: User) -> TOTPDevice:
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


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
    if not device.verify_token(_digits(code)):
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return True


def new_recovery_codes(user: User) -> list[str]:
    codes = [
        "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_hash=RecoveryCode.hash_code(code)) for code in codes
        )
    return codes


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
            if device is not None and device.verify_token(digits):
                return "totp"
        return None
    used = RecoveryCode.objects.filter(
        user=user, code_hash=RecoveryCode.hash_code(code), used_at__isnull=True
    ).update(used_at=timezone.now())
    return "recovery" if used == 1 else None


def _digits(code: str) -> str:
    """Authenticator apps show codes as "123 456"; accept them with or without the gap."""
    return "".join(code.split())
