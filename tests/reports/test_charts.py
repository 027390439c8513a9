"""Server-drawn SVG bar charts: well formed, named for assistive technology, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cpnav.reports.charts import MAX_LABEL, Bar, bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def draw(*bars: Bar, title: str = "Requests by level") -> ET.Element:
    # Our own output, not untrusted input.
    return ET.fromstring(str(bar_chart("chart-x", title, "Described.", bars)))  # noqa: S314


def test_an_image_named_by_its_title_and_described() -> None:
    svg = draw(Bar("Local", 10, "10"))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "chart-x-title chart-x-desc"
    title = svg.find(f"{SVG}title")
    desc = svg.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert (title.get("id"), title.text) == ("chart-x-title", "Requests by level")
    assert (desc.get("id"), desc.text) == ("chart-x-desc", "Described.")
    assert "style" not in str(bar_chart("c", "t", "d", [Bar("a", 1, "1")]))


def test_bars_are_proportional_and_hidden_or_zero_values_have_none() -> None:
    svg = draw(Bar("Local", 10, "10"), Bar("State", 5, "5"), Bar("Tribal", None, "<5"),
               Bar("Territorial", 0, "0"))  # fmt: skip
    widths = [float(rect.get("width", "0")) for rect in svg.iter(f"{SVG}rect")]
    assert len(widths) == 2
    assert widths[0] == 2 * widths[1]
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    assert texts == ["Local", "10", "State", "5", "Tribal", "<5", "Territorial", "0"]
    label = next(svg.iter(f"{SVG}text"))
    rect = next(svg.iter(f"{SVG}rect"))
    assert float(label.get("y", "0")) < float(rect.get("y", "0"))  # the label above its bar


def test_text_is_escaped_and_long_labels_shortened() -> None:
    name = "<script>alert(1)</script> Police & Sheriff of a very long county name indeed"
    svg = draw(Bar(name, 3, "3"), title="Tom & Jerry <b>")
    label = next(svg.iter(f"{SVG}text")).text or ""
    assert label.startswith("<script>alert(1)</script> Police &")
    assert len(label) <= MAX_LABEL
    assert label.endswith("\u2026")
    assert "<script>" not in str(bar_chart("c", "t", "d", [Bar(name, 3, "3")]))
    title = svg.find(f"{SVG}title")
    assert title is not None
    assert title.text == "Tom & Jerry <b>"


def test_an_empty_chart_is_still_a_picture() -> None:
    svg = draw()
    assert svg.get("role") == "img"
    assert list(svg.iter(f"{SVG}rect")) == []
