"""Synthetic demo data: agencies of every level and one account per role.

Every name here is invented. Safe to run twice: existing rows are kept.
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from cpnav.accounts.models import Agency, FederalPartnership, Level, Membership, Role, User
from cpnav.audit.services import record

DEMO_PASSWORD = "demo-navigator-synthetic-2026"  # noqa: S105  (synthetic, demo mode only)

AGENCIES: list[dict[str, Any]] = [
    {"key": "sheriff", "name": "Marlow County Sheriff's Office (demo)", "level": Level.LOCAL,
     "state": "TX", "ori": "TX9990100", "time_zone": "America/Chicago"},
    {"key": "state", "name": "Keystone State Police (demo)", "level": Level.STATE,
     "state": "PA", "ori": "PA9990000", "time_zone": "America/New_York"},
    {"key": "tribal", "name": "Red Mesa Tribal Police Department (demo)", "level": Level.TRIBAL,
     "state": "AZ", "ori": "AZ9990300", "time_zone": "America/Phoenix"},
    {"key": "territorial", "name": "Northern Islands Territorial Police (demo)",
     "level": Level.TERRITORIAL, "state": "MP", "ori": "", "time_zone": "Pacific/Saipan"},
    {"key": "hsi", "name": "HSI Gulf Coast Field Office (demo)", "level": Level.FEDERAL,
     "state": "TX", "ori": "", "time_zone": "America/Chicago"},
    {"key": "ccht", "name": "Center for Countering Human Trafficking (demo)",
     "level": Level.FEDERAL, "state": "DC", "ori": "", "time_zone": "America/New_York",
     "is_ccht": True},
]  # fmt: skip

PEOPLE: list[tuple[str, str, str, str]] = [
    # (agency key, role, email local part, full name)
    ("sheriff", Role.INVESTIGATOR, "investigator", "Dana Quill"),
    ("sheriff", Role.SUPERVISOR, "supervisor", "Morgan Vale"),
    ("sheriff", Role.AGENCY_ADMIN, "admin", "Casey Brook"),
    ("sheriff", Role.VICTIM_SPECIALIST, "advocate", "Jordan Fenn"),
    ("sheriff", Role.AUDITOR, "auditor", "Riley Stone"),
    ("state", Role.INVESTIGATOR, "investigator", "Avery Lark"),
    ("tribal", Role.INVESTIGATOR, "investigator", "Quinn Harlow"),
    ("territorial", Role.INVESTIGATOR, "investigator", "Sam Ortiz-Demo"),
    ("hsi", Role.FEDERAL_SPONSOR, "sponsor", "Taylor Marsh"),
    ("hsi", Role.INVESTIGATOR, "investigator", "Rowan Pike"),
    ("hsi", Role.SUPERVISOR, "supervisor", "Emerson Clay"),
    ("ccht", Role.CCHT_REVIEWER, "reviewer", "Parker Wynn"),
    ("ccht", Role.ENGAGEMENT_COORDINATOR, "engagement", "Reese Calder"),
    ("ccht", Role.AUDITOR, "auditor", "Blair Ashby"),
    ("ccht", Role.AGENCY_ADMIN, "admin", "Drew Kessler"),
]


def demo_email(agency_key: str, local: str) -> str:
    return f"{local}@{agency_key}.demo.example"


class Command(BaseCommand):
    help = "Create synthetic demo agencies and one account per role (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            self.stderr.write("refused: demo data is never loaded in production")
            sys.exit(2)
        with transaction.atomic():
            created = self._load()
        if created:
            record("demo.loaded", actor_label="cpnav demo", details={"accounts": created})
        self.stdout.write(f"demo data ready ({created} new accounts). Demo accounts:")
        for key, role, local, _name in PEOPLE:
            self.stdout.write(f"  {demo_email(key, local):40} {Role(role).label}")
        self.stdout.write(f"  {'sysadmin@demo.example':40} System administrator")
        self.stdout.write(f"Demo password for every account: {DEMO_PASSWORD}")
        if not settings.DEMO_MODE:
            self.stdout.write("CPNAV_DEMO_MODE is off: demo accounts must enrol an authenticator.")

    def _load(self) -> int:
        agencies: dict[str, Agency] = {}
        for spec in AGENCIES:
            fields = {k: v for k, v in spec.items() if k != "key"}
            agency, _ = Agency.objects.get_or_create(name=spec["name"], defaults=fields)
            agencies[spec["key"]] = agency
        for key in ("sheriff", "state", "tribal", "territorial"):
            FederalPartnership.objects.get_or_create(
                agency=agencies[key], federal_office=agencies["hsi"]
            )
        created = 0
        for key, role, local, name in PEOPLE:
            user, made = self._user(demo_email(key, local), name)
            created += made
            Membership.objects.get_or_create(user=user, agency=agencies[key], role=role)
        _admin, made = self._user("sysadmin@demo.example", "Sydney Admin", is_staff=True,
                                 is_superuser=True)  # fmt: skip
        return created + made

    def _user(self, email: str, name: str, **extra: Any) -> tuple[User, int]:
        user = User.objects.filter(email=email).first()
        if user is not None:
            return user, 0
        user = User.objects.create_user(email, DEMO_PASSWORD, full_name=name, is_demo=True, **extra)
        return user, 1
