"""One transition, run in a process of its own that stops dead inside it (tests/faults/test_killed.py).

    python -m tests.faults.transition_child REQUEST_ID ACTOR_ID TRANSITION PAUSE_AT

DATABASE_URL names the database. The process prints "paused" and sleeps where
PAUSE_AT says, for the test to kill it there:

    event      the status is saved, the request's history not yet (inside the transaction)
    audit      every write is done, the audit event too; the commit is next
    committed  after the commit, before the notices go out
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

PAUSE_SECONDS = 120


def pause() -> None:
    print("paused", flush=True)
    time.sleep(PAUSE_SECONDS)
    raise SystemExit("paused too long: the test did not kill this process")


def main(argv: list[str]) -> None:
    request_id, actor_id, name, pause_at = argv
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpnav.settings")
    import django

    django.setup()
    from unittest.mock import patch

    from cpnav.accounts.models import User
    from cpnav.audit.services import record
    from cpnav.cases import workflow
    from cpnav.cases.models import CPRequest

    def create_paused(*args: Any, **kwargs: Any) -> Any:
        pause()

    def record_paused(*args: Any, **kwargs: Any) -> Any:
        event = record(*args, **kwargs)
        pause()
        return event

    def notify_paused(*args: Any, **kwargs: Any) -> None:
        pause()

    targets = {
        "event": ("cpnav.cases.models.RequestEvent.objects.create", create_paused),
        "audit": ("cpnav.cases.workflow.record", record_paused),
        "committed": ("cpnav.cases.workflow.notify", notify_paused),
    }
    if pause_at not in targets:
        raise SystemExit(f"unknown pause point {pause_at!r}")
    target, replacement = targets[pause_at]
    patch(target, replacement).start()  # this process ends inside it
    cp = CPRequest.objects.get(pk=request_id)
    workflow.perform(None, cp, name, User.objects.get(pk=actor_id))
    raise SystemExit("the transition ended without reaching its pause point")


if __name__ == "__main__":
    main(sys.argv[1:])
