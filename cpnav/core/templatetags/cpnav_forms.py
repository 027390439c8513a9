from __future__ import annotations

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def uswds_widget(field: BoundField) -> SafeString:
    """Render a field's widget with USWDS classes and the ARIA links to its hint and error."""
    css = "usa-select" if field.widget_type == "select" else "usa-input"
    if field.errors:
        css += " usa-input--error"
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}-hint")
    if field.errors:
        described.append(f"{field.auto_id}-error")
    attrs: dict[str, str | bool] = {"class": css}
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.inclusion_tag("core/_human_check.html")
def human_check() -> dict[str, str]:
    """The hidden guards of a public form (see cpnav.core.antispam)."""
    from cpnav.core.antispam import HONEYPOT, STAMP, stamp

    return {"honeypot": HONEYPOT, "stamp_name": STAMP, "stamp": stamp()}
