"""A package as one tagged PDF (WeasyPrint) and as an editable DOCX (python-docx).

Both walk the same outline (``outline.py``), so they carry the same words.
Neither puts the victim's name in file metadata: titles use the reference.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import threading
from collections.abc import Iterable, Iterator
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from django.template.loader import render_to_string

from cpnav.documents.outline import (
    Block,
    Bullets,
    Facts,
    Heading,
    Outline,
    Para,
    Table,
    outline,
    package_title,
)
from cpnav.documents.package import (
    HANDLING_NOTICE,
    Document,
    PackageContext,
    PackageIncompleteError,
    missing_for_package,
)

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.text.paragraph import Paragraph

HERE: Final = Path(__file__).parent
STYLESHEET: Final = HERE / "static" / "documents" / "package.css"
SUBJECT: Final = (
    "Continued Presence request package: the requesting agency's own structured summary "
    "and checklist (the official request form is not public)"
)
LANG_TAGS: Final = {"en": "en-US", "es": "es-US"}


def _prepare(ctx: PackageContext, documents: Iterable[Document]) -> Outline:
    documents = list(documents)
    missing = missing_for_package(ctx, documents)
    if missing:
        raise PackageIncompleteError(missing)
    return outline(ctx, documents)


# --- PDF -----------------------------------------------------------------------


@functools.cache
def _stylesheet() -> Any:
    """Parsed once per process. WeasyPrint is imported here: it is slow to import."""
    # WeasyPrint ships no type information.
    from weasyprint import CSS  # type: ignore[import-untyped]

    return CSS(filename=str(STYLESHEET))


_per_thread: Final = threading.local()


def _font_config() -> Any:
    """This thread's WeasyPrint FontConfiguration, kept across renders.

    WeasyPrint otherwise makes a new one per PDF: Fontconfig reads its
    configuration and font files again (about 200 file opens per package),
    Pango starts from an empty font map, and the line strut and font feature
    caches held by the configuration start empty. That cost about 7 % of a
    package's CPU time, more of its wall time on a busy disk, and left a
    little memory behind per PDF. One per thread, not per process:
    Pango font maps and the cached layouts are not safe to share between
    threads. Gunicorn's sync workers render on one thread, so one each; a
    thread's configuration goes when the thread ends. The package stylesheet
    has no ``@font-face`` rules (system DejaVu only), so nothing is added to
    the configuration from one package to the next.
    """
    font_config = getattr(_per_thread, "font_config", None)
    if font_config is None:
        from weasyprint.text.fonts import FontConfiguration  # type: ignore[import-untyped]

        font_config = _per_thread.font_config = FontConfiguration()
    return font_config


def package_html(ctx: PackageContext, documents: Iterable[Document]) -> str:
    return render_to_string(
        "documents/package.html",
        {
            "ctx": ctx,
            "outline": _prepare(ctx, documents),
            "title": package_title(ctx),
            "subject": SUBJECT,
            "notice": HANDLING_NOTICE,
        },
    )


def render_pdf(ctx: PackageContext, documents: Iterable[Document]) -> bytes:
    """One tagged PDF (PDF/UA-1) holding every enabled document, in order."""
    from weasyprint import HTML

    html = HTML(string=package_html(ctx, documents), base_url=str(HERE))
    with _collector_paused():
        pdf = html.write_pdf(
            stylesheets=[_stylesheet()],
            font_config=_font_config(),
            pdf_variant="pdf/ua-1",
            pdf_tags=True,
        )
    return bytes(pdf)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while WeasyPrint lays out a package.

    Layout builds tens of thousands of objects that live until the PDF is
    written; the collector kept rescanning them and took a fifth of the render
    time. Reference counting still frees memory meanwhile, and the collector
    resumes afterwards (unless it was off already) and picks up any cycles.
    Another thread's render may resume it early, which only costs that render
    some speed.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- DOCX ----------------------------------------------------------------------


def render_docx(ctx: PackageContext, documents: Iterable[Document]) -> bytes:
    """The same package as an editable Word document with real headings and tables."""
    import docx

    plan = _prepare(ctx, documents)
    doc = docx.Document()  # its default language is already en-US
    _set_properties(doc, ctx)
    _footer(doc, ctx)
    writer = _DocxWriter(doc)
    writer.heading(plan.title, 1)
    writer.paragraph(plan.subtitle, bold=True)
    for para in plan.front:
        writer.para(para)
    for index, part in enumerate(plan.parts):
        heading = writer.heading(part.title, 2)
        # Each document on a new page, as in the PDF; the first follows the title.
        heading.paragraph_format.page_break_before = index > 0
        for block in part.blocks:
            writer.block(block)
    out = BytesIO()
    doc.save(out)
    return out.getvalue()


class _DocxWriter:
    """Adds blocks to a python-docx document.

    Style ids are looked up once: python-docx resolves a style *name* by
    scanning every style on each call, which was half the time of a package.
    """

    def __init__(self, doc: DocxDocument) -> None:
        self.doc = doc
        styles = doc.styles
        self.heading_ids = {n: styles[f"Heading {n}"].style_id for n in (1, 2, 3, 4)}
        self.bullet_id = styles["List Bullet"].style_id
        self.table_id = styles["Table Grid"].style_id
        section = doc.sections[0]
        self.text_width = (
            (section.page_width or 0) - (section.left_margin or 0) - (section.right_margin or 0)
        )
        assert self.text_width > 0

    def _styled(self, style_id: str | None) -> Paragraph:
        paragraph = self.doc.add_paragraph()
        if style_id is not None:
            paragraph._p.style = style_id
        return paragraph

    def heading(self, text: str, level: int) -> Paragraph:
        paragraph = self._styled(self.heading_ids[level])
        paragraph.add_run(text)
        return paragraph

    def paragraph(
        self,
        text: str,
        *,
        label: str = "",
        bold: bool = False,
        note: bool = False,
        lang: str = "",
    ) -> Paragraph:
        from docx.shared import Pt

        paragraph = self._styled(None)
        if label:
            paragraph.add_run(f"{label}: ").bold = True
        run = paragraph.add_run(text)  # python-docx turns "\n" into a line break
        if bold:
            run.bold = True
        if note:
            run.italic = True
            run.font.size = Pt(9)
        if lang:
            _run_language(run._r, lang)
        return paragraph

    def para(self, para: Para) -> None:
        self.paragraph(
            para.text,
            label=para.label,
            bold=para.style == "strong",
            note=para.style == "note",
            lang=LANG_TAGS.get(para.lang, ""),
        )

    def block(self, block: Block) -> None:
        if isinstance(block, Heading):
            self.heading(block.text, block.level)
        elif isinstance(block, Para):
            self.para(block)
        elif isinstance(block, Facts):
            for label, value in block.rows:
                self.paragraph(value, label=label).paragraph_format.space_after = 0
        elif isinstance(block, Bullets):
            for item in block.items:
                self._styled(self.bullet_id).add_run(item)
        else:
            self.table(block)

    def table(self, block: Table) -> None:
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        table = self.doc.add_table(rows=1 + len(block.rows), cols=len(block.widths))
        table._tbl.tblStyle_val = self.table_id
        table.autofit = False
        # Alternative text for screen readers (Word: Table Properties > Alt Text).
        caption = OxmlElement("w:tblCaption")
        caption.set(qn("w:val"), block.caption)
        table._tbl.tblPr.append(caption)
        widths = [self.text_width * w // 100 for w in block.widths]
        for column, width in zip(table.columns, widths, strict=True):
            column.width = width
        rows = table.rows
        # Repeat the header row on each page; Word also reads it as the header.
        rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
        for cell, name, width in zip(rows[0].cells, block.columns, widths, strict=True):
            cell.width = width
            cell.paragraphs[0].add_run(name).bold = True
        for row, values in zip(rows[1:], block.rows, strict=True):
            cells = zip(row.cells, values, widths, strict=True)
            for index, (cell, value, width) in enumerate(cells):
                cell.width = width  # Word reads cell widths, LibreOffice the grid
                run = cell.paragraphs[0].add_run(value)
                if index == 0:
                    run.bold = True


def _set_properties(doc: DocxDocument, ctx: PackageContext) -> None:
    # Only the reference and the agency: file metadata travels further than the
    # file (search indexes, mail previews) and must not name the victim.
    props = doc.core_properties
    props.title = package_title(ctx)
    props.subject = SUBJECT
    props.author = ctx.generated_by.name
    props.last_modified_by = ctx.generated_by.name
    props.keywords = "Continued Presence; CP; CJI"
    props.category = "CJI"
    props.comments = HANDLING_NOTICE
    props.identifier = ctx.reference
    props.language = "en-US"
    props.created = ctx.generated_at
    props.modified = ctx.generated_at
    props.revision = 1


def _footer(doc: DocxDocument, ctx: PackageContext) -> None:
    """Reference, handling notice and "Page X of Y" (Word fields) on every page."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt
    from docx.text.run import Run

    paragraph = doc.sections[0].footer.paragraphs[0]
    paragraph.add_run(f"{ctx.reference} - {HANDLING_NOTICE} - Page ")
    for instruction in ("PAGE", "NUMPAGES"):
        field = OxmlElement("w:fldSimple")
        field.set(qn("w:instr"), instruction)
        field.append(_text_run("1"))
        paragraph._p.append(field)
        if instruction == "PAGE":
            paragraph._p.append(_text_run(" of "))
    for r in paragraph._p.iter(qn("w:r")):  # the field results too
        Run(r, paragraph).font.size = Pt(8)


def _text_run(text: str) -> Any:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = OxmlElement("w:r")
    element = OxmlElement("w:t")
    element.set(qn("xml:space"), "preserve")
    element.text = text
    run.append(element)
    return run


def _run_language(r: Any, tag: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), tag)
    r.get_or_add_rPr().append(lang)
