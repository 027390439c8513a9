"""Run one fuzz target under atheris (libFuzzer): ``python -m tests.fuzz.run_atheris
TARGET [libFuzzer options] CORPUS_DIR``.

The cpnav modules are imported with atheris' coverage instrumentation, so the
mutations are guided by the branches of the code under test. Any exception a
target lets escape is a crash: libFuzzer prints it, saves the input (see
``-artifact_prefix``) and exits non-zero.
"""

from __future__ import annotations

import importlib
import os
import sys

INSTRUMENTED = {
    "imports": ["cpnav.core.csvtext", "cpnav.imports.tables", "cpnav.imports.checks"],
    "attendance": ["cpnav.core.csvtext", "cpnav.engagement.attendance"],
    "providers": ["cpnav.core.csvtext", "cpnav.referrals.importer"],
    "interview": ["cpnav.interview"],
    "expression": ["cpnav.interview"],
}


def main() -> None:
    import atheris  # type: ignore[import-untyped]

    name, argv = sys.argv[1], [sys.argv[0], *sys.argv[2:]]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpnav.settings")
    import django

    django.setup()
    # Only the code under test is instrumented (none of it is imported by
    # django.setup()): instrumenting every app would cost seconds of each run.
    with atheris.instrument_imports(include=["cpnav"]):
        for module in INSTRUMENTED[name]:
            importlib.import_module(module)
    from tests.fuzz import targets

    # Warm the expression scope (it loads the shipped interviews) before the clock starts.
    if name == "expression":
        targets.expression(b"true")
    atheris.Setup(argv, targets.TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
