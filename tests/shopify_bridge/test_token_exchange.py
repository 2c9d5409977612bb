"""Token exchange: an embedded page's session token, verified, becomes the shop's offline
access token through the simulated store, and the shop is installed and subscribed."""

from __future__ import annotations

import time

import jwt
import pytest
from django.conf import settings

from loyalty_app.common.crypto import api_token_digest
from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import shop_uninstall
from shopify_bridge.devstore.models import DevStore, DevStoreWebhookSubscription
from shopify_bridge.embedded import SessionTokenInvalid, session_token_mint
from shopify_bridge.oauth import (
    GrantRefused,
    PlatformUnavailable,
    access_token_exchange,
    access_token_exchange_request,
)
from shopify_bridge.webhook_subscriptions import WEBHOOK_TOPICS

DOMAIN = "theta-store.myshopify.com"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app(simulator, settings):
    settings.SHOPIFY_APP_URL = simulator.url
    return simulator


def test_a_valid_session_token_installs_the_shop_with_its_own_access_token(app):
    shop = access_token_exchange(session_token=session_token_mint(shop_domain=DOMAIN))

    assert shop.domain == DOMAIN and shop.is_installed
    store = DevStore.objects.get(domain=DOMAIN)
    assert api_token_digest(Shop.objects.get(pk=shop.pk).access_token) == store.access_token_digest
    assert shop.access_scopes == ",".join(settings.SHOPIFY_SCOPES)
    assert DevStoreWebhookSubscription.objects.filter(store=store).count() == len(WEBHOOK_TOPICS)


def test_exchanging_again_for_an_uninstalled_shop_restores_it_without_duplicate_subscriptions(app):
    first = access_token_exchange(session_token=session_token_mint(shop_domain=DOMAIN))
    shop_uninstall(domain=DOMAIN)

    again = access_token_exchange(session_token=session_token_mint(shop_domain=DOMAIN))

    assert again.pk == first.pk and again.is_installed
    assert DevStoreWebhookSubscription.objects.filter(store__domain=DOMAIN).count() == len(
        WEBHOOK_TOPICS
    )


def forged_mismatch() -> str:
    """Signed with the app's secret, but issued by one shop for another's destination."""
    now = int(time.time())
    claims = {
        "iss": "https://theta-store.myshopify.com/admin",
        "dest": "https://iota-store.myshopify.com",
        "aud": settings.SHOPIFY_API_KEY,
        "sub": "1",
        "exp": now + 60,
        "nbf": now,
        "iat": now,
        "jti": "j",
        "sid": "s",
    }
    return jwt.encode(claims, settings.SHOPIFY_API_SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "token",
    [
        lambda: session_token_mint(shop_domain=DOMAIN, now=time.time() - 3600),
        lambda: session_token_mint(shop_domain=DOMAIN, secret="another-apps-secret"),
        lambda: session_token_mint(shop_domain=DOMAIN, api_key="another-app"),
        forged_mismatch,
        lambda: "",
    ],
    ids=["expired", "other-secret", "other-app", "issuer-and-destination-differ", "empty"],
)
def test_a_session_token_that_does_not_verify_installs_nothing(app, token):
    with pytest.raises(SessionTokenInvalid):
        access_token_exchange(session_token=token())

    assert not Shop.objects.exists()
    assert not DevStore.objects.exists()


def test_the_stores_refusal_of_an_exchange_is_reported_as_such(app):
    # The store checks the session token itself: one for another shop is refused there
    token = session_token_mint(shop_domain="iota-store.myshopify.com")

    with pytest.raises(GrantRefused, match="refused the session token .HTTP 400"):
        access_token_exchange_request(shop=DOMAIN, session_token=token)

    assert not DevStore.objects.exclude(access_token_digest="").exists()


def test_a_store_that_cannot_be_reached_installs_nothing(settings):
    settings.SHOPIFY_ADMIN_API_ORIGIN = "http://127.0.0.1:9/devstore/{shop}"
    settings.SHOPIFY_ADMIN_API_TIMEOUT_SECONDS = 2

    with pytest.raises(PlatformUnavailable):
        access_token_exchange(session_token=session_token_mint(shop_domain=DOMAIN))

    assert not Shop.objects.exists()
