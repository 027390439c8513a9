from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cpnav.guide import search as search_module
from cpnav.guide.content import guide, load_guide
from cpnav.guide.models import SearchIndexState
from cpnav.guide.search import search

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "lang", "first"),
    [
        ("renew", "en", {"keeping-cp-current"}),
        ("extension", "en", {"keeping-cp-current"}),
        ("minor", "en", {"minors"}),
        ("federal partner", "en", {"who-can-request"}),
        ("T visa", "en", {"compared-with-other-relief"}),
        ("Significant Public Benefit Parole", "en", {"family-members"}),
        ("presencia continuada", "es", {"what-is-continued-presence", "victim-sheet"}),
        ("menores", "es", {"minors"}),
    ],
)
def test_relevant_pages_rank_first(query: str, lang: str, first: set[str]) -> None:
    hits = search(query, lang)
    assert hits, query
    assert hits[0].slug in first, [h.slug for h in hits[:5]]
    assert all(h.lang == lang for h in hits)


def test_snippets_highlight_matches_and_escape_html() -> None:
    hit = search("renew", "en")[0]
    assert "<mark>" in hit.snippet
    assert "<script" not in hit.snippet


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced quote',
        "renew AND OR NOT NEAR(",
        "title:renew*",
        "x" * 10_000,
        "\U0001f600\U0001f4a9",
        "'; DROP TABLE guide_searchdocument; --",
        "\x00\x01",
        "renew " * 200,
        "^*-+~()[]{}:\\",
    ],
)
def test_hostile_queries_never_error(client: Client, query: str) -> None:
    search(query, "en")
    response = client.get("/guide/en/search/", {"q": query})
    assert response.status_code == 200


def test_the_index_is_rebuilt_when_content_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    search("renew", "en")
    state = SearchIndexState.objects.get()
    assert state.fingerprint == guide().fingerprint
    changed = load_guide()
    object.__setattr__(changed, "fingerprint", "changed-content")
    monkeypatch.setattr(search_module, "guide", lambda: changed)
    search("renew", "en")
    assert SearchIndexState.objects.get().fingerprint == "changed-content"


def test_a_process_asks_whether_the_index_is_current_once_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(search_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    search("renew", "en")
    with CaptureQueriesContext(connection) as queries:
        assert search("renew", "en")
    assert not [q for q in queries if "guide_searchindexstate" in q["sql"]]
    # Another process (or a restore) left an index of other content: seen within the minute.
    SearchIndexState.objects.update(fingerprint="older-content")
    clock[0] += search_module.INDEX_CHECK_SECONDS
    with CaptureQueriesContext(connection) as queries:
        assert search("renew", "en")
    assert [q for q in queries if "guide_searchindexstate" in q["sql"]]
    assert SearchIndexState.objects.get().fingerprint == guide().fingerprint


def test_guide_pages_render(client: Client) -> None:
    response = client.get("/guide/en/who-qualifies/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "Last reviewed" in content
    assert 'id="source-tvpa-7105"' in content
    assert 'rel="next"' in content
    assert 'rel="prev"' in content
    assert "Leer en español" in content
    assert 'aria-current="page"' in content
    assert "On this page" in content


def test_index_and_redirects(client: Client) -> None:
    assert client.get("/guide/")["Location"] == "/guide/en/"
    assert client.get("/guide/en/").status_code == 200
    spanish = client.get("/guide/es/")
    assert 'lang="es"' in spanish.content.decode()
    assert "In English only" not in spanish.content.decode()
    for url in ("/guide/xx/", "/guide/en/no-such-page/", "/guide/xx/victim-sheet/"):
        assert client.get(url).status_code == 404


def test_quick_exit_only_on_victim_pages_and_nothing_from_third_parties(client: Client) -> None:
    for lang in ("en", "es"):
        page = client.get(f"/guide/{lang}/victim-sheet/").content.decode()
        assert 'id="quick-exit"' in page
        assert "quick-exit.js" in page
        for attribute in re.findall(
            r'<(?:script|link|img|iframe)[^>]+(?:src|href)="([^"]+)"', page
        ):
            assert attribute.startswith("/"), attribute
    other = client.get("/guide/en/minors/").content.decode()
    assert 'id="quick-exit"' not in other


def test_overdue_pages_are_flagged_to_system_admins(
    client: Client, make_user: object, settings: object
) -> None:
    from tests.conftest import signed_in

    settings.GUIDE_REVIEW_MONTHS = 1  # type: ignore[attr-defined]
    admin = make_user("root@sys.example", is_staff=True, is_superuser=True)  # type: ignore[operator]
    from datetime import date, timedelta

    from cpnav.guide.views import overdue_pages

    later = date.today() + timedelta(days=62)
    assert overdue_pages(guide(), later)
    signed_in(client, admin)
    assert client.get("/guide/en/minors/").status_code == 200


def test_search_page_shows_results(client: Client) -> None:
    page = client.get("/guide/en/search/", {"q": "minor"}).content.decode()
    assert "/guide/en/minors/" in page
    assert "<mark>" in page
    empty = client.get("/guide/en/search/", {"q": "zzzqqq"}).content.decode()
    assert "Nothing matched" in empty


def test_pdf_files_are_read_back(client: Client, settings: object, tmp_path: Path) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    settings.VAR_DIR = tmp_path  # type: ignore[attr-defined]
    response = client.get("/guide/en/guide.pdf")
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined]
    assert len(reader.pages) > 20
    assert "/StructTreeRoot" in reader.root_object  # tagged for accessibility
    text = "\n".join(page.extract_text() for page in reader.pages[:3])
    assert "Contents" in text
    assert "Who qualifies" in text
    assert re.search(r"Who qualifies \.+ \d+", text)
    cached = list((tmp_path / "cache" / "guide").glob("guide-en-*.pdf"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    client.get("/guide/en/guide.pdf")
    assert cached[0].stat().st_mtime_ns == mtime  # served from the cache
    for lang, words in (("en", "Continued Presence"), ("es", "presencia continuada")):
        sheet = client.get(f"/guide/{lang}/victim-sheet.pdf")
        sheet_reader = PdfReader(BytesIO(b"".join(sheet.streaming_content)))  # type: ignore[attr-defined]
        assert 1 <= len(sheet_reader.pages) <= 2
        assert words in " ".join(p.extract_text() for p in sheet_reader.pages).replace("\n", " ")
    assert client.get("/guide/en/nothing.pdf").status_code == 404
