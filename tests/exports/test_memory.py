"""A CSV export streams in constant memory: ten times the rows, about the same peak.

Memory is measured with tracemalloc while the stream is consumed; nothing is
timed, so a slow machine cannot make this test fail. The chunk size is made
smaller than the small run so that both runs cross chunk boundaries (where the
database driver briefly holds two chunks): the ratio then compares like with like.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from cpnav.accounts.models import Agency, Level, Membership, Role, User
from cpnav.cases.models import Case
from cpnav.core.tabular import csv_lines
from cpnav.exports import services, tables
from tests.conftest import MakeUser

pytestmark = pytest.mark.django_db

SMALL = 2_000
LARGE = 20_000
CHUNK = 500
SLACK = 512 * 1024  # bytes: caches the larger run happens to fill, never rows


def make_cases(agency: Agency, lead: User, count: int) -> None:
    Case.objects.bulk_create(
        (
            Case(
                agency=agency,
                case_number=f"{agency.state}-{n:06d}",
                lead_investigator=lead,
                trafficking_forms=["labor", "sex"] if n % 2 else ["labor"],
            )
            for n in range(count)
        ),
        batch_size=2_000,
    )


def consume(user: User, filters: services.Filters, *, trace: bool) -> tuple[int, int]:
    """(lines, peak bytes allocated while the whole CSV stream was consumed)."""
    job = services.start(user, "cases", "csv", filters)
    gc.collect()
    if trace:
        tracemalloc.start()
    try:
        lines = sum(1 for _line in csv_lines(job.header(), job.rows()))
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
    finally:
        tracemalloc.stop()
    return lines, peak


def test_csv_export_memory_does_not_grow_with_rows(
    make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "CHUNK", CHUNK)
    small = Agency.objects.create(name="Small County Sheriff", level=Level.LOCAL, state="OH")
    large = Agency.objects.create(name="Large City Police", level=Level.LOCAL, state="TX")
    user = make_user("sup@both.example", small, (Role.SUPERVISOR,), totp=False)
    Membership.objects.create(user=user, agency=large, role=Role.SUPERVISOR)
    make_cases(small, user, SMALL)
    make_cases(large, user, LARGE - SMALL)

    consume(user, services.Filters(agency=small), trace=False)  # warm caches and compiled SQL
    small_lines, small_peak = consume(user, services.Filters(agency=small), trace=True)
    large_lines, large_peak = consume(user, services.Filters(), trace=True)

    assert (small_lines, large_lines) == (SMALL + 1, LARGE + 1)  # and the header line
    assert large_peak < 2 * small_peak + SLACK, (small_peak, large_peak)
