"""The guide and the victim sheet as tagged PDFs (WeasyPrint), cached per content version."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from cpnav.guide.content import Guide, Page, guide

KINDS = ("guide", "victim-sheet")


def cache_path(lang: str, kind: str, current: Guide) -> Path:
    return Path(settings.VAR_DIR) / "cache" / "guide" / f"{kind}-{lang}-{current.fingerprint}.pdf"


def pages_for(lang: str, kind: str, current: Guide) -> list[Page]:
    pages = list(current.pages.get(lang, ()))
    if kind == "victim-sheet":
        return [p for p in pages if p.slug == "victim-sheet"]
    return [p for p in pages if p.slug != "victim-sheet"]


def pdf_html(page: Page, *, demote: bool, included: frozenset[str]) -> str:
    """A page's HTML made safe to join with others in one document.

    Ids get the page's slug as a prefix (two pages may both have an
    "overview" heading or cite the same source), links to other guide pages
    become links inside the PDF, and headings move one level down when the
    page title is itself a second-level heading.
    """
    prefix = page.slug
    body = re.sub(r'id="([^"]+)"', rf'id="{prefix}-\1"', page.html)
    body = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', body)

    def internal(match: re.Match[str]) -> str:
        slug, anchor = match.group(2), match.group(3)
        if slug not in included:  # a page not in this PDF: link to the site
            return f'href="{settings.BASE_URL}{match.group(1)}"'
        return f'href="#{slug}-{anchor}"' if anchor else f'href="#page-{slug}"'

    body = re.sub(r'href="(/guide/(?:en|es)/([a-z0-9-]+)/(?:#([^"]+))?)"', internal, body)
    body = re.sub(r'href="/([^"]*)"', rf'href="{settings.BASE_URL}/\1"', body)
    if demote:
        body = re.sub(r"<(/?)h([1-5])\b", lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}", body)
    return body


def render_pdf(lang: str, kind: str, current: Guide | None = None) -> bytes:
    """Render now, without the cache. WeasyPrint is imported here: it is slow to import."""
    # WeasyPrint ships no type information.
    from weasyprint import HTML  # type: ignore[import-untyped]

    current = current or guide()
    chosen = pages_for(lang, kind, current)
    included = frozenset(page.slug for page in chosen)
    pages = [(page, pdf_html(page, demote=kind == "guide", included=included)) for page in chosen]
    with translation.override(lang):
        document = render_to_string(
            "guide/pdf.html",
            {"pages": pages, "kind": kind, "lang": lang, "generated": timezone.now().date()},
        )
    stylesheet = Path(__file__).parent / "static" / "guide" / "pdf.css"
    return bytes(
        HTML(string=document, base_url=str(Path(__file__).parent)).write_pdf(
            stylesheets=[str(stylesheet)], pdf_variant="pdf/ua-1", pdf_tags=True
        )
    )


def cached_pdf(lang: str, kind: str) -> Path:
    """The PDF for this content version, rendered once and kept until the content changes."""
    current = guide()
    path = cache_path(lang, kind, current)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    data = render_pdf(lang, kind, current)
    # Write to a temporary file and rename, so a reader never sees half a PDF.
    fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
    for stale in path.parent.glob(f"{kind}-{lang}-*.pdf"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return path
