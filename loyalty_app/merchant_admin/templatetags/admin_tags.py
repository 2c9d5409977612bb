"""Template helpers of the embedded admin."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from loyalty_app.earning.points_name import DEFAULT_POINTS_NAME, PointsName

register = template.Library()


@register.simple_tag(takes_context=True)
def admin_url(context: dict[str, Any], name: str, *args: Any, **query: Any) -> str:
    """The URL of an admin page that keeps ``shop`` and ``host`` (App Bridge needs them on
    every page), plus any extra query parameters given. The session token is added by
    admin.js when the link is followed, never written into the page."""
    request = context["request"]
    head = getattr(request, "admin_head", None) or {}
    params = {"shop": head.get("shop", ""), "host": head.get("host", "")}
    params.update({k: v for k, v in query.items() if v not in (None, "")})
    return f"{reverse(name, args=args)}?{urlencode({k: v for k, v in params.items() if v})}"


@register.filter
def signed(value: int) -> str:
    """Points with their sign: +120, -50."""
    return f"{int(value):+,d}"


def _points_name(value: Any) -> PointsName:
    return value if isinstance(value, PointsName) else DEFAULT_POINTS_NAME


@register.simple_tag(takes_context=True)
def points(context: Any, value: Any, signed: bool = False) -> str:
    """An amount of points in the shop's own words: ``{% points 1250 %}`` -> "1,250 stars",
    ``{% points delta signed=True %}`` -> "+120 stars". The name comes from the page's
    ``points_name`` (every admin page has it); without one, "points"."""
    name = _points_name(context.get("points_name"))
    try:
        number = int(value)
    except (TypeError, ValueError):
        return str(value)
    return name.signed(number) if signed else name.amount(number)


@register.filter
def points_words(text: Any, name: Any = None) -> str:
    """``{{ entry.reason|points_words:points_name }}``: "points" in a stored text in the
    shop's own words (``PointsName.rename``)."""
    return _points_name(name).rename("" if text is None else str(text))


@register.filter
def field_error(errors: Any, name: str) -> str:
    """The error recorded for one input (``FormErrors`` or a dict), or empty."""
    if not errors:
        return ""
    return errors.get(name, "") if hasattr(errors, "get") else ""


@register.simple_tag
def row_name(prefix: str, index: int, name: str) -> str:
    """``line_rules-2-multiplier``: the input name of a field in a repeated row."""
    return f"{prefix}-{index}-{name}"


_LABELS = {
    "points_per_unit": "Points per unit of currency",
    "rounding": "Rounding",
    "min_order_amount": "Minimum order amount",
    "max_points_per_order": "Maximum points per order",
    "include_shipping": "Shipping earns points",
    "include_tax": "Tax earns points",
    "pending_days": "Pending days",
    "expiry_mode": "Expiry",
    "expiry_months": "Expiry months",
    "expiry_reminder_days": "Reminder days",
    "points_singular": "Name of one point",
    "points_plural": "Name of many points",
    "enabled": "Program on",
    "applies_to_field": "Applies to field",
    "applies_to_value": "Applies to value",
    "starts_at": "Starts",
    "ends_at": "Ends",
    "bonus_points": "Bonus points",
    "first_order_only": "First order only",
    "primary_colour": "Primary colour",
    "text_colour": "Text colour",
    "launcher_position": "Launcher position",
    "launcher_text": "Launcher text",
    "panel_title": "Panel title",
    "welcome_text": "Welcome text",
}
_ROW_LABELS = {"line_rules": "Line rule", "actions": "Action", "tiers": "Tier"}


@register.filter
def input_label(name: str) -> str:
    """What the error banner calls an input: "Line rule 3, multiplier"."""
    parts = name.split("-")
    if len(parts) == 3 and parts[1].isdigit():
        row = _ROW_LABELS.get(parts[0], parts[0].replace("_", " ").capitalize())
        return f"{row} {int(parts[1]) + 1}, {_LABELS.get(parts[2], parts[2].replace('_', ' '))}"
    return _LABELS.get(name, name.replace("_", " ").capitalize())


@register.filter
def thousands(value: int) -> str:
    """12,345."""
    try:
        return f"{int(value):,d}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def words(value: str) -> str:
    """``product_type`` -> "Product type"."""
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]


_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@register.filter
def hex_colour(value: str) -> str:
    """A colour safe to put in a style attribute: ``#rrggbb`` as given, else black."""
    return value if isinstance(value, str) and _HEX.match(value) else "#000000"


@register.filter
def lookup(mapping: Any, key: str) -> Any:
    """``mapping[key]``, or empty."""
    try:
        value = mapping.get(key, "")
    except AttributeError:
        return ""
    return "" if value is None else value
