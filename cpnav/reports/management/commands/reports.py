from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cpnav.core.jobs import Busy, exclusive, report_busy
from cpnav.reports import services


class Command(BaseCommand):
    help = (
        "Program metrics: `refresh` computes CCHT's national figures now and keeps them "
        "(schedule it more often than CPNAV_REPORT_CACHE_SECONDS)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["refresh"])
        parser.add_argument(
            "--fiscal-years",
            type=int,
            default=2,
            help=f"the latest fiscal years to compute, current first "
            f"(1 to {services.MAX_REFRESH_YEARS}; default 2)",
        )
        parser.add_argument(
            "--quarters", action="store_true", help="also each quarter of them that has begun"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            periods = services.refresh_periods(
                timezone.localdate(), options["fiscal_years"], quarters=options["quarters"]
            )
        except ValueError as error:
            raise CommandError(f"--fiscal-years: {error}", returncode=2) from None
        try:
            # The national figures are heavy: one server computes them, the others skip.
            with exclusive("reports-refresh"):
                for period, language, seconds in services.refresh(periods):
                    self.stdout.write(
                        f"{services.describe(period)} [{language}]: computed in {seconds:.1f} s"
                    )
        except Busy as busy:
            report_busy(self, busy)
        except ValueError as error:
            raise CommandError(str(error), returncode=2) from None
