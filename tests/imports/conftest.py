from __future__ import annotations

import pytest
from django.http import HttpRequest
from django.test import RequestFactory

from cpnav.accounts.models import Agency, Role, User
from cpnav.cases.models import Case, Person
from tests.conftest import MakeUser


@pytest.fixture
def importer(make_user: MakeUser, agency_a: Agency) -> User:
    """An investigator at agency A: may create cases there, so may import there."""
    return make_user("importer@a.example", agency_a, (Role.INVESTIGATOR,))


@pytest.fixture
def investigator_b(make_user: MakeUser, agency_b: Agency) -> User:
    """An investigator at agency B only: an outsider to agency A."""
    return make_user("investigator@b.example", agency_b, (Role.INVESTIGATOR,))


@pytest.fixture
def existing_person(agency_a: Agency, teammate: User) -> Person:
    """Someone agency A recorded by hand before the import (teammate's case)."""
    case = Case.objects.create(agency=agency_a, case_number="OLD-1", lead_investigator=teammate)
    case.members.create(user=teammate)
    person = Person(
        case=case,
        full_name="Synthetic Person 1",
        date_of_birth="1990-01-02",
        a_number="A000000001",
    )
    person.refresh_indexes()
    person.save()
    return person


def http_as(rf: RequestFactory, user: User, path: str = "/imports/") -> HttpRequest:
    request = rf.post(path)
    request.user = user
    return request
