from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from cpnav.referrals.models import Kind, Provider

NATIONAL_KEYS = {"ice-vesl", "nhth", "hhs-otip", "hhs-otip-child-protection"}


@pytest.fixture
def national(db: None) -> list[Provider]:
    """The national providers, present even after a transactional test flushed the table.

    Runs the data migration's own loader, which is idempotent.
    """
    migration = importlib.import_module("cpnav.referrals.migrations.0002_national_providers")
    migration.load(apps, None)
    return list(Provider.objects.filter(key__in=NATIONAL_KEYS))


@pytest.fixture
def shelter(db: None) -> Provider:
    return Provider.objects.create(
        name="Marlow County Safe House",
        kind=Kind.LOCAL,
        jurisdiction="Marlow County, TX",
        state="TX",
        services=["shelter", "case_management"],
        languages=["English", "Spanish"],
        hours="Mon-Fri 9am-5pm",
        phone="5550100100",
        source="Synthetic test entry",
    )


@pytest.fixture
def legal_aid(db: None) -> Provider:
    return Provider.objects.create(
        name="Cascade Legal Aid",
        kind=Kind.LOCAL,
        jurisdiction="Portland, OR",
        state="OR",
        services=["legal", "immigration_counsel"],
        languages=["Vietnamese"],
        source="Synthetic test entry",
    )
