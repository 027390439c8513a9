"""The shipped subset is cut from the NIEM 6.0 release unchanged; our extension follows the NDR."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from cpnav.niem import schema, subset

RELEASE = Path(__file__).resolve().parents[3] / "shared" / "niem-6.0" / "xsd"
XS = subset.XS
needs_release = pytest.mark.skipif(
    not (RELEASE / "niem-core.xsd").exists(), reason="the NIEM release (shared/) is not beside us"
)
UPPER_CAMEL = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@needs_release
def test_every_kept_definition_is_the_releases_unchanged() -> None:
    release = subset.Release(RELEASE)
    kept = list(subset.kept_components())
    assert len(kept) > 500
    for path, key, node in kept:
        if key[1] == subset.XML_NS:  # an outside standard's schema, copied whole
            assert (subset.SUBSET_DIR / path).read_bytes() == (RELEASE / path).read_bytes()
            continue
        original = release.component(key)
        assert subset.canonical(node) == subset.canonical(original), (path, key)
        assert str(release.document(key[1]).path) == str(path)


@needs_release
def test_the_shipped_subset_is_what_the_tool_cuts_now() -> None:
    files = subset.cut(RELEASE, subset.extension_roots())
    shipped = {
        p.relative_to(subset.SUBSET_DIR): p.read_bytes() for p in subset.SUBSET_DIR.rglob("*.xsd")
    }
    assert shipped == files


def test_the_subset_is_closed_and_small() -> None:
    """Every reference of every kept definition resolves inside the subset."""
    kept = {key for _path, key, _node in subset.kept_components()}
    for _path, _key, node in subset.kept_components():
        for ref in subset.references(node):
            assert ref[1] in (subset.XS, subset.XML_NS) or ref in kept, ref
    for ref in subset.extension_roots():
        assert ref[1] == subset.XS or ref in kept, ref
    assert len(kept) < 1500  # a subset, not the release (which has tens of thousands)


def test_the_schemas_compile_once_per_process() -> None:
    assert schema.schema() is schema.schema()
    assert schema.schema().elements["ContinuedPresenceExchange"] is not None


def _extension() -> etree._Element:
    return etree.parse(str(subset.EXTENSION)).getroot()


def _documentation(node: etree._Element) -> str:
    return " ".join(
        (doc.text or "").strip()
        for doc in node.findall(f"{{{XS}}}annotation/{{{XS}}}documentation")
    )


def test_extension_follows_the_naming_and_definition_rules() -> None:
    root = _extension()
    assert root.get("targetNamespace") == schema.CPNAV
    assert root.get("version")
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en-US"
    assert any(str(value).endswith("#ExtensionSchemaDocument") for value in root.attrib.values())
    assert _documentation(root)
    components = [child for child in root if isinstance(child.tag, str) and child.get("name")]
    assert len(components) > 40
    for node in components:
        name = node.get("name", "")
        kind = etree.QName(node).localname
        assert UPPER_CAMEL.match(name), name
        assert _documentation(node), f"{name} has no definition"
        if kind == "simpleType":
            assert name.endswith("SimpleType"), name
            for value in node.iter(f"{{{XS}}}enumeration"):
                assert _documentation(value), f"{name} {value.get('value')} has no definition"
        elif kind == "complexType":
            assert name.endswith("Type"), name
            assert not name.endswith("SimpleType"), name
        else:
            assert kind == "element", name
            assert not name.endswith("Type"), name
            if name.endswith("Augmentation"):
                assert (node.get("substitutionGroup") or "").endswith("AugmentationPoint")
            if name.endswith("Indicator"):
                assert node.get("type") == "niem-xs:boolean"
            if name.endswith("Code"):
                assert (node.get("type") or "").endswith("CodeType")
            if name.endswith("Date"):
                assert node.get("type") == "nc:DateType"


def test_definitions_are_our_own_words() -> None:
    """Our definitions start like NIEM's do ("A data type for ...", "A ..."), never copied."""
    release_definitions = {
        _documentation(node)
        for path in subset.SUBSET_DIR.rglob("*.xsd")
        for node in etree.parse(str(path)).getroot()
        if isinstance(node.tag, str)
    }
    for node in _extension():
        if isinstance(node.tag, str) and node.get("name"):
            text = _documentation(node)
            assert text not in release_definitions, text
            if etree.QName(node).localname != "element":
                assert text.startswith("A data type for"), text
