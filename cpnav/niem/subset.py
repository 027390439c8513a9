"""Cut the exchange's subset schema set out of the NIEM 6.0 release schemas.

NIEM exchanges ship only the components they use. The cut starts from every
component that our extension schema (``schemas/extension/cpnav.xsd``) refers to
in a NIEM namespace and follows each kept definition's references - element
refs, types, base types, attribute groups, substitution-group heads, list and
union members - until nothing new turns up. Every kept definition is copied
as it stands in the release, unchanged; that is what makes a document valid
against the subset also valid against the full release. Only the schema
documents' ``xs:import`` lists shrink to the namespaces that are kept.

Run ``python scripts/niem_subset.py`` (or ``cpnav niem-subset``) to rebuild;
``tests/niem/test_subset.py`` checks the shipped files against the release.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from lxml import etree

XS: Final = "http://www.w3.org/2001/XMLSchema"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"
SCHEMAS: Final = Path(__file__).resolve().parent / "schemas"
SUBSET_DIR: Final = SCHEMAS / "niem"
EXTENSION: Final = SCHEMAS / "extension" / "cpnav.xsd"

# Top-level schema components and the symbol space each lives in.
KINDS: Final = {
    f"{{{XS}}}element": "element",
    f"{{{XS}}}complexType": "type",
    f"{{{XS}}}simpleType": "type",
    f"{{{XS}}}attribute": "attribute",
    f"{{{XS}}}attributeGroup": "attributeGroup",
    f"{{{XS}}}group": "group",
}

Key = tuple[str, str, str]  # (symbol space, namespace, local name)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass
class Document:
    path: Path  # relative to the release's xsd/ folder
    tree: etree._ElementTree
    namespace: str
    components: dict[Key, etree._Element] = field(default_factory=dict)


def _catalog(release: Path) -> dict[str, Path]:
    """Namespace -> schema file, from the release's XML catalog."""
    tree = etree.parse(str(release / "xml-catalog.xml"), _parser())
    found = {}
    for uri in tree.getroot():
        if isinstance(uri.tag, str) and uri.get("name") and uri.get("uri"):
            found[uri.get("name", "")] = Path(uri.get("uri", ""))
    return found


class Release:
    """The release schemas, loaded lazily one namespace at a time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.catalog = _catalog(root)
        self.documents: dict[str, Document] = {}

    def document(self, namespace: str) -> Document:
        if namespace not in self.documents:
            relative = self.catalog.get(namespace)
            if relative is None or not (self.root / relative).exists():
                raise LookupError(f"no release schema for namespace {namespace}")
            tree = etree.parse(str(self.root / relative), _parser())
            doc = Document(relative, tree, tree.getroot().get("targetNamespace", ""))
            for child in tree.getroot():
                kind = KINDS.get(child.tag) if isinstance(child.tag, str) else None
                if kind is not None:
                    doc.components[(kind, doc.namespace, child.get("name", ""))] = child
            self.documents[namespace] = doc
        return self.documents[namespace]

    def component(self, key: Key) -> etree._Element:
        found = self.document(key[1]).components.get(key)
        if found is None:
            raise LookupError(f"{key[1]} has no {key[0]} named {key[2]}")
        return found


def _qname(node: etree._Element, value: str) -> tuple[str, str]:
    prefix, _, local = value.rpartition(":")
    namespace = XML_NS if prefix == "xml" else node.nsmap.get(prefix or None)
    if namespace is None:
        raise LookupError(f"unbound prefix in {value!r}")
    return namespace, local


def references(component: etree._Element) -> Iterator[Key]:
    """Every component a schema component refers to, by symbol space."""
    for node in component.iter():
        if not isinstance(node.tag, str):
            continue
        local = etree.QName(node).localname
        for attr, space in (("type", "type"), ("base", "type"), ("itemType", "type")):
            if node.get(attr):
                yield (space, *_qname(node, node.get(attr, "")))
        if node.get("memberTypes"):
            for member in node.get("memberTypes", "").split():
                yield ("type", *_qname(node, member))
        if node.get("substitutionGroup"):
            for head in node.get("substitutionGroup", "").split():
                yield ("element", *_qname(node, head))
        if node.get("ref") and local in ("element", "attribute", "attributeGroup", "group"):
            yield (local, *_qname(node, node.get("ref", "")))


def closure(release: Release, roots: list[Key]) -> set[Key]:
    kept: set[Key] = set()
    todo = list(roots)
    while todo:
        key = todo.pop()
        if key in kept or key[1] in (XS, XML_NS):
            continue
        kept.add(key)
        todo.extend(references(release.component(key)))
    return kept


NC: Final = "https://docs.oasis-open.org/niemopen/ns/model/niem-core/6.0/"

# Elements our documents use in place of an abstract element (substitution-group
# members): no content model names them, so the references alone would miss them.
SUBSTITUTES: Final = (
    "ActivityCategoryText", "ActivityReasonText", "CountryName", "Date", "DateRange",
    "DateTime", "EntityPerson", "LanguageName", "MeasureIntegerValue", "MeasureUnitText", "PersonNameCategoryCode",
    "StatusText",
)  # fmt: skip


def extension_roots(extension: Path = EXTENSION) -> list[Key]:
    """The NIEM components our extension schema and documents use directly."""
    tree = etree.parse(str(extension), _parser())
    own = tree.getroot().get("targetNamespace", "")
    used = [key for key in references(tree.getroot()) if key[1] != own]
    return used + [("element", NC, name) for name in SUBSTITUTES]


def cut(release: Path, roots: list[Key]) -> dict[Path, bytes]:
    """The subset schema documents, by path relative to the subset folder."""
    source = Release(release)
    kept = closure(source, roots)
    namespaces = {key[1] for key in kept}
    files: dict[Path, bytes] = {}
    for namespace in sorted(namespaces):
        doc = source.document(namespace)
        root = copy.deepcopy(doc.tree.getroot())
        for child in list(root):
            if not isinstance(child.tag, str):
                continue
            kind = KINDS.get(child.tag)
            if kind is not None:
                drop = (kind, namespace, child.get("name", "")) not in kept
            elif child.tag == f"{{{XS}}}import":
                drop = child.get("namespace") not in namespaces | {XML_NS}
            else:
                continue  # the schema's own annotation
            if drop:
                _remove(child)
        files[doc.path] = etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n"
    # NIEM's xml.xsd is an outside standard's schema, copied whole when used.
    for doc in source.documents.values():
        for imp in doc.tree.getroot().iter(f"{{{XS}}}import"):
            if imp.get("namespace") == XML_NS and doc.namespace in namespaces:
                target = (release / doc.path).parent / imp.get("schemaLocation", "")
                files[target.resolve().relative_to(release.resolve())] = target.read_bytes()
    return files


def _remove(node: etree._Element) -> None:
    """Remove a child and the whitespace that led up to it, keeping the layout tidy."""
    parent = node.getparent()
    assert parent is not None
    previous = node.getprevious()
    if previous is not None:
        previous.tail = node.tail
    else:
        parent.text = node.tail
    parent.remove(node)


def write(release: Path, target: Path = SUBSET_DIR) -> dict[Path, bytes]:
    files = cut(release, extension_roots())
    for old in target.rglob("*.xsd"):
        if old.relative_to(target) not in files:
            old.unlink()
    for relative, content in files.items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_bytes(content)
    return files


def kept_components(subset: Path = SUBSET_DIR) -> Iterator[tuple[Path, Key, etree._Element]]:
    """Every definition in the shipped subset, with the file it is in."""
    for path in sorted(subset.rglob("*.xsd")):
        tree = etree.parse(str(path), _parser())
        namespace = tree.getroot().get("targetNamespace", "")
        for child in tree.getroot():
            kind = KINDS.get(child.tag) if isinstance(child.tag, str) else None
            if kind is not None:
                yield path.relative_to(subset), (kind, namespace, child.get("name", "")), child


def canonical(node: etree._Element) -> bytes:
    return etree.tostring(node, method="c14n", with_tail=False)
