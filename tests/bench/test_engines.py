"""bench/engines.py in quick mode, on the test database: the report's shape and
that what it timed was real work (the walk ended, the packages open).

Benchmarks are not tests: nothing here looks at how long anything took.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection, transaction
from pytest_django import DjangoDbBlocker

from bench import engines
from cpnav.interview import interview_by_id

METRICS = {
    "policy.determination",
    "interview.next_question",
    "interview.screen",
    "interview.walk",
    "interview.view_screen",
    "interview.view_walk",
    "package.context",
    "package.pdf.warm",
    "package.docx.warm",
    "package.cold",
}


# The mark is what makes pytest-django create the test database at all; the
# fixture below only borrows it for the module.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def run(
    django_db_setup: None,
    django_db_blocker: DjangoDbBlocker,
    tmp_path_factory: pytest.TempPathFactory,
) -> engines.Run:
    """One quick run for the whole module (it renders packages and starts a
    process), its rows rolled back at once so no other test sees them."""
    # The fresh processes for package.cold get their own secrets and database
    # path (they open no database: the context is handed over as JSON).
    home = tmp_path_factory.mktemp("cold")
    env = engines.child_env()
    env["CPNAV_VAR_DIR"] = str(home)
    env["DATABASE_URL"] = f"sqlite:///{home / 'unused.sqlite3'}"
    with django_db_blocker.unblock(), transaction.atomic():
        name = str(connection.settings_dict["NAME"])
        assert "memorydb" in name or name.rsplit("/", 1)[-1].startswith("test_"), name
        result = engines.run_all(engines.QUICK, cold_env=env)
        transaction.set_rollback(True)
    return result


def test_quick_run_reports_every_metric_in_the_documented_shape(run: engines.Run) -> None:
    report: dict[str, Any] = json.loads(json.dumps(run.report()))
    assert set(report) == {"metrics", "extra"}
    assert set(report["metrics"]) == METRICS
    for name, metric in report["metrics"].items():
        assert set(metric) == {"unit", "samples", "note"}, name
        assert metric["unit"] == "ms", name
        assert metric["note"].strip(), name
        assert metric["samples"], name
        assert all(isinstance(s, float) and s >= 0 for s in metric["samples"]), name
    extra = report["extra"]
    assert isinstance(extra["determinations_per_second"], float)
    assert extra["determinations_per_second"] > 0
    assert isinstance(extra["walk_screens"], int)
    summary = engines.summary(report)
    assert all(name in summary for name in METRICS)


def test_the_fact_sets_reach_every_outcome(run: engines.Run) -> None:
    assert run.outcomes == {
        "likely_eligible",
        "needs_information",
        "not_eligible",
        "not_applicable",
    }


def test_the_walk_reaches_the_end_of_the_screening(run: engines.Run) -> None:
    interview = interview_by_id(engines.SCREENING)
    state = run.walk_state
    assert state is not None
    assert state.complete
    assert state.next_question is None
    assert all(section.answered == section.total for section in state.progress)
    assert state.computed["suggest_cp_request"] is True
    # The longest path: every question of the shipped screening is asked once,
    # then the review is the last screen.
    assert set(run.walk_answers) == {q.id for q in interview.questions}
    assert run.extra["walk_screens"] == len(interview.questions) + 1
    assert run.extra["walk_questions"] == len(interview.questions)
    screens = run.metrics["interview.screen"]["samples"]
    walks = run.metrics["interview.walk"]["samples"]
    assert len(screens) == len(walks) * len(interview.questions)


def test_the_view_walk_runs_the_step_view_to_the_same_end(run: engines.Run) -> None:
    interview = interview_by_id(engines.SCREENING)
    walked = run.view_walk
    assert walked is not None
    # The same answers as the pure engine walk, every question asked once, in order.
    assert walked.answers == run.walk_answers
    assert walked.asked == [q.id for q in interview.questions]
    # Each page's Back link goes to the page before it: real previous_question() work.
    assert walked.backs == [None, *walked.asked[:-1]]
    screens = run.metrics["interview.view_screen"]["samples"]
    walks = run.metrics["interview.view_walk"]["samples"]
    assert len(walks) == len(run.metrics["interview.walk"]["samples"])
    assert len(screens) == len(walks) * len(interview.questions)


def test_the_packages_are_real_files(run: engines.Run) -> None:
    assert engines.is_pdf(run.pdf)
    assert engines.is_docx(run.docx)
    assert not engines.is_pdf(run.docx)
    assert not engines.is_docx(run.pdf)
    assert run.cold
    assert all(cold["pdf_ok"] and cold["docx_ok"] for cold in run.cold)


def test_percentile_is_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 21)]
    assert engines.percentile(samples, 0.95) == 19.0
    assert engines.percentile(samples, 0.5) == 10.0
    assert engines.percentile([3.0], 0.95) == 3.0
