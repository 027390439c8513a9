"""Render a package to PDF and DOCX and read both back.

Rendering takes a few tenths of a second, so the full package is rendered
once per module and each test reads the same bytes.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pytest
from docx import Document as open_docx
from docx.document import Document as DocxDocument
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from cpnav.documents.package import (
    CRITERION_LABELS,
    HANDLING_NOTICE,
    SUPPLEMENT_B_TITLE,
    PackageContext,
    PackageIncompleteError,
    documents_for,
    with_enabled,
)
from cpnav.documents.render import _font_config, package_html, render_docx, render_pdf
from tests.documents.conftest import ARABIC_NAME, SHEET_ES, make_context


def squash(text: str) -> str:
    """Text with all whitespace removed: PDF text extraction breaks lines
    (and long words in narrow table cells) wherever the layout did."""
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True)
class Rendered:
    ctx: PackageContext
    pdf: bytes
    docx: bytes

    @property
    def reader(self) -> PdfReader:
        return PdfReader(BytesIO(self.pdf))

    @property
    def pdf_text(self) -> str:
        return "\n".join(page.extract_text() for page in self.reader.pages)

    @property
    def document(self) -> DocxDocument:
        return open_docx(BytesIO(self.docx))

    @property
    def docx_text(self) -> str:
        return "\n".join(docx_texts(self.document))


def docx_texts(document: DocxDocument) -> Iterator[str]:
    for paragraph in document.paragraphs:
        yield paragraph.text
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                yield cell.text


def render(ctx: PackageContext, documents: Any = None) -> Rendered:
    documents = documents_for(ctx) if documents is None else documents
    return Rendered(ctx, render_pdf(ctx, documents), render_docx(ctx, documents))


@pytest.fixture(scope="module")
def full() -> Rendered:
    return render(make_context(supplement_b_draft=True))


# --- PDF ----------------------------------------------------------------------


def struct_tags(node: Any) -> Iterator[str]:
    """Structure element types in document order (a depth-first walk)."""
    if isinstance(node, IndirectObject):
        node = node.get_object()
    if isinstance(node, ArrayObject):
        for child in node:
            yield from struct_tags(child)
    elif isinstance(node, DictionaryObject):
        if "/S" in node:
            yield str(node["/S"])
        if "/K" in node:
            yield from struct_tags(node["/K"])


def test_pdf_is_tagged_titled_and_has_a_language(full: Rendered) -> None:
    reader = full.reader
    root = reader.root_object
    assert len(reader.pages) > 1
    assert "/StructTreeRoot" in root
    mark_info, preferences = root["/MarkInfo"], root["/ViewerPreferences"]
    assert isinstance(mark_info, DictionaryObject)
    assert isinstance(preferences, DictionaryObject)
    assert bool(mark_info["/Marked"])  # a pypdf BooleanObject, not True
    assert bool(preferences["/DisplayDocTitle"])
    assert str(root["/Lang"]) == "en"
    assert reader.metadata is not None
    assert reader.metadata.title == "Continued Presence request package CP-1A2B3C4D"


def test_pdf_headings_are_in_order_and_tables_have_header_cells(full: Rendered) -> None:
    tags = list(struct_tags(full.reader.root_object["/StructTreeRoot"]))
    levels = [int(t[2]) for t in tags if re.fullmatch(r"/H[1-6]", t)]
    assert levels[0] == 1
    assert levels.count(1) == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels))  # no skipped level
    assert {2, 3, 4} <= set(levels)
    assert "/Table" in tags
    assert "/TH" in tags
    assert "/TD" in tags


def test_pdf_every_page_carries_the_reference_notice_and_page_number(full: Rendered) -> None:
    pages = full.reader.pages
    for number, page in enumerate(pages, start=1):
        text = squash(page.extract_text())
        assert squash(f"CP-1A2B3C4D - {HANDLING_NOTICE}") in text
        assert squash(f"Page {number} of {len(pages)}") in text


def test_pdf_first_page_is_the_labelled_cover_memo(full: Rendered) -> None:
    first = squash(full.reader.pages[0].extract_text())
    assert squash("Cover memo") in first
    assert squash("the requesting agency's own structured summary and checklist") in first
    assert squash("official Continued Presence request form and its fields are not public") in first
    assert squash("Continued Presence is never conditioned on the victim's cooperation") in first


def test_pdf_holds_every_answer_and_criterion(full: Rendered) -> None:
    text = squash(full.pdf_text)
    for section in full.ctx.answers:
        assert squash(section.title) in text
        for row in section.rows:
            assert squash(row.label) in text
            assert squash(row.value) in text
    assert full.ctx.determination is not None
    for criterion in full.ctx.determination.criteria:
        assert squash(criterion.id) in text
        assert squash(CRITERION_LABELS[criterion.id]) in text
        assert squash(criterion.explanation) in text
        for citation in criterion.citations:
            assert squash(citation) in text


def test_pdf_text_survives_arabic_and_spanish(full: Rendered) -> None:
    text = full.pdf_text
    assert ARABIC_NAME in text  # DejaVu has the glyphs; extraction keeps logical order
    assert "\ufffd" not in text
    squashed = squash(text)
    for paragraph in SHEET_ES:
        assert squash(paragraph) in squashed


def test_pdf_metadata_does_not_name_the_victim(full: Rendered) -> None:
    reader = full.reader
    assert reader.metadata is not None
    info = " ".join(str(v) for v in reader.metadata.values())
    xmp = reader.root_object.get("/Metadata")
    if xmp is not None:
        info += xmp.get_object().get_data().decode("utf-8", "replace")
    for name in (full.ctx.person.full_name, *full.ctx.person.other_names):
        assert name not in info


# --- DOCX ---------------------------------------------------------------------


def test_docx_uses_heading_styles_for_every_document(full: Rendered) -> None:
    document = full.document
    headings = {
        p.text: p.style.name
        for p in document.paragraphs
        if p.style is not None and p.style.name.startswith("Heading")
    }
    assert headings["Continued Presence (CP) request package"] == "Heading 1"
    for doc in documents_for(full.ctx):
        assert headings[doc.title] == "Heading 2"
    assert headings["Criteria"] == "Heading 4"
    assert headings["Person"] == "Heading 3"
    # Each document starts a page, except the cover memo, which follows the title.
    breaks = [
        bool(p.paragraph_format.page_break_before)
        for p in document.paragraphs
        if p.style is not None and p.style.name == "Heading 2"
    ]
    assert breaks == [False] + [True] * (len(breaks) - 1)


def test_docx_holds_every_answer_and_criterion(full: Rendered) -> None:
    text = full.docx_text
    for section in full.ctx.answers:
        for row in section.rows:
            assert row.label in text
            assert row.value in text
    assert full.ctx.determination is not None
    for criterion in full.ctx.determination.criteria:
        assert criterion.id in text
        assert criterion.explanation in text
        assert "; ".join(criterion.citations) in text
    assert ARABIC_NAME in text
    assert all(paragraph in text for paragraph in SHEET_ES)


def test_docx_tables_have_a_repeated_header_row(full: Rendered) -> None:
    tables = full.document.tables
    assert tables
    for table in tables:
        first = table.rows[0]
        assert first._tr.trPr is not None
        assert first._tr.trPr.xpath("./w:tblHeader")
        assert all(run.bold for cell in first.cells for run in cell.paragraphs[0].runs)


def test_docx_properties_name_the_reference_not_the_victim(full: Rendered) -> None:
    props = full.document.core_properties
    assert props.title == "Continued Presence request package CP-1A2B3C4D"
    assert props.subject
    values = " ".join(
        str(getattr(props, field))
        for field in (
            "title",
            "subject",
            "author",
            "keywords",
            "comments",
            "category",
            "identifier",
            "last_modified_by",
        )
    )
    for name in (full.ctx.person.full_name, *full.ctx.person.other_names):
        assert name not in values
    assert "python-docx" not in values


def test_docx_footer_has_the_reference_notice_and_page_fields(full: Rendered) -> None:
    footer = full.document.sections[0].footer
    paragraph = footer.paragraphs[0]
    assert f"CP-1A2B3C4D - {HANDLING_NOTICE}" in paragraph.text
    instructions = paragraph._p.xpath("./w:fldSimple/@w:instr")
    assert instructions == ["PAGE", "NUMPAGES"]


def test_docx_marks_the_spanish_sheet_as_spanish(full: Rendered) -> None:
    spanish = [
        p
        for p in full.document.paragraphs
        if p.text in SHEET_ES and p.runs[0]._r.xpath(".//w:lang")
    ]
    assert len(spanish) == len(SHEET_ES)
    assert spanish[0].runs[0]._r.xpath(".//w:lang/@w:val") == ["es-US"]


# --- what is left out, and what cannot be rendered ----------------------------------


def test_disabled_documents_are_left_out_of_both_outputs() -> None:
    ctx = make_context(supplement_b_draft=False)
    documents = with_enabled(documents_for(ctx), "victim_sheet", False)
    out = render(ctx, documents)
    pdf, docx = squash(out.pdf_text), squash(out.docx_text)
    for absent in (SUPPLEMENT_B_TITLE, "Victim information sheet", SHEET_ES[0]):
        assert squash(absent) not in pdf
        assert squash(absent) not in docx
    assert squash("Completeness checklist") in pdf
    assert squash("Completeness checklist") in docx


def test_an_incomplete_package_is_refused() -> None:
    ctx = make_context(narrative="", determination=None)
    for renderer in (render_pdf, render_docx):
        with pytest.raises(PackageIncompleteError) as caught:
            renderer(ctx, documents_for(ctx))
        assert len(caught.value.missing) == 2


def test_an_extension_memo_names_the_current_term() -> None:
    ctx = make_context(
        kind="extension",
        decisions=[
            {
                "kind": "Granted",
                "recorded_on": "2024-12-02",
                "start_date": "2024-12-01",
                "end_date": "2026-11-30",
                "details": "Granted by CCHT",
            }
        ],
    )
    html = package_html(ctx, documents_for(ctx))
    assert "Request for an extension of Continued Presence" in html
    assert "granted for 2024-12-01 to 2026-11-30" in html


# --- rendering in a long-lived process ---------------------------------------------


def test_a_thread_keeps_its_font_configuration_and_shares_it_with_no_other() -> None:
    here = _font_config()
    assert _font_config() is here
    with ThreadPoolExecutor(max_workers=1) as pool:
        there = pool.submit(_font_config).result()
    assert there is not here


def test_packages_rendered_in_parallel_threads_match_one_rendered_alone(full: Rendered) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        pdfs = list(pool.map(lambda _: render_pdf(full.ctx, documents_for(full.ctx)), range(2)))
    assert all(pdf == full.pdf for pdf in pdfs)


def test_weasyprint_does_not_log_every_layout_step() -> None:
    """About twenty INFO lines per PDF otherwise; warnings (bad CSS, missing fonts) stay."""
    assert not logging.getLogger("weasyprint.progress").isEnabledFor(logging.INFO)
    assert logging.getLogger("weasyprint").isEnabledFor(logging.WARNING)
    assert not logging.getLogger("fontTools.subset").isEnabledFor(logging.INFO)


# --- hostile input ------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script> {{ x }} {% x %} \u202eevil\u202c \x00end"
INERT = "<script>alert(1)</script> {{ x }} {% x %} evil end"


@pytest.fixture(scope="module")
def hostile() -> Rendered:
    ctx = make_context(
        narrative=f"Before. {HOSTILE}",
        answers=[{"title": "Hostile", "rows": [{"label": HOSTILE, "value": HOSTILE}]}],
        person={"full_name": f"Name {HOSTILE}", "other_names": [HOSTILE]},
        supplement_b_draft=True,
    )
    return render(ctx)


def test_hostile_text_is_cleaned_before_it_reaches_a_renderer(hostile: Rendered) -> None:
    assert hostile.ctx.answers[0].rows[0].value == INERT


def test_hostile_text_is_escaped_in_the_html(hostile: Rendered) -> None:
    html = package_html(hostile.ctx, documents_for(hostile.ctx))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ x }} {% x %} evil end" in html
    assert "\u202e" not in html
    assert "\x00" not in html


def test_hostile_text_is_shown_literally_in_the_pdf(hostile: Rendered) -> None:
    text = squash(hostile.pdf_text)
    assert text.count(squash(INERT)) >= 4
    assert "\u202e" not in hostile.pdf_text
    assert b"/JavaScript" not in hostile.pdf
    assert b"/JS" not in hostile.pdf


def test_hostile_text_is_shown_literally_in_the_docx(hostile: Rendered) -> None:
    texts = list(docx_texts(hostile.document))
    assert sum(INERT in t for t in texts) >= 4
    assert not any("\u202e" in t or "\x00" in t for t in texts)
