"""The resource guide's pages: Markdown files with validated front matter.

Loaded once per process from ``content/guide/<lang>/``. A bad file fails
loudly with its path (and the line, for front matter). Rendering rewrites
links between pages to site URLs, turns ``[@source-id]`` into numbered links
to the page's source list, and collects the headings for in-page navigation.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CONTENT_ROOT = Path(__file__).resolve().parents[2] / "content" / "guide"
LANGUAGES = ("en", "es")
SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
CITATION = re.compile(r"\[(@[a-z0-9][a-z0-9-]*(?:\s*;\s*@[a-z0-9][a-z0-9-]*)*)\]")
PAGE_LINK = re.compile(r"^(?:\.\./(en|es)/)?([a-z0-9-]+)\.md(#[^\s]*)?$")


class GuideContentError(ValueError):
    """A guide file that does not meet the rules; the message names the file."""


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=3)
    url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    accessed: date | None = None


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    date: date
    change: str = Field(min_length=3)


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=3, max_length=120)
    slug: str = Field(pattern=SLUG)
    order: int = Field(ge=1, le=999)
    summary: str = Field(min_length=10, max_length=400)
    audience: Literal["law_enforcement", "victim", "everyone"]
    last_reviewed: date
    translation_of: str | None = Field(default=None, pattern=SLUG)
    sources: tuple[Source, ...] = Field(min_length=1)
    changelog: tuple[Change, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_sources(self) -> FrontMatter:
        ids = [s.id for s in self.sources]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate source ids: {', '.join(duplicates)}")
        return self


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str


@dataclass(frozen=True)
class Page:
    lang: str
    meta: FrontMatter
    body: str  # Markdown, without front matter
    path: Path
    html: str = ""
    headings: tuple[Heading, ...] = ()
    text: str = ""  # plain text, for search
    blocks: tuple[str, ...] = ()  # headings, paragraphs and list items as plain text
    cited: tuple[str, ...] = ()  # source ids in first-cited order

    @property
    def slug(self) -> str:
        return self.meta.slug

    @property
    def title(self) -> str:
        return self.meta.title

    @property
    def is_victim_facing(self) -> bool:
        return self.meta.audience == "victim"


@dataclass(frozen=True)
class Guide:
    pages: dict[str, tuple[Page, ...]] = field(default_factory=dict)  # lang -> ordered pages
    fingerprint: str = ""

    def page(self, lang: str, slug: str) -> Page | None:
        return next((p for p in self.pages.get(lang, ()) if p.slug == slug), None)

    def neighbours(self, page: Page) -> tuple[Page | None, Page | None]:
        pages = self.pages[page.lang]
        index = pages.index(page)
        previous = pages[index - 1] if index > 0 else None
        following = pages[index + 1] if index + 1 < len(pages) else None
        return previous, following

    def translations(self, page: Page) -> dict[str, Page]:
        """The same page in each language (English is the original)."""
        original = page.meta.translation_of or page.slug
        found = {}
        for lang, pages in self.pages.items():
            for candidate in pages:
                if (candidate.meta.translation_of or candidate.slug) == original:
                    found[lang] = candidate
        return found


def split_front_matter(path: Path, raw: str) -> tuple[dict[str, Any], str, int]:
    """Return (front matter, body, line where the body starts)."""
    if not raw.startswith("---\n"):
        raise GuideContentError(f"{path}:1: the file must start with '---' front matter")
    end = raw.find("\n---\n", 4)
    if end < 0:
        raise GuideContentError(f"{path}:1: front matter is not closed with '---'")
    try:
        data = yaml.safe_load(raw[4:end])
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise GuideContentError(f"{path}:{line}: front matter is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise GuideContentError(f"{path}:2: front matter must be a mapping")
    return data, raw[end + 5 :], raw[:end].count("\n") + 3


def parse_page(path: Path, lang: str) -> Page:
    raw = path.read_text(encoding="utf-8")
    data, body, _ = split_front_matter(path, raw)
    try:
        meta = FrontMatter.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'front matter'}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
        raise GuideContentError(f"{path}: {problems}") from None
    if meta.slug != path.stem:
        raise GuideContentError(f"{path}: slug {meta.slug!r} must equal the file name")
    known = {s.id for s in meta.sources}
    for number, line in enumerate(body.splitlines(), start=raw[: raw.find(body)].count("\n") + 1):
        for group in CITATION.findall(line):
            for source_id in (part.strip().lstrip("@") for part in group.split(";")):
                if source_id not in known:
                    raise GuideContentError(
                        f"{path}:{number}: citation @{source_id} is not among the page's sources"
                    )
    return Page(lang=lang, meta=meta, body=body, path=path)


def _markdown(lang: str) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.use(anchors_plugin, min_level=2, max_level=4)

    def link_open(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        href = str(token.attrs.get("href", ""))
        match = PAGE_LINK.match(href)
        if match:
            target_lang = match.group(1) or lang
            token.attrs["href"] = f"/guide/{target_lang}/{match.group(2)}/{match.group(3) or ''}"
        elif href.startswith(("http://", "https://")):
            token.attrs["rel"] = "noopener noreferrer"
        token.attrs["class"] = "usa-link"
        return str(self.renderToken(tokens, idx, options, env))

    def table_open(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrs["class"] = "usa-table usa-table--borderless"
        return str(self.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    md.add_render_rule("table_open", table_open)
    return md


def render(page: Page) -> Page:
    md = _markdown(page.lang)
    tokens = md.parse(page.body)
    headings = []
    blocks = tuple(
        re.sub(
            r"\s+",
            " ",
            "".join(child.content for child in (t.children or []) if child.type == "text"),
        ).strip()
        for t in tokens
        if t.type == "inline" and t.content.strip()
    )
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            inline = tokens[index + 1]
            text = CITATION.sub("", inline.content).strip()
            headings.append(Heading(int(token.tag[1]), text, str(token.attrs.get("id", ""))))
    plain_html = md.renderer.render(tokens, md.options, {})
    label = "Fuente" if page.lang == "es" else "Source"
    order = {source.id: number for number, source in enumerate(page.meta.sources, start=1)}
    cited: list[str] = []

    def cite(match: re.Match[str]) -> str:
        links = []
        for source_id in (part.strip().lstrip("@") for part in match.group(1).split(";")):
            if source_id not in cited:
                cited.append(source_id)
            number = order[source_id]
            links.append(
                f'<a class="usa-link" href="#source-{html.escape(source_id)}" '
                f'aria-label="{label} {number}">{number}</a>'
            )
        return f'<sup class="cpnav-cite">[{", ".join(links)}]</sup>'

    body_html = CITATION.sub(cite, plain_html)
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", CITATION.sub("", plain_html))))
    return Page(
        lang=page.lang,
        meta=page.meta,
        body=page.body,
        path=page.path,
        html=body_html,
        headings=tuple(headings),
        text=text.strip(),
        blocks=tuple(CITATION.sub("", b).strip() for b in blocks if CITATION.sub("", b).strip()),
        cited=tuple(cited),
    )


def load_guide(root: Path = CONTENT_ROOT) -> Guide:
    digest = hashlib.sha256()
    pages: dict[str, tuple[Page, ...]] = {}
    for lang in LANGUAGES:
        folder = root / lang
        files = sorted(folder.glob("*.md")) if folder.is_dir() else []
        parsed = []
        for path in files:
            digest.update(f"{lang}/{path.name}\n".encode())
            digest.update(path.read_bytes())
            parsed.append(render(parse_page(path, lang)))
        orders = [p.meta.order for p in parsed]
        clash = sorted({o for o in orders if orders.count(o) > 1})
        if clash:
            raise GuideContentError(f"{folder}: two pages share the order {clash}")
        pages[lang] = tuple(sorted(parsed, key=lambda p: p.meta.order))
    if not pages.get("en"):
        raise GuideContentError(f"{root}/en: no guide pages found")
    return Guide(pages=pages, fingerprint=digest.hexdigest()[:16])


@cache
def guide() -> Guide:
    """The guide, loaded once per process."""
    return load_guide()
