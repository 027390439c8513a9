from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve CP Navigator with gunicorn (or Django's development server with --dev)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000", help="address:port to listen on")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--dev", action="store_true", help="use the auto-reloading dev server")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["workers"] < 1:
            self.stderr.write("--workers: must be at least 1")
            sys.exit(2)
        if options["dev"]:
            from django.core.management import call_command

            call_command("runserver", options["bind"])
            return
        argv = [
            sys.executable, "-m", "gunicorn", "cpnav.wsgi:application",
            "--bind", options["bind"], "--workers", str(options["workers"]),
            "--access-logfile", "-", "--forwarded-allow-ips", "127.0.0.1",
        ]  # fmt: skip
        self.stdout.write(f"Serving on http://{options['bind']}/ (Ctrl+C to stop)")
        sys.stdout.flush()
        os.execv(sys.executable, argv)  # noqa: S606  (fixed argv: our own interpreter and gunicorn)
