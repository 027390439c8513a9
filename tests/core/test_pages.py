from __future__ import annotations

import pytest
from django.db import DatabaseError, connection
from django.test import Client
from django.urls import reverse

from cpnav.accounts.models import User
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db

PUBLIC = ["core:home", "core:accessibility", "core:privacy", "core:disclosure", "accounts:notice"]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_pages_render_with_footer_contacts(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b'href="tel:+18883737888"' in response.content
    assert b'href="tel:+18333831465"' in response.content
    assert b'class="usa-skipnav"' in response.content


def test_security_headers(client: Client) -> None:
    response = client.get(reverse("core:home"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_security_txt(client: Client) -> None:
    response = client.get("/.well-known/security.txt")
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/plain")
    for field in ("Contact:", "Expires:", "Policy:", "Canonical:"):
        assert field in text


def test_healthz(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}

    def broken(*args: object, **kwargs: object) -> None:
        raise DatabaseError("down")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_demo_banner_only_in_demo_mode(client: Client, settings: object) -> None:
    settings.DEMO_MODE = True  # type: ignore[attr-defined]
    assert b"Demo mode." in client.get("/").content
    settings.DEMO_MODE = False  # type: ignore[attr-defined]
    assert b"Demo mode." not in client.get("/").content


def test_navigation_follows_roles(client: Client, owner: User, teammate: User) -> None:
    signed_in(client, teammate)
    page = client.get("/").content
    assert b"Agency A County Sheriff" in page
    assert reverse("accounts:agencies").encode() not in page
    signed_in(client, owner)
    assert reverse("accounts:agencies").encode() in client.get("/").content


def test_spanish_is_available(client: Client) -> None:
    response = client.post(reverse("set_language"), {"language": "es", "next": "/"}, follow=True)
    assert b'lang="es"' in response.content
    assert "Línea Nacional".encode() in response.content


def test_unknown_page_is_a_friendly_404(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
