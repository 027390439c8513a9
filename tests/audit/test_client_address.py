"""The client address written into audit events and counted by rate limits."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from cpnav.audit.services import client_ip
from cpnav.envconf import env_networks

PROXIES = (ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("2001:db8::1/128"))


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("192.0.2.7", "", "192.0.2.7"),
        # Not from a proxy: the header is the client's own words and is ignored.
        ("192.0.2.7", "198.51.100.9", "192.0.2.7"),
        # From our proxy: the address it saw.
        ("10.0.0.5", "198.51.100.9", "198.51.100.9"),
        # Two of our proxies in a row; what the client wrote further left is ignored.
        ("10.0.0.5", "203.0.113.1, 198.51.100.9, 10.0.0.6", "198.51.100.9"),
        ("2001:db8::1", "2001:db8:ffff::9", "2001:db8:ffff::9"),
        # Garbage where an address should be: no address rather than a wrong one.
        ("10.0.0.5", "<script>", ""),
        ("10.0.0.5", "", "10.0.0.5"),
        ("not an address", "", ""),
    ],
)
def test_forwarded_for_is_read_only_from_trusted_proxies(
    settings: Any, remote: str, forwarded: str, expected: str
) -> None:
    settings.TRUSTED_PROXIES = PROXIES
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_no_proxies_configured_means_the_header_is_never_read(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ()
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "10.0.0.5"


def test_trusted_proxies_setting_refuses_a_bad_entry() -> None:
    assert env_networks("P", environ={"P": "10.0.0.1, 10.1.0.0/16"}) == (
        ipaddress.ip_network("10.0.0.1/32"),
        ipaddress.ip_network("10.1.0.0/16"),
    )
    with pytest.raises(ImproperlyConfigured, match="P: 'ten' is not an IP address"):
        env_networks("P", environ={"P": "10.0.0.1,ten"})
