"""The append-only, hash-chained audit trail.

Each event's hash covers its own fields and the previous event's hash, so
altering or removing any row breaks the chain from that row on; `cpnav audit
verify` finds the first break. The single ChainHead row, locked while an event
is written, serialises writers so two events never claim the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol
from uuid import UUID

from django.db import models

GENESIS_HASH = "0" * 64


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    DENIED = "denied", "Denied"


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or remove an audit event."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    actor_id = models.UUIDField(null=True, blank=True, db_index=True)
    actor_label = models.CharField(max_length=254, blank=True)
    agency_id = models.UUIDField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    source_ip = models.CharField(max_length=45, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["agency_id", "-seq"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be deleted")

    def compute_hash(self) -> str:
        return event_hash(self)

    def canonical_fields(self) -> dict[str, Any]:
        return canonical_fields(self)


class ChainHead(models.Model):
    """The newest event's sequence number and hash, and where the chain starts.

    After a retention purge the chain starts at ``anchor_seq + 1`` with
    ``anchor_hash`` as the first kept event's predecessor.
    """

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)
    anchor_seq = models.PositiveBigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"head #{self.seq}"


def format_time(value: datetime) -> str:
    """UTC to the hundredth of a second, the precision the chain is built on."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 10000:02d}Z"


class EventFields(Protocol):
    """What the chain hash covers: an AuditEvent, or a row planned without the ORM."""

    seq: int
    at: datetime
    actor_id: UUID | None
    actor_label: str
    agency_id: UUID | None
    action: str
    object_type: str
    object_id: str
    outcome: str
    source_ip: str
    details: Any
    prev_hash: str


def canonical_fields(event: EventFields) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": format_time(event.at),
        "actor_id": str(event.actor_id) if event.actor_id else None,
        "actor_label": event.actor_label,
        "agency_id": str(event.agency_id) if event.agency_id else None,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "source_ip": event.source_ip,
        "details": event.details,
    }


def event_hash(event: EventFields) -> str:
    return chain_hash(canonical_fields(event), event.prev_hash)


def chain_hash(fields: dict[str, Any], prev_hash: str) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()
