"""`cpnav`: the project's command line, a thin wrapper over Django's commands.

`cpnav serve`, `cpnav migrate`, `cpnav demo`, `cpnav createadmin`,
`cpnav audit verify`, `cpnav check FACTS.json`, `cpnav term --granted DATE`,
`cpnav rules` ... Hyphens are accepted for underscores
(`cpnav disable-inactive`).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpnav.settings")
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")
    # `cpnav check FILE.json` (or `-`) is the policy check; plain `cpnav check`
    # and `cpnav check --deploy` stay Django's system checks.
    if args[:1] == ["check"] and any(a == "-" or a.endswith(".json") for a in args[1:]):
        args[0] = "policy_check"
    from django.core.management import execute_from_command_line

    execute_from_command_line(["cpnav", *args])


if __name__ == "__main__":
    main()
