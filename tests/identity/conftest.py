"""Fixtures: the loopback OpenID Provider, a provider row for agency A, and a driver
that follows a sign-in's redirects by hand between Django's test client and the OP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import pytest
import requests
from django.test import Client
from pytest_django.fixtures import Settings

from cpnav.accounts.models import Agency
from cpnav.identity import oidc
from cpnav.identity.models import IdentityProvider, ProviderKind, new_client_jwk
from tests.identity.oidc_provider import Client as OPClient
from tests.identity.oidc_provider import LoopbackOP, OPUser, redirect_target

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

CLIENT_ID = "cpnav-test-client"


@pytest.fixture(autouse=True)
def _loopback_providers(settings: Settings) -> None:
    settings.IDENTITY_ALLOW_HTTP_LOOPBACK = True


@pytest.fixture
def op() -> Iterator[LoopbackOP]:
    provider = LoopbackOP().start()
    yield provider
    provider.stop()


@cache
def client_jwk() -> str:
    """One client key for the run: making an RSA key per test is slow."""
    return new_client_jwk()


@pytest.fixture
def provider(op: LoopbackOP, agency_a: Agency) -> IdentityProvider:
    made = IdentityProvider.objects.create(
        slug="test-op", name="Test OP", kind=ProviderKind.OIDC, enabled=True,
        issuer=op.issuer, client_id=CLIENT_ID, client_private_jwk=client_jwk(),
    )  # fmt: skip
    made.agencies.add(agency_a)
    op.register(OPClient(CLIENT_ID, [oidc.redirect_uri(made)], jwks=made.public_jwks()))
    return made


@pytest.fixture
def op_user(op: LoopbackOP) -> OPUser:
    return op.add_user(OPUser("sub-dana", "dana@a.example", "Dana Example"))


@dataclass
class Flow:
    """One sign-in driven by hand: cpnav start -> OP authorize -> cpnav callback."""

    client: Client
    op: LoopbackOP
    slug: str = "test-op"

    def accept_notice(self) -> None:
        self.client.post("/accounts/notice/")

    def start(self, query: str = "") -> str:
        response = self.client.get(f"/identity/{self.slug}/start/{query}")
        assert response.status_code == 302, response.content[:500]
        return str(response["Location"])

    def authorize(self, url: str, user: str) -> str:
        """The OP's answer (auto-approved as ``user``): the callback's path and query."""
        self.op.auto_user = user
        answer = requests.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        return redirect_target(answer.headers["Location"])

    def callback(self, target: str) -> TestResponse:
        return self.client.get(target)

    def sign_in(self, user: str, query: str = "") -> TestResponse:
        return self.callback(self.authorize(self.start(query), user))


@pytest.fixture
def flow(op: LoopbackOP, provider: IdentityProvider) -> Flow:
    started = Flow(Client(), op)
    started.accept_notice()
    return started
