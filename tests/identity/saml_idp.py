"""A real SAML 2.0 identity provider for the tests: pysaml2's ``Server`` behind an HTTP
server on loopback, in a thread.

It serves on 127.0.0.1 while the live server serves on localhost, so the browser's
POST to cpnav's ACS really is cross-site (no SameSite=Lax cookie goes with it).
Knobs make it misbehave the ways an attacker or a broken provider would.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.utils import CryptographyDeprecationWarning

from cpnav.identity.saml import new_key_and_certificate

with warnings.catch_warnings():
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    from saml2 import BINDING_HTTP_REDIRECT, samlp
    from saml2.config import IdPConfig
    from saml2.metadata import entity_descriptor
    from saml2.s_utils import sid
    from saml2.saml import (
        NAME_FORMAT_URI,
        NAMEID_FORMAT_PERSISTENT,
        NAMEID_FORMAT_TRANSIENT,
        NameID,
    )
    from saml2.server import Server
    from saml2.sigver import pre_signature_part, signed_instance_factory
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

SINGLE_FACTOR_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
MFA_CONTEXT = "https://refeds.org/profile/mfa"


@cache
def cached_keys(name: str) -> tuple[str, str]:
    """A key and certificate per name, made once per test run (RSA key generation is
    the slow part of starting a provider)."""
    return new_key_and_certificate(name)


@dataclass(frozen=True)
class Person:
    """Someone the provider knows; attributes are sent with GFIPM names."""

    username: str
    email: str
    full_name: str
    ori: str = ""
    employer: str = ""
    sworn: str = "true"

    def attributes(self) -> dict[str, list[str]]:
        found = {
            "gfipm:2.0:user:EmailAddressText": [self.email],
            "gfipm:2.0:user:FullName": [self.full_name],
            "gfipm:2.0:user:EmployerORI": [self.ori],
            "gfipm:2.0:user:EmployerName": [self.employer],
            "gfipm:2.0:user:SwornLawEnforcementOfficerIndicator": [self.sworn],
        }
        return {name: values for name, values in found.items() if values[0]}


@dataclass(frozen=True)
class Knobs:
    forged: bool = False  # signed with a key the metadata does not hold
    unsigned_assertion: bool = False  # the Response signed, the Assertion not
    sign_response: bool = True
    wrong_audience: bool = False
    wrong_recipient: bool = False
    wrong_issuer: bool = False
    expired: bool = False
    no_in_response_to: bool = False
    transient: bool = False  # a transient NameID instead of a persistent one
    mfa: bool = False  # AuthnContextClassRef says multi-factor
    in_response_to: str | None = None  # answer another request than the one asked


@dataclass
class IdP:
    """Start with ``running()``; give cpnav ``metadata`` and ``trust()`` cpnav's."""

    base_url: str = ""
    people: dict[str, Person] = field(default_factory=dict)
    knobs: Knobs = field(default_factory=Knobs)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="test-idp-")))
    sp_metadata: str = ""
    posted: list[str] = field(default_factory=list)  # every SAMLResponse the page posted

    def __post_init__(self) -> None:
        key, cert = cached_keys("test identity provider")
        forged_key, forged_cert = cached_keys("someone else")
        for name, text in {
            "idp.key": key, "idp.crt": cert, "forged.key": forged_key, "forged.crt": forged_cert,
        }.items():  # fmt: skip
            (self.folder / name).write_text(text)

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/metadata"

    def _config(self, *, forged: bool = False) -> IdPConfig:
        prefix = "forged" if forged else "idp"
        conf: dict[str, Any] = {
            "entityid": self.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1") or "/usr/bin/xmlsec1",
            "key_file": str(self.folder / f"{prefix}.key"),
            "cert_file": str(self.folder / f"{prefix}.crt"),
            "metadata": {"inline": [self.sp_metadata]} if self.sp_metadata else {},
            "delete_tmpfiles": True,
            "service": {
                "idp": {
                    "name": "Test identity provider",
                    "endpoints": {
                        "single_sign_on_service": [(f"{self.base_url}/sso", BINDING_HTTP_REDIRECT)],
                        "single_logout_service": [(f"{self.base_url}/slo", BINDING_HTTP_REDIRECT)],
                    },
                    "want_authn_requests_signed": True,
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "attribute_restrictions": None,
                            "name_form": NAME_FORMAT_URI,
                        }
                    },
                }
            },
        }
        config = IdPConfig()
        config.load(conf)
        return config

    def server(self, *, forged: bool = False) -> Server:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return Server(config=self._config(forged=forged))

    @property
    def metadata(self) -> str:
        """What an administrator pastes into cpnav."""
        return str(entity_descriptor(self._config()).to_string().decode())

    def trust(self, sp_metadata: str) -> None:
        self.sp_metadata = sp_metadata

    # --- The protocol --------------------------------------------------------------

    def read_request(self, location: str) -> Any:
        """Check a signed HTTP-Redirect AuthnRequest (as a real provider would)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        parsed = self.server().parse_authn_request(
            query["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=query.get("RelayState"),
            sigalg=query.get("SigAlg"),
            signature=query.get("Signature"),
        )
        return parsed.message

    def respond(self, location: str, username: str, knobs: Knobs | None = None) -> tuple[str, str]:
        """(ACS address, SAMLResponse) answering the AuthnRequest at ``location``."""
        knobs = knobs or self.knobs
        asked = self.read_request(location)
        person = self.people[username]
        acs = asked.assertion_consumer_service_url
        server = self.server(forged=knobs.forged)
        sp_entity_id = asked.issuer.text.strip()
        built = server.create_authn_response(
            person.attributes(),
            in_response_to=asked.id,
            destination=acs,
            sp_entity_id=sp_entity_id,
            name_id=NameID(
                format=NAMEID_FORMAT_TRANSIENT if knobs.transient else NAMEID_FORMAT_PERSISTENT,
                text=f"persistent-{person.username}",
            ),
            authn={
                "class_ref": MFA_CONTEXT if knobs.mfa else SINGLE_FACTOR_CONTEXT,
                "authn_auth": self.entity_id,
            },
            sign_assertion=False,
            sign_response=False,
        )
        response = samlp.response_from_string(str(built))
        assertion = response.assertion[0]
        confirmation = assertion.subject.subject_confirmation[0].subject_confirmation_data
        if knobs.wrong_audience:
            assertion.conditions.audience_restriction[0].audience[
                0
            ].text = "https://other-service.example.org/metadata"
        if knobs.wrong_recipient:
            confirmation.recipient = "https://other-service.example.org/acs"
            response.destination = None
        if knobs.wrong_issuer:
            response.issuer.text = "https://other-idp.example.org/metadata"
            assertion.issuer.text = "https://other-idp.example.org/metadata"
        if knobs.expired:
            past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            assertion.conditions.not_on_or_after = past
            assertion.conditions.not_before = long_ago
            confirmation.not_on_or_after = past
        if knobs.no_in_response_to:
            response.in_response_to = None
            confirmation.in_response_to = None
        if knobs.in_response_to is not None:
            response.in_response_to = knobs.in_response_to
            confirmation.in_response_to = knobs.in_response_to
        return acs, self._sign(server, response, knobs)

    def _sign(self, server: Server, response: Any, knobs: Knobs) -> str:
        cert = (self.folder / ("forged.crt" if knobs.forged else "idp.crt")).read_text()
        body = "".join(line for line in cert.splitlines() if "-----" not in line)
        to_sign = []
        assertion = response.assertion[0]
        if not knobs.unsigned_assertion:
            assertion.signature = pre_signature_part(
                assertion.id, body, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256
            )
            to_sign.append(("urn:oasis:names:tc:SAML:2.0:assertion:Assertion", assertion.id))
        if knobs.sign_response or knobs.unsigned_assertion:
            response.signature = pre_signature_part(
                response.id, body, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256
            )
            to_sign.append(("urn:oasis:names:tc:SAML:2.0:protocol:Response", response.id))
        signed = signed_instance_factory(response, server.sec, to_sign)
        return base64.b64encode(str(signed).encode()).decode()

    def logout_request(self, slo_url: str, name_id: str, *, forged: bool = False) -> str:
        """A signed HTTP-Redirect LogoutRequest to cpnav's SLO address."""
        server = self.server(forged=forged)
        _request_id, request = server.create_logout_request(
            destination=slo_url,
            issuer_entity_id=self.entity_id,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=name_id),
            message_id=sid(),
            expire=(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        )
        info = server.apply_binding(
            BINDING_HTTP_REDIRECT, str(request), slo_url, relay_state="",
            sign=True, sigalg=SIG_RSA_SHA256,
        )  # fmt: skip
        return str(dict(info["headers"])["Location"])

    # --- The web pages (for the browser) -------------------------------------------

    def login_page(self, location: str) -> str:
        """A user picker: choosing a person signs them in at once."""
        options = "".join(
            f'<li><button name="username" value="{html.escape(u)}">{html.escape(p.full_name)}'
            "</button></li>"
            for u, p in self.people.items()
        )
        return (
            '<!doctype html><html lang="en"><head><title>Test identity provider</title></head>'
            "<body><main><h1>Test identity provider</h1>"
            f'<form method="post" action="/login"><input type="hidden" name="request" '
            f'value="{html.escape(location)}"><ul>{options}</ul></form></main></body></html>'
        )

    def post_page(self, acs: str, saml_response: str) -> str:
        """The usual auto-posting form (the provider's page, so its own inline script)."""
        self.posted.append(saml_response)
        return (
            '<!doctype html><html lang="en"><head><title>Signing in</title></head><body>'
            f'<form id="post" method="post" action="{html.escape(acs)}">'
            f'<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">'
            '<button type="submit">Continue</button></form>'
            "<script>document.getElementById('post').submit();</script></body></html>"
        )


def _handler(idp: IdP) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: str, content_type: str = "text/html") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/metadata":
                self._send(200, idp.metadata, "application/samlmetadata+xml")
            elif path == "/sso":
                try:
                    idp.read_request(self.path)
                except Exception as exc:  # a test IdP reports what it refused
                    self._send(400, f"refused AuthnRequest: {html.escape(str(exc))}")
                    return
                self._send(200, idp.login_page(self.path))
            elif path == "/slo":
                self._send(200, "<!doctype html><title>Signed out</title><p>Signed out.</p>")
            else:
                self._send(404, "not found")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path != "/login" or form.get("username") not in idp.people:
                self._send(400, "bad request")
                return
            acs, response = idp.respond(form["request"], form["username"])
            self._send(200, idp.post_page(acs, response))

    return Handler


@contextmanager
def running(host: str = "127.0.0.1", **people: Person) -> Iterator[IdP]:
    server = ThreadingHTTPServer((host, 0), BaseHTTPRequestHandler)
    idp = IdP(base_url=f"http://{host}:{server.server_address[1]}", people=dict(people))
    server.RequestHandlerClass = _handler(idp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        shutil.rmtree(idp.folder, ignore_errors=True)


def with_knobs(idp: IdP, **changes: Any) -> Knobs:
    idp.knobs = replace(idp.knobs, **changes)
    return idp.knobs


def redirect_query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


__all__ = ["MFA_CONTEXT", "IdP", "Knobs", "Person", "redirect_query", "running", "with_knobs"]
