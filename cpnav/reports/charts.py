"""Horizontal bar charts drawn on the server as SVG: no JavaScript, no inline styles.

The chart is a picture of a table printed beside it, so it is one image to
assistive technology (role="img", named by its <title> and described by its
<desc>); the numbers are read from the table. Hidden (suppressed) values get no
bar, only their marker. Colours are SVG presentation attributes from the USWDS
palette, which the style-src CSP does not cover, with text at 4.5:1 or more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

# 880 is the width of the column the chart sits in (maxw-tablet-lg), so text is drawn
# at its own size on a desktop and scales down with the page on a phone.
# The chart sits in a column of this width (maxw-mobile-lg, 30rem), so text is drawn at
# its own size on a desktop and shrinks no more than a quarter on a phone. Each label
# has a line of its own above its bar: long agency names fit, and the bars stay wide.
WIDTH: Final = 480
VALUE_WIDTH: Final = 90
LABEL_HEIGHT: Final = 20
BAR_HEIGHT: Final = 20
GAP: Final = 12
TOP: Final = 4
FONT_SIZE: Final = 16
BAR_COLOUR: Final = "#005ea2"  # USWDS primary
TEXT_COLOUR: Final = "#1b1b1b"  # USWDS ink
MAX_LABEL: Final = 54


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None when hidden: no bar is drawn
    shown: str  # what is printed after the bar: the number or the marker


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1].rstrip() + "\u2026"


def bar_chart(chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> SafeString:
    """An SVG horizontal bar chart; ``chart_id`` must be unique on the page."""
    scale_max = max((bar.value for bar in bars if bar.value is not None), default=0.0)
    area = WIDTH - VALUE_WIDTH
    step = LABEL_HEIGHT + BAR_HEIGHT + GAP
    height = TOP * 2 + max(len(bars), 1) * step
    parts = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" class="cpnav-chart" role="img" '
            'aria-labelledby="{0}-title {0}-desc" viewBox="0 0 {1} {2}" width="100%" '
            'preserveAspectRatio="xMinYMin meet" '
            'font-family="Source Sans Pro Web, Helvetica Neue, Helvetica, Roboto, Arial, sans-serif" font-size="{5}">'
            '<title id="{0}-title">{3}</title><desc id="{0}-desc">{4}</desc>',
            chart_id,
            WIDTH,
            height,
            title,
            description,
            FONT_SIZE,
        )
    ]
    for index, bar in enumerate(bars):
        top = TOP + index * step
        bar_top = top + LABEL_HEIGHT
        middle = bar_top + BAR_HEIGHT / 2
        length = 0.0
        if bar.value is not None and scale_max > 0:
            length = max(bar.value / scale_max * area, 0.0)
        parts.append(
            format_html(
                '<text x="0" y="{}" dominant-baseline="middle" fill="{}">{}</text>',
                top + LABEL_HEIGHT / 2,
                TEXT_COLOUR,
                _short(bar.label),
            )
        )
        if length > 0:
            parts.append(
                format_html(
                    '<rect x="0" y="{}" width="{}" height="{}" fill="{}"></rect>',
                    bar_top,
                    f"{length:.1f}",
                    BAR_HEIGHT,
                    BAR_COLOUR,
                )
            )
        parts.append(
            format_html(
                '<text x="{}" y="{}" dominant-baseline="middle" fill="{}">{}</text>',
                f"{length + 6:.1f}",
                middle,
                TEXT_COLOUR,
                bar.shown,
            )
        )
    # Every part is format_html output, its values escaped; the closing tag is a constant.
    return mark_safe("".join(parts) + "</svg>")  # noqa: S308
