"""Full-text search over the guide: SQLite FTS5, or PostgreSQL text search.

User input never reaches the query syntax: it is cut into word tokens, each
quoted (FTS5) or passed as a bound parameter (PostgreSQL), so operators,
quotes, very long input or emoji can only ever mean "no results".
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils.safestring import SafeString, mark_safe

from cpnav.guide.content import Guide, guide
from cpnav.guide.models import SearchDocument, SearchIndexState

MAX_TOKENS = 12
MAX_TOKEN_LENGTH = 40
MAX_QUERY_LENGTH = 500
START, STOP = "\ue000", "\ue001"  # private-use marks, replaced by <mark> after escaping
CONFIG = {"en": "english", "es": "spanish"}
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Hit:
    lang: str
    slug: str
    title: str
    snippet: SafeString


def tokens(query: str) -> list[str]:
    words = _WORD.findall(query[:MAX_QUERY_LENGTH].lower())
    return [w[:MAX_TOKEN_LENGTH] for w in words if w.strip("_")][:MAX_TOKENS]


# A process that found the index current does not ask again for this long: the
# content only changes with a release, and a restored database is re-checked soon.
INDEX_CHECK_SECONDS = 60
_checked: tuple[str, float] | None = None  # (fingerprint, time.monotonic() of the check)


def forget_checked() -> None:
    """Ask the database again at the next search (tests: their database is new)."""
    global _checked
    _checked = None


def ensure_index(current: Guide | None = None) -> bool:
    """Rebuild the index if the content changed since it was built; True if rebuilt."""
    global _checked
    current = current or guide()
    now = time.monotonic()
    fresh = _checked is not None and now - _checked[1] < INDEX_CHECK_SECONDS
    if fresh and _checked is not None and _checked[0] == current.fingerprint:
        return False
    state = SearchIndexState.objects.filter(pk=1).first()
    rebuilt = state is None or state.fingerprint != current.fingerprint
    if rebuilt:
        rebuild(current)
    _checked = (current.fingerprint, now)
    return rebuilt


def rebuild(current: Guide) -> None:
    with transaction.atomic():
        state, _ = SearchIndexState.objects.select_for_update().get_or_create(
            pk=1, defaults={"fingerprint": ""}
        )
        SearchDocument.objects.all().delete()
        SearchDocument.objects.bulk_create(
            SearchDocument(
                lang=page.lang,
                slug=page.slug,
                title=page.title,
                summary=page.meta.summary,
                body=page.text,
            )
            for pages in current.pages.values()
            for page in pages
        )
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("INSERT INTO guide_fts(guide_fts) VALUES('rebuild')")
            elif connection.vendor == "postgresql":
                cursor.execute(
                    """
                    UPDATE guide_searchdocument SET document =
                      setweight(to_tsvector(c.cfg, title), 'A') ||
                      setweight(to_tsvector(c.cfg, summary), 'B') ||
                      setweight(to_tsvector(c.cfg, body), 'C')
                    FROM (VALUES ('en', 'english'::regconfig), ('es', 'spanish'::regconfig))
                         AS c(code, cfg)
                    WHERE c.code = guide_searchdocument.lang
                    """
                )
        state.fingerprint = current.fingerprint
        state.save()


def search(query: str, lang: str, limit: int = 20) -> list[Hit]:
    words = tokens(query)
    if not words or lang not in CONFIG:
        return []
    ensure_index()
    run = _sqlite if connection.vendor == "sqlite" else _postgres
    hits = run(words, lang, limit, any_word=False)
    if not hits and len(words) > 1:
        hits = run(words, lang, limit, any_word=True)
    return hits


def _highlight(raw: str) -> SafeString:
    escaped = html.escape(raw)
    return mark_safe(escaped.replace(START, "<mark>").replace(STOP, "</mark>"))  # noqa: S308  (escaped above)


def _sqlite(words: list[str], lang: str, limit: int, *, any_word: bool) -> list[Hit]:
    expression = (" OR " if any_word else " ").join(f'"{w}"' for w in words)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT d.lang, d.slug, d.title,
                   snippet(guide_fts, -1, %s, %s, '…', 24)
            FROM guide_fts JOIN guide_searchdocument d ON d.id = guide_fts.rowid
            WHERE guide_fts MATCH %s AND d.lang = %s
            ORDER BY bm25(guide_fts, 10.0, 4.0, 1.0)
            LIMIT %s
            """,
            [START, STOP, expression, lang, limit],
        )
        return [Hit(row[0], row[1], row[2], _highlight(row[3])) for row in cursor.fetchall()]


def _postgres(words: list[str], lang: str, limit: int, *, any_word: bool) -> list[Hit]:
    config = CONFIG[lang]
    joiner = " || " if any_word else " && "
    query_sql = joiner.join(["plainto_tsquery(%s::regconfig, %s)"] * len(words))
    params: list[str] = []
    for word in words:
        params += [config, word]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT lang, slug, title,
                   ts_headline(%s::regconfig, summary || ' ' || body, q,
                               'StartSel={START}, StopSel={STOP}, MaxWords=35, MinWords=15, MaxFragments=1')
            FROM guide_searchdocument, ({"SELECT " + query_sql} ) AS t(q)
            WHERE lang = %s AND numnode(q) > 0 AND document @@ q
            ORDER BY ts_rank_cd(document, q) DESC, title
            LIMIT %s
            """,  # noqa: S608  (only placeholders are interpolated; values are bound)
            [config, *params, lang, limit],
        )
        return [Hit(row[0], row[1], row[2], _highlight(row[3])) for row in cursor.fetchall()]
