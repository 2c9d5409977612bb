"""Installs racing each other: registrations never duplicate a subscription, and a code
redeemed twice at once gives one token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from loyalty_app.shops.services import shop_install
from shopify_bridge.devstore.models import DevStore, DevStoreWebhookSubscription
from shopify_bridge.devstore.services import devstore_install
from shopify_bridge.webhook_subscriptions import WEBHOOK_TOPICS, webhook_subscriptions_register
from tests.concurrency import run_concurrently

DOMAIN = "lambda-store.myshopify.com"
pytestmark = pytest.mark.django_db(transaction=True)


def test_registrations_running_at_once_subscribe_each_topic_once(simulator, settings):
    # Given an installed shop
    settings.SHOPIFY_APP_URL = simulator.url
    shop, _ = shop_install(domain=DOMAIN, access_token="placeholder-replaced-below")
    devstore_install(shop=shop)

    # When four registrations run at the same moment
    results, errors = run_concurrently(lambda i: webhook_subscriptions_register(shop=shop), 4)

    # Then none fails, and each topic is subscribed exactly once
    assert errors == []
    assert sum(len(r.created) for r in results) == len(WEBHOOK_TOPICS)
    rows = DevStoreWebhookSubscription.objects.filter(store__domain=DOMAIN)
    assert rows.count() == len(WEBHOOK_TOPICS)


def test_a_code_redeemed_twice_at_once_gives_a_single_token():
    # Given a code from the grant screen
    client = Client()
    base = f"/devstore/{DOMAIN}/admin/oauth"
    query = {
        "client_id": settings.SHOPIFY_API_KEY,
        "scope": "read_orders",
        "redirect_uri": f"{settings.SHOPIFY_APP_URL}/shopify/callback",
        "state": "s",
    }
    grant = client.get(f"{base}/authorize", query).context["grant"]
    location = client.post(f"{base}/authorize?{urlencode(query)}", {"grant": grant})["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {
        "client_id": settings.SHOPIFY_API_KEY,
        "client_secret": settings.SHOPIFY_API_SECRET,
        "code": code,
    }

    # When two requests redeem it at the same moment
    results, errors = run_concurrently(
        lambda i: Client().post(f"{base}/access_token", form).status_code, 2
    )

    # Then one gets the token and the other is refused
    assert errors == []
    assert sorted(results) == [200, 400]
    assert DevStore.objects.get(domain=DOMAIN).access_token_digest
