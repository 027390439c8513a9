"""Engagement personas: a CCHT coordinator, a requester at agency A, an outsider at agency B.

The public has no user: services take None for them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from pytest_django import DjangoCaptureOnCommitCallbacks

from cpnav.accounts.models import Agency, Role, User
from tests.conftest import MakeUser


@pytest.fixture
def coordinator(make_user: MakeUser, ccht: Agency) -> User:
    return make_user("coordinator@ccht.example", ccht, (Role.ENGAGEMENT_COORDINATOR,))


@pytest.fixture
def requester(make_user: MakeUser, agency_a: Agency) -> User:
    return make_user("requester@a.example", agency_a, (Role.INVESTIGATOR,))


@pytest.fixture
def outsider(make_user: MakeUser, agency_b: Agency) -> User:
    """Overrides the shared outsider: here an investigator (not an administrator) at agency B."""
    return make_user("outsider@b.example", agency_b, (Role.INVESTIGATOR,))


Sending = Callable[[], AbstractContextManager[list[Callable[[], Any]]]]


@pytest.fixture
def sending(django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> Sending:
    """`with sending():` runs the mail queued for after the commit, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
