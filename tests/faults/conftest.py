"""Injecting faults at the database boundary, and photographing a request to compare after.

A fault is injected where the database would raise it: a statement wrapper on the
connection (``connection.execute_wrapper``) makes the chosen statement fail with
the error the driver would give, so every layer above it - transactions,
services, views - runs its real error path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client
from pytest_django.fixtures import Settings

from cpnav.audit.models import AuditEvent, ChainHead
from cpnav.audit.services import verify_chain
from cpnav.cases.models import CPRequest, Decision, RequestEvent

Executor = Callable[[str, Any, bool, dict[str, Any]], Any]


class FailOn:
    """Make statements containing ``fragment`` raise, as the driver would.

    Only statements whose parameters mention ``containing`` match (say, an audit action).
    The first ``skip`` matching statements run; the ``times`` after them fail.

    ``fragment`` is matched against the SQL text, e.g. ``INSERT INTO "cases_requestevent"``;
    Django quotes table names with double quotes on SQLite and on PostgreSQL alike.
    """

    def __init__(
        self,
        fragment: str,
        *,
        containing: str = "",
        skip: int = 0,
        times: int = 1,
        message: str = "disk I/O error (simulated)",
    ) -> None:
        self.fragment = fragment
        self.containing = containing
        self.skip = skip
        self.left = times
        self.message = message
        self.hits = 0

    def __call__(
        self, execute: Executor, sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        if self.left and self.fragment in sql and self.containing in str(params):
            if self.skip:
                self.skip -= 1
                return execute(sql, params, many, context)
            self.left -= 1
            self.hits += 1
            raise OperationalError(self.message)
        return execute(sql, params, many, context)


@dataclass(frozen=True)
class Photo:
    """Everything a transition may touch, as stored."""

    status: str
    version: int
    fields: dict[str, Any]
    events: list[tuple[str, str, str]]
    decisions: list[str]
    audit: list[tuple[int, str, str]]
    head: tuple[int, str]


def photo(cp: CPRequest) -> Photo:
    stored = CPRequest.objects.get(pk=cp.pk)
    head = ChainHead.objects.filter(pk=1).first()
    return Photo(
        status=stored.status,
        version=stored.version,
        fields={
            name: getattr(stored, name)
            for name in (
                "sponsor_id",
                "sponsor_office_id",
                "submitted_at",
                "received_at",
                "decided_at",
                "routed_to_sponsor_at",
                "determination",
            )
        },
        events=list(
            RequestEvent.objects.filter(request=cp).values_list(
                "transition", "from_status", "to_status"
            )
        ),
        decisions=list(Decision.objects.filter(request=cp).values_list("kind", flat=True)),
        audit=list(AuditEvent.objects.order_by("seq").values_list("seq", "action", "hash")),
        head=(head.seq, head.hash) if head else (0, ""),
    )


def assert_chain_intact() -> None:
    result = verify_chain()
    assert result.ok, result.message


def server_page(client: Client) -> Client:
    """A client that gets the page a browser would see when a view raises, not the exception."""
    client.raise_request_exception = False
    return client


@pytest.fixture
def attachments_root(settings: Settings, tmp_path: Path) -> Path:
    root = tmp_path / "attachments"
    settings.ATTACHMENTS_DIR = root
    return root


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


@pytest.fixture
def fail_on() -> Iterator[Callable[..., FailOn]]:
    """``fail_on(fragment, times=1)``: install a FailOn on this thread's connection for the test."""
    from contextlib import ExitStack

    with ExitStack() as stack:

        def install(fragment: str, **kwargs: Any) -> FailOn:
            fault = FailOn(fragment, **kwargs)
            stack.enter_context(connection.execute_wrapper(fault))
            return fault

        yield install
