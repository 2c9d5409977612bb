"""shopify.app.toml says what the code does: the same scopes, callback, API version and
webhook address; the compliance topics there, the app's other topics registered by code."""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from shopify_bridge.webhook_subscriptions import WEBHOOK_TOPICS

TOML = tomllib.loads((Path(__file__).resolve().parents[2] / "shopify.app.toml").read_text())


def test_the_toml_asks_for_the_scopes_the_install_asks_for():
    assert TOML["access_scopes"]["scopes"].split(",") == settings.SHOPIFY_SCOPES
    assert TOML["embedded"] is True


def test_the_toml_names_the_apps_callback_and_webhook_address_and_api_version():
    app = urlsplit(TOML["application_url"])
    (redirect,) = TOML["auth"]["redirect_urls"]
    assert urlsplit(redirect).netloc == app.netloc
    assert urlsplit(redirect).path == "/shopify/callback"
    assert TOML["webhooks"]["api_version"] == settings.SHOPIFY_API_VERSION
    (subscription,) = TOML["webhooks"]["subscriptions"]
    assert urlsplit(subscription["uri"]).path == "/shopify/webhooks"


def test_the_toml_declares_the_compliance_topics_and_leaves_the_others_to_the_code():
    (subscription,) = TOML["webhooks"]["subscriptions"]
    assert sorted(subscription["compliance_topics"]) == [
        "customers/data_request",
        "customers/redact",
        "shop/redact",
    ]
    # Declared in both places, each event would be delivered twice
    assert not set(subscription.get("topics", [])) & set(WEBHOOK_TOPICS)
