"""Typed readers for settings that come from the environment.

Each reader refuses a bad value at start-up with a message that names the
variable, so a typo in a deployment fails loudly instead of running with a
silently different policy.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str, environ: dict[str, str] | None = None) -> str | None:
    value = (environ if environ is not None else os.environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str = "", *, environ: dict[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, *, environ: dict[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}: expected true or false, got {value!r}")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}: must be at most {maximum}, got {number}")
    return number


def env_list(name: str, default: list[str], *, environ: dict[str, str] | None = None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(
    name: str, *, environ: dict[str, str] | None = None
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A comma-separated list of addresses or networks ("10.0.0.5, 10.1.0.0/16")."""
    networks = []
    for item in env_list(name, [], environ=environ):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network (like 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def socket_address(value: str) -> tuple[int, str | tuple[str, int]]:
    """``unix:/path`` or ``tcp:host:port`` -> (socket family, address); ValueError otherwise."""
    kind, _, rest = value.partition(":")
    if kind == "unix" and rest.startswith("/"):
        return socket.AF_UNIX, rest
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            return family, (host.strip("[]"), int(port))
    raise ValueError("expected unix:/path/to/socket or tcp:host:port")


def env_socket(name: str, *, environ: dict[str, str] | None = None) -> str:
    """An optional daemon address (see ``socket_address``); empty when unset."""
    value = env_str(name, environ=environ)
    if value:
        try:
            socket_address(value)
        except ValueError as error:
            raise ImproperlyConfigured(f"{name}: {error}, got {value!r}") from None
    return value


def env_choice(
    name: str, default: str, choices: tuple[str, ...], *, environ: dict[str, str] | None = None
) -> str:
    value = env_str(name, default, environ=environ)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def database_from_url(name: str, url: str, *, sqlite_cache_mb: int = 64) -> dict[str, Any]:
    """Turn ``sqlite:///relative/or//absolute/path`` or ``postgres://...`` into DATABASES.

    SQLite connections are kept (CONN_MAX_AGE) with a page cache of
    ``sqlite_cache_mb`` each: SQLite's own default (2 MB) and a connection per
    request re-read the same pages from the file on every request.
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise ImproperlyConfigured(f"{name}: sqlite URL needs a file path, got {url!r}")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {
                # IMMEDIATE takes the write lock when a transaction starts, so two
                # writers (the audit chain above all) never both read a stale head.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    f"PRAGMA cache_size=-{sqlite_cache_mb * 1024};"
                ),
            },
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    if parts.scheme in {"postgres", "postgresql"}:
        if not parts.path.strip("/"):
            raise ImproperlyConfigured(f"{name}: PostgreSQL URL needs a database name")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"{name}: the port in {url!r} is not a number") from None
        options = dict(parse_qsl(parts.query))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.strip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"{name}: unsupported scheme {parts.scheme!r}; use sqlite:///path or postgres://..."
    )


@dataclass(frozen=True)
class FieldKey:
    key_id: str
    key: bytes


def parse_field_keys(name: str, value: str) -> tuple[FieldKey, ...]:
    """Parse ``id1:base64key,id2:base64key``; the first key encrypts, all decrypt."""
    keys: list[FieldKey] = []
    for index, item in enumerate(part.strip() for part in value.split(",") if part.strip()):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id or not key_id.isalnum():
            raise ImproperlyConfigured(
                f"{name}: item {index + 1} must look like 'keyid:base64key' (alphanumeric id)"
            )
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"{name}: key {key_id!r} is not valid base64") from None
        if len(raw) != 32:
            raise ImproperlyConfigured(
                f"{name}: key {key_id!r} must be 32 bytes (AES-256), got {len(raw)}"
            )
        if any(existing.key_id == key_id for existing in keys):
            raise ImproperlyConfigured(f"{name}: key id {key_id!r} appears twice")
        keys.append(FieldKey(key_id, raw))
    if not keys:
        raise ImproperlyConfigured(f"{name}: no keys given")
    return tuple(keys)


def local_secret(path: Path, make: str = "token") -> str:
    """Read a secret kept in var/ for local use, creating it on first start."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    if make == "field_key":
        value = "local1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    else:
        value = secrets.token_urlsafe(50)
    # Written with owner-only permissions: these keys protect victims' data.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value
