"""Content checks: every guide page is dated, sourced, linked and structured."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from cpnav.guide.content import Guide, GuideContentError, load_guide
from cpnav.guide.readability import fernandez_huerta, flesch_kincaid_grade, prose, stats


@pytest.fixture(scope="module")
def content() -> Guide:
    return load_guide()


def all_pages(content: Guide) -> list:  # type: ignore[type-arg]
    return [page for pages in content.pages.values() for page in pages]


REQUIRED_EN = {
    "what-is-continued-presence", "who-qualifies", "why-it-helps", "who-can-request",
    "preparing-a-request", "after-the-request", "the-grant", "keeping-cp-current", "minors",
    "family-members", "compared-with-other-relief", "victim-centred-practice",
    "contacts-and-training", "forced-labor-and-imports", "glossary", "faq", "sources",
    "victim-sheet",
}  # fmt: skip


def test_every_required_page_exists(content: Guide) -> None:
    assert {p.slug for p in content.pages["en"]} >= REQUIRED_EN
    assert content.page("es", "victim-sheet") is not None


def test_every_page_has_sources_a_review_date_and_cites(content: Guide) -> None:
    for page in all_pages(content):
        assert page.meta.sources, page.path
        assert page.meta.last_reviewed <= date.today(), page.path
        assert page.meta.changelog, page.path
        if page.slug != "sources":
            assert page.cited, f"{page.path}: cites no source"


ONE_YEAR = re.compile(r"\b(1|one)[- ]year\b|\bun año\b|\bde año en año\b", re.IGNORECASE)
HISTORICAL = ("no longer", "used to", "older", "out of date", "for years", "history",
              "ya no", "antigua", "historia", "durante años")  # fmt: skip


def test_no_page_presents_a_one_year_term_as_current(content: Guide) -> None:
    for page in all_pages(content):
        for block in page.blocks:
            if ONE_YEAR.search(block):
                lowered = block.lower()
                assert any(marker in lowered for marker in HISTORICAL), (page.path, block)


def test_every_internal_link_and_glossary_term_resolves(content: Guide) -> None:
    checked = 0
    for page in all_pages(content):
        for href in re.findall(r'href="(/guide/[^"]*)"', page.html):
            match = re.fullmatch(r"/guide/(en|es)/([a-z0-9-]+)/(?:#(.+))?", href)
            assert match, (page.path, href)
            target = content.page(match.group(1), match.group(2))
            assert target is not None, (page.path, href)
            if match.group(3):
                anchors = {h.anchor for h in target.headings}
                assert match.group(3) in anchors, (page.path, href)
            checked += 1
        for anchor in re.findall(r'href="#([^"]+)"', page.html):
            assert anchor.startswith("source-"), (page.path, anchor)
            assert anchor.removeprefix("source-") in {s.id for s in page.meta.sources}
        for href in re.findall(r'href="(/(?!guide/)[^"]*)"', page.html):
            assert href in {"/check", "/check/"}, (page.path, href)
    assert checked > 50


def test_glossary_terms_are_linked_from_pages(content: Guide) -> None:
    glossary = content.page("en", "glossary")
    assert glossary is not None
    terms = {h.anchor for h in glossary.headings if h.level == 3}
    assert len(terms) >= 15
    linked = {
        anchor
        for page in content.pages["en"]
        for anchor in re.findall(r'href="/guide/en/glossary/#([^"]+)"', page.html)
    }
    assert linked
    assert linked <= terms


def test_heading_levels_never_skip(content: Guide) -> None:
    for page in all_pages(content):
        previous = 1  # the page title is the h1
        for heading in page.headings:
            assert heading.level <= previous + 1, (page.path, heading.text)
            previous = heading.level


def test_phone_numbers_are_click_to_call(content: Guide) -> None:
    contacts = content.page("en", "contacts-and-training")
    assert contacts is not None
    for number in ("+18883737888", "+18333831465", "+18664015510"):
        assert f'href="tel:{number}"' in contacts.html


def test_victim_sheet_reading_level(content: Guide) -> None:
    english = content.page("en", "victim-sheet")
    spanish = content.page("es", "victim-sheet")
    assert english is not None
    assert spanish is not None
    en_text, es_text = prose(english.blocks), prose(spanish.blocks)
    # English: Flesch-Kincaid grade 6 to 8 is the target; allow up to 8.5.
    assert 4.0 <= flesch_kincaid_grade(en_text) <= 8.5
    # Spanish: Fernandez-Huerta 70+ reads as "fairly easy" (about 7th grade) or easier.
    assert fernandez_huerta(es_text) >= 70
    # Short enough for a one- or two-page handout.
    assert stats(en_text, "en").words <= 500
    assert stats(es_text, "es").words <= 500


def test_readability_formulas_separate_easy_from_hard() -> None:
    easy = "We can help you. You can stay. You can work. Call us any time."
    hard = (
        "Notwithstanding jurisdictional considerations, administrative adjudication "
        "necessitates comprehensive documentation substantiating eligibility determinations."
    )
    assert flesch_kincaid_grade(easy) < 3 < 12 < flesch_kincaid_grade(hard)
    assert fernandez_huerta("Te ayudamos. Puedes quedarte. Llama hoy.") > fernandez_huerta(
        "La administración estadounidense considerará detalladamente las circunstancias particulares."
    )


def write(root: Path, name: str, text: str, lang: str = "en") -> None:
    (root / lang).mkdir(parents=True, exist_ok=True)
    (root / lang / name).write_text(text)


GOOD = """---
title: A test page
slug: a-test-page
order: 1
summary: A summary long enough to pass.
audience: everyone
last_reviewed: 2026-01-01
sources:
  - id: src
    title: A source
changelog:
  - date: 2026-01-01
    change: First version.
---
## Heading

A claim [@src].
"""


def test_a_good_file_loads(tmp_path: Path) -> None:
    write(tmp_path, "a-test-page.md", GOOD)
    loaded = load_guide(tmp_path)
    assert loaded.pages["en"][0].cited == ("src",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("last_reviewed: 2026-01-01\n", ""), "last_reviewed"),
        (GOOD.replace("[@src]", "[@nowhere]"), "a-test-page.md:17: citation @nowhere"),
        (GOOD.replace("slug: a-test-page", "slug: another"), "must equal the file name"),
        (GOOD.replace("audience: everyone", "audience: [bad"), "a-test-page.md:7: front matter"),
        (GOOD.replace("---\ntitle", "title", 1), "must start with '---'"),
        (GOOD.replace("order: 1", "order: 1\nsecret: x"), "secret"),
    ],
)
def test_a_bad_file_fails_with_its_name_and_line(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "a-test-page.md", text)
    with pytest.raises(GuideContentError, match=re.escape(message)):
        load_guide(tmp_path)
