"""The national providers, the directory search and the provider pages."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from cpnav.accounts.models import User
from cpnav.referrals import services
from cpnav.referrals.models import Kind, Provider, phone_display, phone_href
from tests.conftest import signed_in
from tests.referrals.conftest import NATIONAL_KEYS

PHONES = {
    "ice-vesl": "1-833-383-1465",
    "nhth": "1-888-373-7888",
    "hhs-otip": "866-401-5510",
    "hhs-otip-child-protection": "202-205-4582",
}


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_loads_the_national_providers() -> None:
    """Unapply and reapply the data migration itself.

    Checking rows left by the test database's set-up would depend on test order:
    a transactional test empties every table when it ends.
    """
    executor = MigrationExecutor(connection)
    executor.migrate([("referrals", "0001_initial")])
    assert not Provider.objects.filter(kind=Kind.NATIONAL).exists()
    executor.loader.build_graph()
    executor.migrate([("referrals", "0002_national_providers")])
    national = {p.key: p for p in Provider.objects.filter(kind=Kind.NATIONAL)}
    assert set(national) == NATIONAL_KEYS
    for key, provider in national.items():
        assert provider.phone_display == PHONES[key]
        assert provider.jurisdiction == "Nationwide"
        assert provider.active
        assert provider.source  # every entry says where its facts come from
        assert provider.services
        # The domain facts give no hours, languages or web addresses: none invented.
        assert provider.hours == "See the provider's website"
        assert provider.languages == []
        assert provider.website == ""
    assert national["nhth"].services == ["hotline"]
    assert national["hhs-otip"].services == ["benefits"]
    assert "24 hours" in national["hhs-otip-child-protection"].notes


def test_phone_formats_and_tel_links() -> None:
    assert phone_display("18883737888") == "1-888-373-7888"
    assert phone_href("18883737888") == "tel:+18883737888"
    assert phone_display("8664015510") == "866-401-5510"
    assert phone_href("8664015510") == "tel:+18664015510"
    assert (phone_display("988"), phone_href("988")) == ("988", "tel:988")


def test_directory_search_filters(
    national: list[Provider], shelter: Provider, legal_aid: Provider
) -> None:
    everything = services.directory()
    assert [p.kind for p in everything[: len(national)]] == [Kind.NATIONAL] * len(national)
    assert {shelter, legal_aid} <= set(everything)
    assert services.directory(text="safe house") == [shelter]
    assert services.directory(text="marlow county") == [shelter]
    texas = services.directory(state="tx")
    assert shelter in texas
    assert legal_aid not in texas
    assert set(national) <= set(texas)  # national providers serve every state
    assert services.directory(service="immigration_counsel") == [legal_aid]
    assert services.directory(service="shelter", state="OR") == []
    assert services.directory(language="spanish") == [shelter]
    assert services.directory(language="Vietnam") == [legal_aid]
    hotlines = services.directory(service="hotline")
    assert {p.key for p in hotlines} == {"ice-vesl", "nhth"}
    shelter.active = False
    shelter.save()
    assert shelter not in services.directory()


def test_directory_page(
    national: list[Provider], shelter: Provider, legal_aid: Provider, teammate: User
) -> None:
    client = signed_in(Client(), teammate)
    page = client.get(reverse("referrals:directory")).content.decode()
    assert 'href="tel:+18883737888"' in page
    assert 'href="tel:+15550100100"' in page
    assert page.index("National Human Trafficking Hotline") < page.index("Marlow County Safe House")
    assert "<script>" not in page
    assert "style=" not in page
    filtered = client.get(
        reverse("referrals:directory"), {"state": "OR", "service": "legal", "language": ""}
    ).content.decode()
    assert "Cascade Legal Aid" in filtered
    assert "Marlow County Safe House" not in filtered
    none = client.get(reverse("referrals:directory"), {"text": "no such provider"})
    assert "No provider matches" in none.content.decode()
    bad = client.get(reverse("referrals:directory"), {"state": "ZZ"})
    assert bad.status_code == 200
    assert "Import local providers" not in page  # investigators do not import


def test_directory_needs_sign_in(db: None) -> None:
    response = Client().get(reverse("referrals:directory"))
    assert response.status_code == 302
    assert reverse("accounts:signin") in response["Location"]


def test_provider_page(national: list[Provider], shelter: Provider, teammate: User) -> None:
    client = signed_in(Client(), teammate)
    hotline = next(p for p in national if p.key == "nhth")
    page = client.get(reverse("referrals:provider", args=[hotline.pk])).content.decode()
    assert "<title>National Human Trafficking Hotline" in page
    assert 'href="tel:+18883737888"' in page
    assert hotline.source in page
    shelter.active = False
    shelter.save()
    gone = client.get(reverse("referrals:provider", args=[shelter.pk])).content.decode()
    assert "no longer listed" in gone
    assert client.get(reverse("referrals:provider", args=[uuid.uuid4()])).status_code == 404
