from __future__ import annotations

from datetime import date
from functools import lru_cache

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation

from cpnav.accounts.access import signed_in
from cpnav.guide.content import LANGUAGES, Guide, Page, guide
from cpnav.guide.pdf import KINDS, cached_pdf
from cpnav.guide.search import MAX_QUERY_LENGTH, search


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)


def review_due(page: Page) -> date:
    return add_months(page.meta.last_reviewed, settings.GUIDE_REVIEW_MONTHS)


def overdue_pages(current: Guide, today: date) -> list[tuple[Page, date]]:
    """Pages whose review date has passed (CPNAV_GUIDE_REVIEW_MONTHS after last review)."""
    return [
        (page, review_due(page))
        for pages in current.pages.values()
        for page in pages
        if review_due(page) < today
    ]


def _lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise Http404("No such language.")
    return lang


def home(request: HttpRequest) -> HttpResponse:
    lang = translation.get_language() or "en"
    return redirect("guide:index", lang="es" if lang.startswith("es") else "en")


@lru_cache(maxsize=1024)
def page_url(lang: str, slug: str) -> str:
    """A guide page's address, worked out once per process: every guide page lists
    all the others, and reversing each on every request was a fifth of a search."""
    return reverse("guide:page", args=[lang, slug])


def _context(lang: str, current: Guide, **extra: object) -> dict[str, object]:
    pages = current.pages[lang]
    english_only = [p for p in current.pages["en"] if not current.translations(p).get(lang)]
    return {
        "lang": lang,
        "nav_pages": [(p, page_url(lang, p.slug)) for p in pages],
        "english_only": english_only if lang != "en" else [],
        **extra,
    }


def index(request: HttpRequest, lang: str) -> HttpResponse:
    current = guide()
    with translation.override(_lang(lang)):
        return render(request, "guide/index.html", _context(lang, current))


def page(request: HttpRequest, lang: str, slug: str) -> HttpResponse:
    current = guide()
    found = current.page(_lang(lang), slug)
    if found is None:
        raise Http404("No such guide page.")
    previous, following = current.neighbours(found)
    user = signed_in(request.user)
    with translation.override(lang):
        return render(
            request,
            "guide/page.html",
            _context(
                lang,
                current,
                page=found,
                previous=previous,
                following=following,
                translations=current.translations(found),
                sources=[(s, s.id in found.cited) for s in found.meta.sources],
                review_due=review_due(found),
                overdue=bool(user and user.is_system_admin and review_due(found) < date.today()),
                quick_exit_url=settings.QUICK_EXIT_URL,
            ),
        )


def search_view(request: HttpRequest, lang: str) -> HttpResponse:
    current = guide()
    query = request.GET.get("q", "")[:MAX_QUERY_LENGTH]
    hits = search(query, _lang(lang)) if query.strip() else []
    with translation.override(lang):
        return render(request, "guide/search.html", _context(lang, current, query=query, hits=hits))


def pdf(request: HttpRequest, lang: str, kind: str) -> FileResponse:
    if kind not in KINDS:
        raise Http404("No such document.")
    path = cached_pdf(_lang(lang), kind)
    name = f"cp-navigator-{kind}-{lang}.pdf"
    return FileResponse(path.open("rb"), content_type="application/pdf", filename=name)
