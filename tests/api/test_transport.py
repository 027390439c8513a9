"""Where the site is HTTPS-only, the API refuses plain HTTP instead of redirecting."""

from __future__ import annotations

from typing import Any

from django.test import Client


def test_plain_http_api_calls_are_refused_not_redirected(settings: Any, db: None) -> None:
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    refused = client.get("/api/v1/rules", HTTP_AUTHORIZATION="Bearer cpnav_sent_in_the_clear")
    assert refused.status_code == 403
    assert "Location" not in refused
    assert "only over HTTPS" in refused.json()["detail"]
    assert refused.json()["errors"] == []
    assert client.get("/api/v1/rules", secure=True).status_code == 200
    assert client.get("/guide/", follow=False).status_code == 301  # pages still redirect


def test_without_https_the_api_answers_plain_http(settings: Any, db: None) -> None:
    settings.SECURE_SSL_REDIRECT = False
    assert Client().get("/api/v1/rules").status_code == 200
