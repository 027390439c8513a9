"""Read-only work on a PostgreSQL streaming replica, everything else on the primary.

Nothing goes to the replica unless code asks for it: a view (or a streamed download)
that only reads runs inside ``replica_reads(request)`` / ``@replica_view``. Inside,
reads go to the ``replica`` alias when all of these hold, else to the primary:

* a replica is configured (``DATABASE_REPLICA_URL``) and answers, is in recovery
  (a promoted or mistaken server is not a replica) and its WAL receiver streams;
* it is no more than ``CPNAV_REPLICA_MAX_LAG_SECONDS`` behind: it has replayed all
  the WAL the primary had flushed when asked (or does within 0.1 s), or its last
  replayed commit is younger than the bound;
* nothing was written earlier in this request, and no transaction is open on
  the primary (what a transaction reads belongs with it);
* the user wrote nothing in the last ``CPNAV_REPLICA_STICKY_SECONDS``
  (read-your-writes across requests and servers, see ``_mark_writer``).

Writes always go to the primary. The replica is chosen (or not) once per scope, at
its first read; a write later in the scope sends the reads after it to the primary.

Why per request and not per query: the health check costs one small query on each
server, paid once per page; a replica that fails mid-page fails that page only.
Why a replica that failed is not asked again for ``RETRY_SECONDS``: a dead address
may take the full connect timeout to refuse, on every page. That back-off and the
"log once" memory are the only state kept in the process, and both describe this
server's own view of the network, not application data.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from contextvars import ContextVar, Token
from dataclasses import dataclass
from functools import wraps
from http.cookies import CookieError, SimpleCookie
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.models import Model
from django.http import HttpRequest

log = logging.getLogger("cpnav.replica")

REPLICA: Final = "replica"
RETRY_SECONDS: Final = 5.0
CATCH_UP_SECONDS: Final = 0.1
# Tables every server keeps writing for its own bookkeeping: they are always read on
# the primary, and writing them is not "the user changed something".
PRIMARY_ONLY_APPS: Final = frozenset({"sessions", "django_cache", "axes", "migrations"})
NOT_A_USER_WRITE: Final = PRIMARY_ONLY_APPS | {"audit"}
NOT_A_USER_WRITE_MODELS: Final = frozenset({"core.ratecounter"})
STICKY_KEY: Final = "cpnav:replica:wrote:"

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


@dataclass
class _Request:
    """One HTTP request: whose session it is, and whether it has written yet."""

    session_digest: str = ""
    wrote: bool = False


@dataclass
class _Scope:
    request: HttpRequest | None
    wrote: bool = False
    decided: str | None = None  # the alias this scope reads from, once its first read asked


_request: ContextVar[_Request | None] = ContextVar("cpnav_replica_request", default=None)
_scope: ContextVar[_Scope | None] = ContextVar("cpnav_replica_scope", default=None)

# This server's memory of the replica (see the module docstring).
_down_until = 0.0
_last_problem: str | None = None


def configured() -> bool:
    return REPLICA in connections.settings


def _digest(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def _request_started(sender: object, environ: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Remember whose session this request carries: a write later in the request must
    mark that session, and the router is not given the request."""
    if not configured():
        _request.set(None)
        return
    key = ""
    try:
        cookie = SimpleCookie(str((environ or {}).get("HTTP_COOKIE", "")))
        morsel = cookie.get(settings.SESSION_COOKIE_NAME)
        key = morsel.value if morsel is not None else ""
    except CookieError:
        key = ""
    _request.set(_Request(session_digest=_digest(key) if key else ""))


def _request_finished(sender: object, **kwargs: Any) -> None:
    # Synchronous servers reuse the thread (and so the context) for the next request.
    _request.set(None)


request_started.connect(_request_started, dispatch_uid="cpnav.core.routers.started")
request_finished.connect(_request_finished, dispatch_uid="cpnav.core.routers.finished")


def _label(model: type[Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def _mark_writer(digest: str) -> None:
    """Keep this session on the primary for the sticky window, in the shared cache (the
    database), so that its next page - on any server - sees what it just wrote. Called
    once the write commits, before the response goes out."""
    seconds = settings.CPNAV_REPLICA_STICKY_SECONDS
    if seconds <= 0:
        return
    try:
        cache.set(STICKY_KEY + digest, time.time() + seconds, timeout=seconds)
    except DatabaseError as error:
        log.warning("could not keep a session on the primary after a write: %s", error)


def _wrote(model: type[Model]) -> None:
    if model._meta.app_label in NOT_A_USER_WRITE or _label(model) in NOT_A_USER_WRITE_MODELS:
        return
    scope = _scope.get()
    if scope is not None:
        scope.wrote = True
    state = _request.get()
    if state is None or state.wrote:
        return
    state.wrote = True
    if state.session_digest:
        digest = state.session_digest
        try:
            transaction.on_commit(lambda: _mark_writer(digest), using=DEFAULT_DB_ALIAS)
        except transaction.TransactionManagementError:
            _mark_writer(digest)


def _sticky(request: HttpRequest | None) -> bool:
    """True if this request's user wrote within the sticky window."""
    if request is None:
        return False
    window = settings.CPNAV_REPLICA_STICKY_SECONDS
    user = getattr(request, "user", None)
    last_login = getattr(user, "last_login", None) if user is not None else None
    if last_login is not None and time.time() - last_login.timestamp() < window:
        return True  # signing in wrote, under the session key it had before
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None) if session is not None else None
    if not key:
        return False
    until = cache.get(STICKY_KEY + _digest(key))
    return isinstance(until, int | float) and until > time.time()


@dataclass(frozen=True)
class ReplicaState:
    usable: bool
    problem: str = ""
    lag_seconds: float | None = None
    kind: str = ""  # what kind of problem: logged when it changes, not on every page


def replica_state(patience: float = CATCH_UP_SECONDS) -> ReplicaState:
    """Ask the primary how far it has flushed and the replica how far it has replayed;
    ``patience``: seconds to wait for a replica that is only a moment behind."""
    if not configured():
        return ReplicaState(False, "no replica is configured (DATABASE_REPLICA_URL)", kind="none")
    bound = settings.CPNAV_REPLICA_MAX_LAG_SECONDS
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            # Flushed, not merely written: only flushed WAL is sent, and a commit is
            # flushed before it returns (unless synchronous_commit is off).
            cursor.execute("SELECT pg_current_wal_flush_lsn()::text")
            written = cursor.fetchone()[0]
    except DatabaseError as error:
        problem = f"the primary did not say how far it has written: {error}"
        return ReplicaState(False, problem, kind="primary")
    replica = connections[REPLICA]
    try:
        with replica.cursor() as cursor:
            cursor.execute(
                """
                SELECT pg_is_in_recovery(),
                       COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, false),
                       EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()),
                       (SELECT status FROM pg_stat_wal_receiver LIMIT 1)
                """,
                [written],
            )
            in_recovery, caught_up, age, receiver = cursor.fetchone()
    except DatabaseError as error:
        with suppress(DatabaseError):
            replica.close()
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else type(error).__name__
        return ReplicaState(False, f"the replica does not answer: {first_line}", kind="down")
    if not in_recovery:
        return ReplicaState(
            False, "the replica is not in recovery: it is not a standby", kind="not-standby"
        )
    if receiver != "streaming":
        problem = f"the replica is not streaming from the primary ({receiver or 'no receiver'})"
        return ReplicaState(False, problem, kind="not-streaming")
    if caught_up:
        return ReplicaState(True, lag_seconds=0.0)
    # Replay is sequential: all that is missing was committed after the last replayed
    # commit, so the age of that commit bounds how stale the replica can be.
    lag = float(age) if age is not None else None
    if lag is not None and lag <= bound:
        return ReplicaState(True, lag_seconds=lag)
    # After a quiet spell that age is large even when only a record or two written a
    # moment ago (the primary logs running transactions every 15 s) is missing: give
    # the replica a moment to reach what the primary had written when asked.
    started = time.monotonic()
    try:
        with replica.cursor() as cursor:
            while time.monotonic() - started < patience:
                time.sleep(0.02)
                cursor.execute(
                    "SELECT COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)", [written]
                )
                if cursor.fetchone()[0]:
                    return ReplicaState(True, lag_seconds=time.monotonic() - started)
    except DatabaseError as error:
        return ReplicaState(False, f"the replica does not answer: {error}", kind="down")
    shown = "unknown" if lag is None else f"{lag:.1f} s"
    problem = f"the replica lags {shown} behind (bound {bound} s)"
    return ReplicaState(False, problem, lag, kind="lagging")


def _note(state: ReplicaState) -> None:
    """Log when the replica stops or starts being used, or why changes; not every page."""
    global _last_problem
    kind = None if state.usable else state.kind
    if kind == _last_problem:
        return
    if kind is None:
        log.info("replica in use again for read-only pages")
    else:
        log.warning("reading from the primary instead of the replica: %s", state.problem)
    _last_problem = kind


def _choose(scope: _Scope) -> str:
    global _down_until
    if _sticky(scope.request):
        return DEFAULT_DB_ALIAS
    if time.monotonic() < _down_until:
        return DEFAULT_DB_ALIAS
    state = replica_state()
    _note(state)
    if not state.usable:
        if state.kind == "down":
            _down_until = time.monotonic() + RETRY_SECONDS
        return DEFAULT_DB_ALIAS
    return REPLICA


def forget() -> None:
    """Ask the replica again at the next read (tests; an operator's fix is seen in
    ``RETRY_SECONDS`` anyway)."""
    global _down_until, _last_problem
    _down_until = 0.0
    _last_problem = None


class ReplicaRouter:
    """``DATABASE_ROUTERS``: see the module docstring."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        scope = _scope.get()
        if scope is None or not configured():
            return DEFAULT_DB_ALIAS if configured() else None
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return DEFAULT_DB_ALIAS
        state = _request.get()
        if scope.wrote or (state is not None and state.wrote):
            return DEFAULT_DB_ALIAS
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        if scope.decided is None:
            # The primary while choosing: the choice itself reads (the user, the cache).
            scope.decided = DEFAULT_DB_ALIAS
            scope.decided = _choose(scope)
        return scope.decided

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        if not configured():
            return None
        _wrote(model)
        # Explicitly: left to Django, an object read on the replica would be saved there.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        ours = {DEFAULT_DB_ALIAS, REPLICA}
        if obj1._state.db in ours and obj2._state.db in ours:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None


class replica_reads:  # named like the function it stands for: `with replica_reads(request):`
    """Reads in this block may go to the replica (see the module docstring).

    ``stream(items)`` reads a lazy iterable (a streamed download) under the same choice
    after the block has ended: the response is iterated after the view returned.
    """

    def __init__(self, request: HttpRequest | None = None) -> None:
        self._state = _Scope(request)
        self._tokens: list[Token[_Scope | None]] = []

    def __enter__(self) -> replica_reads:
        outer = _scope.get()
        if outer is not None and self._state.request is None:
            self._state = outer  # nested: one choice for the whole block
        self._tokens.append(_scope.set(self._state))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        _scope.reset(self._tokens.pop())

    @property
    def alias(self) -> str | None:
        """The database this block reads from, once its first read chose it."""
        return self._state.decided

    def stream(self, items: Iterable[T]) -> Iterator[T]:
        iterator = iter(items)
        try:
            while True:
                # Entered around each step, not across the yield: the server may resume
                # the generator in another context (ASGI), where a token cannot be reset.
                with self:
                    try:
                        item = next(iterator)
                    except StopIteration:
                        return
                yield item
        finally:
            # A cancelled download closes this generator: close the one inside too, so
            # its own clean-up (an export's closing audit event) runs now.
            close = getattr(iterator, "close", None)
            if close is not None:
                with self:
                    close()


def replica_view(view: Callable[P, R]) -> Callable[P, R]:
    """A view that only reads: its queries may go to the replica."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        request = args[0] if args and isinstance(args[0], HttpRequest) else None
        with replica_reads(request):
            return view(*args, **kwargs)

    return wrapped
