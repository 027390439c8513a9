from __future__ import annotations

import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cpnav.guide.content import LANGUAGES, GuideContentError, load_guide
from cpnav.guide.pdf import KINDS, cached_pdf
from cpnav.guide.search import ensure_index, rebuild
from cpnav.guide.views import overdue_pages


class Command(BaseCommand):
    help = (
        "Resource guide tools: `check` validates every page and lists overdue reviews; "
        "`index` (re)builds the search index; `pdf` renders the cached PDFs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["check", "index", "pdf"])
        parser.add_argument("--force", action="store_true", help="index: rebuild even if unchanged")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            current = load_guide()
        except GuideContentError as error:
            self.stderr.write(f"guide content error: {error}")
            sys.exit(2)
        action = options["action"]
        if action == "check":
            counts = ", ".join(f"{lang}: {len(pages)}" for lang, pages in current.pages.items())
            self.stdout.write(f"guide content valid ({counts} pages)")
            for page, due in overdue_pages(current, date.today()):
                self.stdout.write(f"review overdue since {due}: {page.lang}/{page.slug}")
        elif action == "index":
            if options["force"]:
                rebuild(current)
                self.stdout.write("search index rebuilt")
            else:
                changed = ensure_index(current)
                self.stdout.write("search index rebuilt" if changed else "search index up to date")
        else:
            for lang in LANGUAGES:
                for kind in KINDS:
                    self.stdout.write(f"{cached_pdf(lang, kind)}")
