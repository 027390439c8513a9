"""Headers and sessions as a deployment serves them (issue 11, part 7).

tests/core/test_pages.py checks three parts of the home page's policy and
tests/core/test_settings.py that `check --deploy` passes under production
settings. Here: every page, error page and API answer carries the whole strict
policy; no page or template runs inline code; production turns on HSTS,
HTTPS-only `__Host-` cookies and the redirect, and shows no debug page; the
served headers name no version (tests/browser/test_csp.py: Chromium, enforcing
the real policy, reports no violation).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.urls.resolvers import RegexPattern

from cpnav.accounts.models import User
from tests.conftest import signed_in

ROOT = Path(__file__).resolve().parents[2]

POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "font-src": {"'self'"},
    "connect-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
# Headers that would name the server software or the framework.
REVEALING = ("Server", "X-Powered-By", "X-AspNet-Version", "X-Runtime", "Via")


def csp(response: HttpResponseBase) -> dict[str, set[str]]:
    directives = (part.split() for part in response["Content-Security-Policy"].split(";"))
    return {words[0]: set(words[1:]) for words in directives if words}


class InlineCode(HTMLParser):
    """Collects what a strict policy blocks: inline scripts and styles, handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not (names.get("src") or "").startswith("/static/"):
            self.found.append(f"<script> without a /static/ src: {names}")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=...>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def plain_paths() -> list[str]:
    """Every URL the project answers that needs no argument (admin and API included)."""
    found: list[str] = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for entry in patterns:
            route = str(entry.pattern)
            if isinstance(entry.pattern, RegexPattern):
                route = route.removeprefix("^").removesuffix("$")
                if re.search(r"[()\[\]?*+\\]", route):
                    continue
            elif "<" in route:
                continue
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + route)
            else:
                found.append("/" + prefix + route)

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


def assert_hardened(response: HttpResponseBase, where: str) -> None:
    assert csp(response) == POLICY, where
    assert response["X-Frame-Options"] == "DENY", where
    assert response["X-Content-Type-Options"] == "nosniff", where
    assert not [h for h in REVEALING if response.has_header(h)], where


@pytest.mark.django_db
def test_every_page_has_the_strict_policy_and_no_inline_code(client: Client, owner: User) -> None:
    paths = plain_paths()
    assert {"/", "/accounts/signin/", "/admin/login/", "/guide/"} <= set(paths)
    checked = 0
    for who, browser in (("anonymous", Client()), ("signed in", signed_in(client, owner))):
        for url in [*paths, "/no-such-page/", "/guide/en/victim-sheet/"]:
            response = browser.get(url)
            where = f"{who} GET {url} -> {response.status_code}"
            if url.startswith("/api/"):
                # JSON, from the API's own stack: no page policy, but never framed or sniffed.
                assert response["X-Frame-Options"] == "DENY", where
                assert response["X-Content-Type-Options"] == "nosniff", where
                continue
            assert_hardened(response, where)
            if not response.streaming and response["Content-Type"].startswith("text/html"):
                assert inline_code(response.content.decode()) == [], where
                checked += 1
    assert checked > 40


TEMPLATE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
TEMPLATE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=|javascript:", re.IGNORECASE)
TEMPLATE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
# Rendered for mail clients and WeasyPrint, never served to a browser under the policy.
NOT_SERVED = ("/email/", "documents/package.html")


def test_no_template_holds_inline_code() -> None:
    templates = sorted((ROOT / "cpnav").glob("**/templates/**/*.html"))
    assert len(templates) > 50
    problems = []
    for template in templates:
        text = template.read_text()
        name = str(template.relative_to(ROOT))
        served = not any(part in name for part in NOT_SERVED)
        if TEMPLATE_SCRIPT.search(text) or TEMPLATE_HANDLER.search(text):
            problems.append(name)
        if served and TEMPLATE_STYLE.search(text):
            problems.append(name)
    assert problems == []


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("internal detail sentinel-4f1c")


urlpatterns = [path("boom/", boom)]
handler500 = "cpnav.core.views.server_error"


@pytest.mark.django_db
def test_errors_show_the_generic_pages_never_debug_ones(settings: Any) -> None:
    assert settings.DEBUG is False
    settings.ROOT_URLCONF = __name__
    browser = Client(raise_request_exception=False)
    failed = browser.get("/boom/")
    missing = browser.get("/nowhere/")
    for response, status in ((failed, 500), (missing, 404)):
        body = response.content.decode()
        assert response.status_code == status
        assert_hardened(response, str(status))
        for debug_text in ("sentinel-4f1c", "Traceback", "DEBUG = True", "URLconf", "settings"):
            assert debug_text not in body


def production(var_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """Import the settings as a production deployment would, in a fresh interpreter."""
    key = base64.b64encode(b"synthetic-key-".ljust(32, b"k")).decode()  # a fixture, no secret
    signing = "production-test-" + "s" * 40  # 56 characters, as production requires
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPNAV_", "DATABASE_URL"))}
    env.update(
        CPNAV_PRODUCTION="true",
        SECRET_KEY=signing,
        ALLOWED_HOSTS="cpnav.example.gov",
        CPNAV_BASE_URL="https://cpnav.example.gov",
        CPNAV_FIELD_KEYS=f"k1:{key}",
        CPNAV_INDEX_KEY=key,
        **extra,
    )
    names = [
        "DEBUG", "DEBUG_PROPAGATE_EXCEPTIONS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_NAME",
        "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_SAMESITE", "CSRF_COOKIE_NAME",
        "LANGUAGE_COOKIE_NAME", "LANGUAGE_COOKIE_SECURE", "LANGUAGE_COOKIE_HTTPONLY",
        "LANGUAGE_COOKIE_SAMESITE", "MESSAGE_STORAGE", "X_FRAME_OPTIONS",
    ]  # fmt: skip
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "cpnav.settings", "CPNAV_VAR_DIR": str(var_dir)},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def production_settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = production(tmp_path_factory.mktemp("production"))
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = json.loads(result.stdout)
    return values


def test_production_settings_harden_transport_and_cookies(
    production_settings: dict[str, Any],
) -> None:
    assert production_settings == {
        "DEBUG": False,
        "DEBUG_PROPAGATE_EXCEPTIONS": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        # __Host-: only over HTTPS, for this host alone, on every path.
        "SESSION_COOKIE_NAME": "__Host-cpnav_session",
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_NAME": "__Host-cpnav_csrf",
        "LANGUAGE_COOKIE_NAME": "__Host-cpnav_language",
        "LANGUAGE_COOKIE_SECURE": True,
        "LANGUAGE_COOKIE_HTTPONLY": True,
        "LANGUAGE_COOKIE_SAMESITE": "Lax",
        # Messages in the session: no cookie of their own to read or replay.
        "MESSAGE_STORAGE": "django.contrib.messages.storage.session.SessionStorage",
        "X_FRAME_OPTIONS": "DENY",
    }


def test_hsts_is_an_option_and_debug_is_refused_in_production(tmp_path: Path) -> None:
    shorter = production(tmp_path, CPNAV_HSTS_SECONDS="600", CPNAV_HSTS_PRELOAD="false")
    assert shorter.returncode == 0, shorter.stderr
    values = json.loads(shorter.stdout)
    assert (values["SECURE_HSTS_SECONDS"], values["SECURE_HSTS_PRELOAD"]) == (600, False)
    debug = production(tmp_path, CPNAV_DEBUG="true")
    assert debug.returncode != 0
    assert "CPNAV_DEBUG: must be false when CPNAV_PRODUCTION is true" in debug.stderr


@pytest.mark.django_db
def test_production_headers_and_cookies_on_the_wire(
    settings: Any, production_settings: dict[str, Any]
) -> None:
    for name, value in production_settings.items():
        setattr(settings, name, value)
    browser = Client()
    plain = browser.get("/accounts/notice/")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/accounts/notice/"

    page = browser.get("/accounts/notice/", secure=True)  # a form: sets the CSRF cookie
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    agreed = browser.post("/accounts/notice/", secure=True)  # starts a session
    assert agreed.status_code == 302
    spanish = browser.post("/i18n/setlang/", {"language": "es", "next": "/"}, secure=True)
    assert spanish.status_code == 302
    cookies = {**page.cookies, **agreed.cookies, **spanish.cookies}
    assert set(cookies) == {"__Host-cpnav_csrf", "__Host-cpnav_session", "__Host-cpnav_language"}
    for cookie in cookies.values():
        assert cookie["secure"] is True, cookie.key
        assert cookie["httponly"] is True, cookie.key
        assert cookie["samesite"] == "Lax", cookie.key
        assert cookie["path"] == "/", cookie.key
        assert not cookie["domain"], cookie.key
    assert not cookies["__Host-cpnav_session"]["max-age"]  # ends with the browser


@pytest.mark.django_db
def test_api_answers_carry_a_policy_that_loads_and_frames_nothing(client: Client) -> None:
    for answer in [
        client.get("/api/v1/openapi.json"),
        client.get("/api/v1/cases/"),  # refused: no token
        client.get("/api/v1/no-such-thing/"),
    ]:
        policy = answer["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    """`cpnav serve` (gunicorn, as deployed) on a loopback port, stopped after the test."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPNAV_", "DATABASE_URL"))}
    env.update(CPNAV_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="cpnav.settings")
    server = subprocess.Popen(
        [sys.executable, "-m", "cpnav.cli", "serve", "--bind", f"127.0.0.1:{port}",
         "--workers", "1"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "cpnav serve did not start in 30 s"
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_served_headers_name_no_version(served: int) -> None:
    # gunicorn always writes "Server: gunicorn" (its version only goes into the WSGI
    # environ); behind the TLS proxy the proxy's own header replaces it.
    for url in ("/healthz", "/no-such-page/"):
        connection = http.client.HTTPConnection("127.0.0.1", served, timeout=20)
        connection.request("GET", url)
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
        assert response.getheader("Server") == "gunicorn", (url, response.status, body[:200])
        assert not [h for h in REVEALING[1:] if response.getheader(h)], url
        assert response.getheader("X-Frame-Options") == "DENY", url
        assert not re.search(r"gunicorn/\d|Django/\d|Python/\d|CPython", body), url
