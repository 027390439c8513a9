"""A small but real OpenID Provider on 127.0.0.1 for the test suite.

Discovery, JWKS, authorize (a login page, or auto-approval), token (PKCE S256,
private_key_jwt client assertions, one-time codes), userinfo, and back-channel
logout tokens. Tests make it misbehave on purpose through ``misbehave``.
It is built on joserfc (the JOSE library under authlib) and werkzeug.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey, RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# What the provider can be told to do wrong, one at a time or together.
MISBEHAVIOURS = frozenset({
    "forged_signature", "wrong_audience", "expired", "nonce_mismatch", "wrong_issuer",
    "alg_none", "alg_hs256", "replay_id_token", "no_email", "not_yet_valid",
    "redirect_userinfo",
})  # fmt: skip


@dataclass
class OPUser:
    sub: str
    email: str
    name: str
    email_verified: bool = True
    amr: list[str] = field(default_factory=lambda: ["pwd", "mfa"])
    acr: str = "urn:example:aal2"
    extra: dict[str, Any] = field(default_factory=dict)
    # Login.gov sends email only from userinfo; the test provider does the same.
    email_in_id_token: bool = False


@dataclass
class Client:
    client_id: str
    redirect_uris: list[str]
    jwks: dict[str, Any] | None = None
    jwks_uri: str = ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode()).digest())


@cache
def _made_keys() -> tuple[RSAKey, RSAKey]:
    """Keys are slow to make: every provider of a test run shares these two."""
    made = (RSAKey.generate_key(2048, private=True), RSAKey.generate_key(2048, private=True))
    for key in made:
        key.ensure_kid()
    return made


class LoopbackOP:
    def __init__(self) -> None:
        self.key, self.attacker_key = _made_keys()
        self.old_keys: list[RSAKey] = []
        self.users: dict[str, OPUser] = {}
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, str] = {}
        self.seen_assertions: set[str] = set()
        self.misbehave: set[str] = set()
        # Sign in as this user without showing the login page (service tests).
        self.auto_user: str | None = None
        self.issued_id_tokens: list[str] = []
        self.token_errors: list[str] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle and set-up -------------------------------------------------------

    def start(self) -> LoopbackOP:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_user(self, user: OPUser) -> OPUser:
        self.users[user.sub] = user
        return user

    def register(self, client: Client) -> Client:
        self.clients[client.client_id] = client
        return client

    def rotate_key(self) -> None:
        """A new signing key; the old one stays published (as providers do)."""
        self.old_keys.append(self.key)
        self.key = RSAKey.generate_key(2048, private=True)
        self.key.ensure_kid()

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    # --- tokens ---------------------------------------------------------------------

    def _sign(self, claims: dict[str, Any]) -> str:
        if "alg_none" in self.misbehave:
            header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            return f"{header}.{_b64(json.dumps(claims).encode())}."
        if "alg_hs256" in self.misbehave:
            secret = OctKey.import_key(b"a shared secret nobody agreed on, 32+ bytes")
            return jwt.encode({"alg": "HS256", "kid": self.key.kid}, claims, secret)
        key = self.attacker_key if "forged_signature" in self.misbehave else self.key
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, key)

    def id_token(self, user: OPUser, client_id: str, nonce: str, access_token: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://wrong-issuer.example.invalid" if "wrong_issuer" in self.misbehave
            else self.issuer,
            "sub": user.sub,
            "aud": "someone-else" if "wrong_audience" in self.misbehave else client_id,
            "iat": now - 4000 if "expired" in self.misbehave else now,
            "exp": now - 3600 if "expired" in self.misbehave else now + 300,
            "nonce": "not-the-nonce-you-sent" if "nonce_mismatch" in self.misbehave else nonce,
            "auth_time": now,
            "acr": user.acr,
            "amr": user.amr,
            "sid": f"sid-{user.sub}",
            "at_hash": _b64(hashlib.sha256(access_token.encode()).digest()[:16]),
        }  # fmt: skip
        if "not_yet_valid" in self.misbehave:
            claims["nbf"] = now + 3600
        if user.email_in_id_token:
            claims.update({"email": user.email, "email_verified": user.email_verified})
        if "replay_id_token" in self.misbehave and self.issued_id_tokens:
            return self.issued_id_tokens[-1]
        token = self._sign(claims)
        self.issued_id_tokens.append(token)
        return token

    def logout_token(self, client_id: str, sub: str | None, **overrides: Any) -> str:
        """A Back-Channel Logout token; an override of None leaves that claim out."""
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": client_id, "iat": int(time.time()),
            "jti": secrets.token_urlsafe(16), "events": {BACKCHANNEL_EVENT: {}},
        }  # fmt: skip
        if sub is not None:
            claims["sub"] = sub
        claims.update(overrides)
        for name, value in overrides.items():
            if value is None:
                del claims[name]
        return self._sign(claims)

    def disable_user(self, sub: str, client_id: str, backchannel_uri: str) -> int:
        """The provider disables the account and tells the relying party at once."""
        self.users.pop(sub, None)
        token = self.logout_token(client_id, sub)
        response = requests.post(backchannel_uri, data={"logout_token": token}, timeout=10)
        return response.status_code

    # --- the HTTP endpoints -----------------------------------------------------------

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        routes = {
            "/.well-known/openid-configuration": self._discovery,
            "/jwks": self._jwks,
            "/authorize": self._authorize,
            "/token": self._token,
            "/userinfo": self._userinfo,
        }
        if request.path == "/userinfo" and "redirect_userinfo" in self.misbehave:
            # A provider (or someone between) sending the access token elsewhere.
            return Response(status=302, headers={"Location": "http://evil.example.invalid/"})(
                environ, start_response
            )
        handler = routes.get(request.path)
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    def _json(self, data: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(data), status=status, mimetype="application/json")

    def _discovery(self, request: Request) -> Response:
        return self._json({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": self.token_endpoint,
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "code_challenge_methods_supported": ["S256"],
            "backchannel_logout_supported": True,
        })  # fmt: skip

    def _jwks(self, request: Request) -> Response:
        keys = [k.as_dict(private=False) | {"use": "sig", "alg": "RS256"}
                for k in [self.key, *self.old_keys]]  # fmt: skip
        return self._json({"keys": keys})

    def _authorize(self, request: Request) -> Response:
        params = request.values
        client = self.clients.get(params.get("client_id", ""))
        if client is None or params.get("redirect_uri") not in client.redirect_uris:
            return Response("unknown client or redirect URI", status=400)
        if params.get("response_type") != "code" or params.get("code_challenge_method") != "S256":
            return Response("code flow with PKCE S256 only", status=400)
        if not params.get("code_challenge") or not params.get("state") or not params.get("nonce"):
            return Response("code_challenge, state and nonce are required", status=400)
        chosen = self.auto_user if request.method == "GET" else params.get("user")
        redirect_uri = params["redirect_uri"]
        if request.method == "POST" and params.get("cancel"):
            query = urlencode({"error": "access_denied", "state": params["state"]})
            return Response(status=302, headers={"Location": f"{redirect_uri}?{query}"})
        if chosen is None:
            return self._login_page(params)
        if chosen not in self.users:
            return Response("unknown user", status=400)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.codes[code] = {
                "client_id": client.client_id, "redirect_uri": redirect_uri, "sub": chosen,
                "nonce": params["nonce"], "challenge": params["code_challenge"],
                "acr_values": params.get("acr_values", ""), "used": False,
            }  # fmt: skip
        query = urlencode({"code": code, "state": params["state"]})
        return Response(status=302, headers={"Location": f"{redirect_uri}?{query}"})

    def _login_page(self, params: Any) -> Response:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        options = "".join(
            f'<button type="submit" name="user" value="{html.escape(u.sub)}">'
            f"Continue as {html.escape(u.name)}</button>"
            for u in self.users.values()
        )
        page = (
            '<!doctype html><html lang="en"><head><title>Test identity provider</title></head>'
            "<body><main><h1>Test identity provider</h1>"
            f'<form method="post" action="/authorize">{hidden}{options}'
            '<button type="submit" name="cancel" value="1">Cancel</button></form>'
            "</main></body></html>"
        )
        return Response(page, mimetype="text/html")

    def _token_error(self, error: str, description: str) -> Response:
        self.token_errors.append(description)
        return self._json({"error": error, "error_description": description}, status=400)

    def _client_keys(self, client: Client) -> KeySet:
        data = client.jwks
        if data is None:
            data = requests.get(client.jwks_uri, timeout=10).json()
        return KeySet.import_key_set(data)  # type: ignore[arg-type]

    def _token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "authorization_code":
            return self._token_error("unsupported_grant_type", "authorization_code only")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return self._token_error("invalid_client", "private_key_jwt required")
        assertion = form.get("client_assertion", "")
        try:
            unverified = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))
            client = self.clients[unverified["iss"]]
            claims = jwt.decode(assertion, self._client_keys(client), algorithms=["RS256"]).claims
        except (KeyError, ValueError, IndexError, JoseError):
            return self._token_error("invalid_client", "client assertion not verified")
        now = time.time()
        if (
            claims.get("sub") != client.client_id
            or claims.get("aud") != self.token_endpoint
            or not isinstance(claims.get("exp"), int) or claims["exp"] < now
            or claims.get("jti") in self.seen_assertions
        ):  # fmt: skip
            return self._token_error("invalid_client", "client assertion claims refused")
        self.seen_assertions.add(str(claims["jti"]))
        with self._lock:
            grant = self.codes.get(form.get("code", ""))
            if grant is None or grant["used"]:
                return self._token_error("invalid_grant", "unknown or used code")
            grant["used"] = True
        if grant["client_id"] != client.client_id or grant["redirect_uri"] != form.get(
            "redirect_uri"
        ):
            return self._token_error("invalid_grant", "code issued to another client")
        if _s256(form.get("code_verifier", "")) != grant["challenge"]:
            return self._token_error("invalid_grant", "PKCE verifier does not match")
        user = self.users.get(grant["sub"])
        if user is None:
            return self._token_error("invalid_grant", "user disabled")
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = user.sub
        return self._json({
            "access_token": access_token, "token_type": "Bearer", "expires_in": 300,
            "id_token": self.id_token(user, client.client_id, grant["nonce"], access_token),
        })  # fmt: skip

    def _userinfo(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        sub = self.access_tokens.get(header.removeprefix("Bearer ").strip())
        user = self.users.get(sub or "")
        if user is None:
            return self._json({"error": "invalid_token"}, status=401)
        data: dict[str, Any] = {"sub": user.sub, "name": user.name, **user.extra}
        if "no_email" not in self.misbehave:
            data.update({"email": user.email, "email_verified": user.email_verified})
        return self._json(data)


def redirect_target(location: str) -> str:
    """The path and query of an absolute redirect back to cpnav (for the test client)."""
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
