"""Writing, verifying and purging the audit trail."""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from cpnav.audit.models import GENESIS_HASH, AuditEvent, ChainHead, Outcome

if TYPE_CHECKING:
    from cpnav.accounts.models import User

log = logging.getLogger("cpnav.audit")


def client_ip(request: HttpRequest | None) -> str:
    """The client's address: the connection's, or - when the connection comes from a
    configured proxy (``CPNAV_TRUSTED_PROXIES``) - the last address in X-Forwarded-For
    that is not one of our proxies. Addresses left of it were written by the client and
    prove nothing."""
    if request is None:
        return ""
    address = _address(str(request.META.get("REMOTE_ADDR", "")))
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    hops = [hop.strip() for hop in forwarded.split(",")] if forwarded else []
    while address is not None and hops and _trusted(address):
        address = _address(hops.pop())
    return str(address) if address is not None else ""


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw)
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(address in network for network in settings.TRUSTED_PROXIES)


def _storable(value: Any) -> Any:
    """Text as the database can keep it: PostgreSQL refuses NUL in text and in JSON, and a
    refused look-up records what was asked for (a path, an id) exactly as it came."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor: User | None = None,
    actor_label: str = "",
    agency_id: UUID | None = None,
    object_type: str = "",
    object_id: str | UUID = "",
    outcome: str = Outcome.SUCCESS,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain.

    Runs inside the caller's transaction when there is one, so an event for a
    change that is rolled back disappears with it; the head row lock makes
    concurrent writers queue rather than fork the chain.
    """
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    now = timezone.now()
    now = now.replace(microsecond=now.microsecond // 10000 * 10000)
    with transaction.atomic():
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
        event = AuditEvent(
            seq=head.seq + 1,
            at=now,
            actor_id=actor.pk if actor is not None else None,
            actor_label=actor.email if actor is not None else _storable(actor_label[:254]),
            agency_id=agency_id,
            action=action,
            object_type=object_type,
            object_id=_storable(str(object_id)),
            outcome=outcome,
            source_ip=client_ip(request),
            details=_storable(details or {}),
            prev_hash=head.hash,
        )
        event.hash = event.compute_hash()
        event.save()
        head.seq = event.seq
        head.hash = event.hash
        head.save(update_fields=["seq", "hash"])
    if outcome != Outcome.SUCCESS:
        log.warning(
            "audit %s %s actor=%s object=%s:%s",
            action,
            outcome,
            event.actor_id,
            object_type,
            event.object_id,
        )
    return event


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    message: str
    first_bad_seq: int | None = None


def verify_chain(chunk_size: int = 2000) -> VerifyResult:
    """Walk the whole chain and name the first event altered or removed."""
    head = ChainHead.objects.filter(pk=1).first() or ChainHead(pk=1)
    expected_seq = head.anchor_seq + 1
    prev_hash = head.anchor_hash
    checked = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=chunk_size):
        if event.seq != expected_seq:
            return VerifyResult(
                False, checked, f"event #{expected_seq} is missing (removed)", expected_seq
            )
        if event.prev_hash != prev_hash or event.compute_hash() != event.hash:
            return VerifyResult(False, checked, f"event #{event.seq} was altered", event.seq)
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    if head.seq != expected_seq - 1 or head.hash != prev_hash:
        return VerifyResult(
            False,
            checked,
            f"events after #{expected_seq - 1} are missing (removed); the chain head "
            f"records #{head.seq}",
            expected_seq,
        )
    return VerifyResult(True, checked, f"chain intact: {checked} events verified")


def chain_head() -> dict[str, Any]:
    """The newest event's number and hash, to be copied off this system (``cpnav audit
    head`` from cron into syslog or another store): whoever can write the database can
    rebuild a consistent chain, but not one that still holds a head kept elsewhere."""
    head = ChainHead.objects.filter(pk=1).first() or ChainHead(pk=1)
    return {"seq": head.seq, "hash": head.hash, "at": timezone.now().isoformat()}


def check_heads(lines: Iterable[str]) -> list[str]:
    """Problems with heads exported earlier (JSON lines from ``chain_head``): each must
    still be in the chain with the same hash. Heads older than the retention anchor
    can no longer be checked and are skipped; unreadable lines are problems."""
    head = ChainHead.objects.filter(pk=1).first() or ChainHead(pk=1)
    problems: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            kept = json.loads(line)
            seq, digest = int(kept["seq"]), str(kept["hash"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"line {number}: not a head written by `cpnav audit head`")
            continue
        if seq < head.anchor_seq or seq == 0:
            continue
        found: str | None = head.anchor_hash
        if seq != head.anchor_seq:
            found = AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first()
        if found is None:
            problems.append(f"line {number}: event #{seq} is no longer in the chain")
        elif found != digest:
            problems.append(f"line {number}: event #{seq} has another hash than the one exported")
    return problems


def purge_expired(actor_label: str = "cpnav audit purge") -> int:
    """Remove events older than the retention period, keeping the chain verifiable.

    The last removed event becomes the chain's anchor; the purge itself is
    recorded as an event.
    """
    cutoff = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    with transaction.atomic():
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
        last = AuditEvent.objects.filter(at__lt=cutoff).order_by("-seq").first()
        if last is None:
            return 0
        doomed = AuditEvent.objects.filter(seq__lte=last.seq)
        count = doomed.count()
        # The one sanctioned removal path: the queryset's delete() is blocked.
        doomed._raw_delete(doomed.db)
        head.anchor_seq = last.seq
        head.anchor_hash = last.hash
        head.save(update_fields=["anchor_seq", "anchor_hash"])
    record(
        "audit.purge",
        actor_label=actor_label,
        details={
            "removed": count,
            "through_seq": last.seq,
            "retention_days": settings.AUDIT_RETENTION_DAYS,
        },
    )
    return count


__all__ = ["GENESIS_HASH", "VerifyResult", "client_ip", "purge_expired", "record", "verify_chain"]
