"""Shared fixtures: agencies of each kind and the three personas.

owner    - administrator of agency A
teammate - investigator at agency A
outsider - administrator of agency B (another county)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from cpnav.accounts.middleware import LAST_SEEN, SIGNED_IN_AT
from cpnav.accounts.models import Agency, Level, Membership, Role, User
from cpnav.core.ratelimit import forget_held
from cpnav.guide.search import forget_checked

# The route fixture (a case on its way to CCHT, with every persona) is shared.
pytest_plugins = ["tests.route", "tests.mailserver"]

PASSWORD = "a long synthetic passphrase for tests"


@pytest.fixture
def agency_a(db: None) -> Agency:
    return Agency.objects.create(name="Agency A County Sheriff", level=Level.LOCAL, state="OH")


@pytest.fixture
def agency_b(db: None) -> Agency:
    return Agency.objects.create(name="Agency B City Police", level=Level.LOCAL, state="OR")


@pytest.fixture
def federal_office(db: None) -> Agency:
    return Agency.objects.create(name="HSI Test Field Office", level=Level.FEDERAL, state="TX")


@pytest.fixture
def ccht(db: None) -> Agency:
    return Agency.objects.create(name="CCHT", level=Level.FEDERAL, state="DC", is_ccht=True)


MakeUser = Callable[..., User]


@pytest.fixture
def make_user(db: None) -> MakeUser:
    def make(
        email: str,
        agency: Agency | None = None,
        roles: tuple[str, ...] = (),
        *,
        totp: bool = True,
        **extra: object,
    ) -> User:
        user = User.objects.create_user(email, PASSWORD, full_name=email.split("@")[0], **extra)
        for role in roles:
            assert agency is not None
            Membership.objects.create(user=user, agency=agency, role=role)
        if totp:
            TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        return user

    return make


@pytest.fixture
def owner(make_user: MakeUser, agency_a: Agency) -> User:
    return make_user("owner@a.example", agency_a, (Role.AGENCY_ADMIN,))


@pytest.fixture
def teammate(make_user: MakeUser, agency_a: Agency) -> User:
    return make_user("teammate@a.example", agency_a, (Role.INVESTIGATOR,))


@pytest.fixture
def outsider(make_user: MakeUser, agency_b: Agency) -> User:
    return make_user("outsider@b.example", agency_b, (Role.AGENCY_ADMIN,))


def totp_code(user: User, offset_steps: int = 0) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


def signed_in(client: Client, user: User) -> Client:
    """A client signed in as the user, with the session clocks started."""
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session[SIGNED_IN_AT] = time.time()
    session[LAST_SEEN] = time.time()
    session.save()
    return client


@pytest.fixture(autouse=True)
def _unwritten_rate_counts() -> None:
    """Each test counts rate limits from nothing: the database it counted in is gone."""
    forget_held()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """A page read in Spanish leaves its language active in the thread (LocaleMiddleware
    activates and never deactivates): each test starts in the default language."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _unchecked_search_index() -> None:
    """Each test's database has its own guide index (or none yet)."""
    forget_checked()
