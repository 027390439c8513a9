"""Long lists are paged without counting every row."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from cpnav.accounts.models import Agency, Role
from cpnav.audit.models import AuditEvent
from cpnav.audit.services import record
from cpnav.core.paging import CappedPaginator
from tests.conftest import MakeUser, signed_in

pytestmark = pytest.mark.django_db


def test_counts_up_to_the_cap_and_says_so() -> None:
    for n in range(12):
        record("test.event", actor_label=f"synthetic {n}")
    events = AuditEvent.objects.order_by("-seq")
    exact = CappedPaginator(events, 5, cap=20)
    assert exact.count == 12
    assert not exact.capped
    assert exact.num_pages == 3
    capped = CappedPaginator(events, 5, cap=10)
    assert capped.count == 11
    assert capped.capped
    assert capped.cap_label == "10"
    # The last reachable page holds row cap + 1; asking beyond lands there.
    assert capped.num_pages == 3
    assert [e.actor_label for e in capped.get_page(99)] == ["synthetic 1"]


def test_pages_say_more_than_when_capped(
    monkeypatch: pytest.MonkeyPatch, client: Client, make_user: MakeUser, agency_a: Agency
) -> None:
    monkeypatch.setattr("cpnav.core.paging.COUNT_CAP", 3)
    monkeypatch.setattr(CappedPaginator.__init__, "__defaults__", (3,))
    monkeypatch.setattr("cpnav.audit.views.PAGE_SIZE", 2)
    auditor = make_user("auditor@a.example", agency_a, (Role.AUDITOR,))
    for n in range(6):
        record("case.viewed", actor_label=f"synthetic {n}", agency_id=agency_a.pk)
    body = signed_in(client, auditor).get(reverse("audit:log")).content.decode()
    assert "More than 3 events" in body
    assert "Page 1 of many" in body
