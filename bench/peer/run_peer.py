"""The docassemble peer of our interview-speed benchmark.

Runs INSIDE the virtualenv that bench/peer/setup.sh makes (not ours, and not
type-checked with the project):

    var/bench/docassemble-venv/bin/python bench/peer/run_peer.py --walks 30 --out FILE

Loads bench/peer/screening.yml into docassemble's interview engine
(``docassemble.base.parse.Interview``) without its Flask web app, walks it the
way the web app would, and writes one JSON file:

* ``peer.screen``: one ``Interview.assemble()`` call, timed alone, for every
  screen of every measured walk (24 per walk): the call that works out the
  next screen after the previous screen's answer was stored.
* ``peer.walk``: a whole walk, from an empty interview to the end screen -
  each of the 24 ``assemble()`` calls plus storing each of the 23 answers.

Warm-up walks run first and are not recorded. Every walk is checked against
the expected sequence of questions, so a changed interview cannot quietly
measure something else.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ENGINE = "docassemble.base 1.10.5"

# Workaround (see setup.sh): docassemble's Pattern dependency looks for NLTK's
# WordNet corpora when it is imported and tries to download them if missing,
# which fails offline. setup.sh lays them out from Debian's WordNet packages;
# NLTK reads NLTK_DATA when nltk is first imported, so set it before that.
os.environ.setdefault("NLTK_DATA", str(REPO / "var" / "bench" / "nltk_data"))

import pluggy  # noqa: E402 - only after NLTK_DATA is set

hookimpl = pluggy.HookimplMarker("docassemble")


class Host:
    """What docassemble's web app would supply through its plugin hooks.

    docassemble.base asks its host (normally docassemble.webapp) for these
    through pluggy; with nothing registered each hook returns None and the
    engine fails (``get_config`` calls ``.get`` on None). The values are a
    plain English, US set-up with debugging off, as in production.
    """

    @hookimpl
    def get_default_language(self) -> str:
        return "en"

    @hookimpl
    def get_default_dialect(self) -> str:
        return "us"

    @hookimpl
    def get_default_voice(self) -> str:
        return "Joanna"

    @hookimpl
    def get_default_country(self) -> str:
        return "US"

    @hookimpl
    def get_default_locale(self) -> str:
        return "en_US.utf8"

    @hookimpl
    def get_default_timezone(self) -> str:
        return "America/New_York"

    @hookimpl
    def get_configuration(self) -> dict[str, Any]:
        return {"debug": False}

    @hookimpl
    def get_debug_status(self) -> bool:
        return False

    @hookimpl
    def get_main_page_parts(self) -> dict[str, Any]:
        return {}


from docassemble.base.plugin_manager import pm  # noqa: E402

pm.register(Host())

import docassemble.base.parse as da_parse  # noqa: E402 - needs the hooks registered
from docassemble.base.interview_source import InterviewSourceString  # noqa: E402
from docassemble.base.thread_context import (  # noqa: E402
    empty_globals,
    global_context,
    user_dict_context,
)

INTERVIEW_PATH = "docassemble.peer:data/questions/screening.yml"

# The walk: each question as it comes, and the answer typed in its form as
# the web app receives it (a string). These are the answers of our own walk
# (WALK_ANSWERS in bench/engines.py: keep the two equal), the longest
# realistic path: every follow-up is reached, the date of birth is left blank
# so the age is estimated, and the estimate makes the person a minor. All 23
# questions are asked, then the end screen: 24 screens.
WALK: list[tuple[str, str, str]] = [
    ("came_from_abroad", "radio", "yes"),
    ("recruited_with_promises", "radio", "yes"),
    ("job_differs_from_promise", "radio", "yes"),
    ("works_for_someone", "radio", "yes"),
    ("excessive_hours", "radio", "yes"),
    ("pay_withheld", "radio", "unknown"),
    ("owes_debt", "radio", "yes"),
    ("debt_growing", "radio", "yes"),
    ("documents_held", "radio", "yes"),
    ("not_free_to_leave", "radio", "unknown"),
    ("threats_to_person", "radio", "no"),
    ("threats_to_family", "radio", "yes"),
    ("threats_of_deportation", "radio", "yes"),
    ("physical_harm", "radio", "no"),
    ("housed_by_employer", "radio", "yes"),
    ("locked_in", "radio", "no"),
    ("commercial_sex_act", "radio", "yes"),
    ("someone_takes_money", "radio", "yes"),
    ("date_of_birth", "date", ""),
    ("age_estimate", "integer", "17"),
    ("under_18_at_time", "radio", "unknown"),
    ("citizenship", "radio", "noncitizen"),
    ("potential_witness", "radio", "yes"),
]
END_SCREEN = "screening_done"
SCREENS_PER_WALK = len(WALK) + 1


def load_interview() -> da_parse.Interview:
    source = InterviewSourceString(
        content=(HERE / "screening.yml").read_text(encoding="utf-8"),
        directory=str(HERE),
        path=INTERVIEW_PATH,
        package="docassemble.peer",
    )
    return da_parse.Interview(source=source)


def current_info() -> dict[str, Any]:
    """The request description the web app hands to each assemble() call,
    for an anonymous user on a GET of the interview page."""
    return {
        "user": {
            "is_anonymous": True,
            "is_authenticated": False,
            "session_uid": "bench-session",
            "device_id": "bench-device",
            "the_user_id": "t1",
            "theid": "t1",
            "roles": ["user"],
            "email": None,
            "firstname": None,
            "lastname": None,
            "nickname": None,
            "country": None,
            "subdivisionfirst": None,
            "subdivisionsecond": None,
            "subdivisionthird": None,
            "organization": None,
            "timezone": None,
            "language": "en",
            "location": None,
        },
        "session": "bench-session-id",
        "secret": None,
        "yaml_filename": INTERVIEW_PATH,
        "interface": "web",
        "url": "http://localhost/interview",
        "url_root": "http://localhost/",
        "encrypted": False,
        "headers": {},
        "clientip": "127.0.0.1",
        "method": "GET",
        "unique_id": "bench",
    }


def assignment(variable: str, kind: str, posted: str) -> Any:
    """Compiled ``variable = value``, built from a posted field the way the
    web app builds it (docassemble.webapp.server): repr() of the text for a
    choice, ``int(...)`` for a whole number, and for a date
    ``as_datetime(...)`` after importing docassemble.base.util, or ``''``
    when the date is left blank. The web app exec()s it in the interview's
    namespace."""
    if kind == "date" and posted:
        code = (
            "import docassemble.base.util\n"
            f"{variable} = docassemble.base.util.as_datetime({posted!r})"
        )
    elif kind == "integer":
        code = f"{variable} = int({posted or 0!r})"
    else:
        code = f"{variable} = {posted!r}"
    return compile(code, "<answer>", "exec")


ANSWERS = [(variable, assignment(variable, kind, posted)) for variable, kind, posted in WALK]


def screen_variable(status: da_parse.InterviewStatus) -> str:
    """The variable the screen asks for, or the end screen's event name."""
    question = status.question
    if question.fields:
        return da_parse.from_safeid(question.fields[0].saveas)
    return str(status.orig_sought)


def walk(interview: da_parse.Interview, screen_ms: list[float] | None = None) -> list[str]:
    """One walk from an empty interview to the end screen; the screens seen.

    With ``screen_ms``, each assemble() call is timed alone and appended.
    """
    user_dict = da_parse.get_initial_dict()
    seen: list[str] = []
    clock = time.perf_counter
    with user_dict_context(user_dict):
        for step in range(SCREENS_PER_WALK):
            if step:
                exec(ANSWERS[step - 1][1], user_dict)  # noqa: S102 - as the web app stores a field
            status = da_parse.InterviewStatus(current_info=current_info())
            if screen_ms is None:
                interview.assemble(user_dict, status)
            else:
                start = clock()
                interview.assemble(user_dict, status)
                screen_ms.append((clock() - start) * 1000.0)
            seen.append(screen_variable(status))
    return seen


def check(seen: list[str]) -> None:
    expected = [variable for variable, _, _ in WALK] + [END_SCREEN]
    if seen != expected:
        raise SystemExit(f"the walk went astray:\n expected {expected}\n got      {seen}")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walks", type=int, default=30, help="measured walks (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="unrecorded walks first")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()

    with global_context(empty_globals()):
        interview = load_interview()
        for _ in range(args.warmup):
            check(walk(interview))
        screen_ms: list[float] = []
        walk_ms: list[float] = []
        # Screens and whole walks are measured in turns, so that any drift in
        # the machine's speed touches both alike.
        for _ in range(args.walks):
            check(walk(interview, screen_ms))
            start = time.perf_counter()
            seen = walk(interview)
            walk_ms.append((time.perf_counter() - start) * 1000.0)
            check(seen)

    result = {
        "engine": ENGINE,
        "screens_per_walk": SCREENS_PER_WALK,
        "metrics": {
            "peer.screen": {"unit": "ms", "samples": screen_ms},
            "peer.walk": {"unit": "ms", "samples": walk_ms},
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for name, samples in (("peer.screen", screen_ms), ("peer.walk", walk_ms)):
        print(
            f"{name}: median {statistics.median(samples):.3f} ms, "
            f"p95 {percentile(samples, 0.95):.3f} ms ({len(samples)} samples)",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
