"""The exchange's schemas: compiled once per process, and the only way a document is read.

Documents from outside are untrusted. They are read with lxml set to resolve no
entity, load no DTD and touch no network, and any document type declaration is
refused outright (external entities, entity expansion bombs); size and depth
are bounded before the schema validator sees them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import xmlschema
from django.utils.translation import gettext as _
from lxml import etree

SCHEMAS: Final = Path(__file__).resolve().parent / "schemas"
EXTENSION: Final = SCHEMAS / "extension" / "cpnav.xsd"
SAMPLE: Final = SCHEMAS / "sample" / "request.xml"
CONTEXT: Final = SCHEMAS / "json-ld" / "niem-6.0-context.json"

CPNAV: Final = "https://cpnav.example.org/ns/niem/cpnav/1.0/"
NC: Final = "https://docs.oasis-open.org/niemopen/ns/model/niem-core/6.0/"
HS: Final = "https://docs.oasis-open.org/niemopen/ns/model/domains/humanServices/6.0/"
J: Final = "https://docs.oasis-open.org/niemopen/ns/model/domains/justice/6.0/"
IM: Final = "https://docs.oasis-open.org/niemopen/ns/model/domains/immigration/6.0/"
STRUCTURES: Final = "https://docs.oasis-open.org/niemopen/ns/model/structures/6.0/"
NAMESPACES: Final = {
    "cpnav": CPNAV,
    "nc": NC,
    "hs": HS,
    "j": J,
    "im": IM,
    "structures": STRUCTURES,
}
ROOT: Final = f"{{{CPNAV}}}ContinuedPresenceExchange"

# One request with its decisions is a few kilobytes; a megabyte is far beyond any
# real exchange and small enough to parse without worry.
MAX_BYTES: Final = 1_000_000
MAX_DEPTH: Final = 40
MAX_ERRORS: Final = 20

_lock = threading.Lock()
_schema: xmlschema.XMLSchema | None = None


def schema() -> xmlschema.XMLSchema:
    """The compiled subset + extension schemas (a couple of seconds, so once per process)."""
    global _schema
    with _lock:
        if _schema is None:
            # allow="local": the schemas import each other by relative path; nothing
            # is ever fetched from the network.
            _schema = xmlschema.XMLSchema(str(EXTENSION), allow="local", defuse="always")
        return _schema


@dataclass(frozen=True)
class Problem:
    where: str  # a path in the document, or "" for the whole document
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class InvalidDocument(ValueError):
    """The document was refused; ``problems`` says why, in the user's words."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _refuse(message: str, where: str = "") -> InvalidDocument:
    return InvalidDocument([Problem(where, message)])


def parse_untrusted(data: bytes) -> etree._ElementTree:
    """Parse bytes from outside, refusing what could harm the server before validation."""
    if len(data) > MAX_BYTES:
        raise _refuse(
            _("The document is larger than %(limit)d kilobytes; no exchange is that large.")
            % {"limit": MAX_BYTES // 1000}
        )
    if not data.strip():
        raise _refuse(_("The file is empty."))
    try:
        tree = etree.ElementTree(etree.fromstring(data, _parser()))
    except etree.XMLSyntaxError as error:
        raise _refuse(_("This is not well-formed XML: %(error)s") % {"error": error.msg}) from None
    if getattr(tree.docinfo, "doctype", "") or tree.docinfo.internalDTD is not None:
        raise _refuse(
            _("Document type declarations (DTDs, entities) are not accepted in an exchange.")
        )
    root = tree.getroot()
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise _refuse(_("Entity references are not accepted in an exchange."))
    if _depth(root) > MAX_DEPTH:
        raise _refuse(_("The document is nested deeper than any exchange is."))
    if root.tag != ROOT:
        found = etree.QName(root)
        raise _refuse(
            _(
                "This is not a CP Navigator NIEM exchange: the document starts with "
                "%(found)s, in namespace %(namespace)s; expected ContinuedPresenceExchange "
                "in namespace %(expected)s."
            )
            % {"found": found.localname, "namespace": found.namespace or "-", "expected": CPNAV}
        )
    return tree


def _depth(root: etree._Element) -> int:
    deepest = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in node)
    return deepest


def problems(tree: etree._ElementTree) -> list[Problem]:
    """What the schemas find wrong with a document (at most MAX_ERRORS)."""
    found = []
    for error in schema().iter_errors(tree):
        where = error.path or ""
        found.append(Problem(_short(where), error.reason or str(error.message)))
        if len(found) >= MAX_ERRORS:
            break
    return found


def _short(path: str) -> str:
    """Paths with the prefixes we use instead of {namespace} noise."""
    for prefix, namespace in NAMESPACES.items():
        path = path.replace(f"{{{namespace}}}", f"{prefix}:")
    return path


def read(data: bytes) -> etree._ElementTree:
    """An untrusted document, parsed safely and valid against the schemas - or InvalidDocument."""
    tree = parse_untrusted(data)
    found = problems(tree)
    if found:
        raise InvalidDocument(found)
    return tree
