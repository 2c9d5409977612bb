"""The widget's script and styles: small, and the same in the theme app extension."""

from __future__ import annotations

import gzip
from pathlib import Path

from django.conf import settings

STATIC = Path(settings.BASE_DIR) / "static" / "widget"
EXTENSION = Path(settings.BASE_DIR) / "extensions" / "loyalty-widget"
LIMIT_BYTES = 15 * 1024


def test_script_and_styles_are_under_15_kb_gzipped_together():
    sizes = [
        len(gzip.compress((STATIC / name).read_bytes(), 9)) for name in ("widget.js", "widget.css")
    ]
    assert sum(sizes) < LIMIT_BYTES, sizes


def test_the_theme_app_extension_ships_the_same_script_and_styles():
    for name in ("widget.js", "widget.css"):
        assert (EXTENSION / "assets" / name).read_bytes() == (STATIC / name).read_bytes(), (
            f"copy static/widget/{name} to extensions/loyalty-widget/assets/"
        )


def test_the_app_embed_loads_the_script_deferred_through_the_app_proxy():
    liquid = (EXTENSION / "blocks" / "app-embed.liquid").read_text()
    assert '"target": "body"' in liquid
    assert "{{ 'widget.js' | asset_url }}" in liquid
    assert "\n  defer\n" in liquid
    assert "apps/loyalty" in liquid


def test_the_script_uses_no_html_from_the_server():
    # Every text from the app is set with textContent: no innerHTML, no eval.
    script = (STATIC / "widget.js").read_text()
    for word in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "document.write"):
        assert word not in script
