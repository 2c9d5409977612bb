"""The simulated shop's side of OAuth: the grant screen, the signed redirect, and the token
endpoint's two grants, each code good for one token."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import shopify
from django.conf import settings

from loyalty_app.common.crypto import api_token_digest
from shopify_bridge.devstore.models import DevStore
from shopify_bridge.devstore.oauth import scope_in_words
from shopify_bridge.embedded import session_token_mint

DOMAIN = "zeta-store.myshopify.com"
BASE = f"/devstore/{DOMAIN}/admin/oauth"
pytestmark = pytest.mark.django_db


def authorize_query(**changes: str) -> dict[str, str]:
    return {
        "client_id": settings.SHOPIFY_API_KEY,
        "scope": "read_orders,write_discounts",
        "redirect_uri": f"{settings.SHOPIFY_APP_URL}/shopify/callback",
        "state": "nonce-1",
        **changes,
    }


def approve(client, **changes: str) -> dict[str, str]:
    """Open the grant screen, press Install; returns the redirect's query."""
    screen = client.get(f"{BASE}/authorize", authorize_query(**changes))
    assert screen.status_code == 200, screen.content
    grant = screen.context["grant"]
    response = client.post(
        f"{BASE}/authorize?{urlencode(authorize_query(**changes))}", {"grant": grant}
    )
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def redeem(client, code: str, secret: str | None = None):
    return client.post(
        f"{BASE}/access_token",
        {
            "client_id": settings.SHOPIFY_API_KEY,
            "client_secret": secret or settings.SHOPIFY_API_SECRET,
            "code": code,
        },
    )


def test_the_grant_screen_names_the_app_and_what_it_may_do_in_words(client):
    response = client.get(f"{BASE}/authorize", authorize_query())

    assert response.status_code == 200
    page = response.content.decode()
    assert "Install Loyalty Program" in page
    assert "View orders" in page and "View and edit discounts" in page
    assert 'type="submit"' in page and ">Install<" in page


def test_scopes_read_as_the_grant_screen_words_them():
    assert scope_in_words("read_orders") == "View orders"
    assert scope_in_words("write_customers").startswith("View and edit customers")
    assert scope_in_words("write_store_credit_account_transactions") == (
        "View and edit store credit transactions"
    )


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.com/shopify/callback",
        "http://127.0.0.1:8001/shopify/callback",
        "http://127.0.0.1:8000.evil.com/shopify/callback",
        "javascript:alert(1)",
        "",
    ],
)
def test_the_grant_screen_refuses_a_redirect_uri_outside_the_apps_url(client, redirect_uri):
    response = client.get(f"{BASE}/authorize", authorize_query(redirect_uri=redirect_uri))

    assert response.status_code == 400
    assert b"redirect_uri is not whitelisted" in response.content
    assert b'name="grant"' not in response.content


def test_the_grant_screen_refuses_an_unknown_client_id(client):
    response = client.get(f"{BASE}/authorize", authorize_query(client_id="someone-else"))

    assert response.status_code == 400
    assert b"client_id" in response.content


def test_installing_needs_the_grant_screens_csrf_token():
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    screen = browser.get(f"{BASE}/authorize", authorize_query())

    response = browser.post(f"{BASE}/authorize", {"grant": screen.context["grant"]})

    assert response.status_code == 403


def test_approving_redirects_with_a_query_signed_as_shopify_signs_it(client):
    query = approve(client)

    assert set(query) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert query["shop"] == DOMAIN and query["state"] == "nonce-1"
    assert base64.urlsafe_b64decode(query["host"] + "==").decode() == f"{DOMAIN}/admin"
    assert abs(int(query["timestamp"]) - time.time()) < 5
    # The ShopifyAPI package, used as Shopify's reference, accepts the signature
    signer = type("S", (shopify.Session,), {"secret": settings.SHOPIFY_API_SECRET})
    assert signer.validate_params(query)


def test_a_code_gives_one_token_and_is_refused_the_second_time(client):
    code = approve(client)["code"]

    first = redeem(client, code)
    second = redeem(client, code)

    assert first.status_code == 200
    body = first.json()
    assert body["scope"] == "read_orders,write_discounts"
    assert DevStore.objects.get(domain=DOMAIN).access_token_digest == api_token_digest(
        body["access_token"]
    )
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


def test_a_new_code_retires_the_token_an_earlier_code_gave(client):
    old = redeem(client, approve(client)["code"]).json()["access_token"]

    new = redeem(client, approve(client)["code"]).json()["access_token"]

    digest = DevStore.objects.get(domain=DOMAIN).access_token_digest
    assert digest == api_token_digest(new) != api_token_digest(old)


def test_the_token_endpoint_refuses_a_wrong_client_secret(client):
    code = approve(client)["code"]

    response = redeem(client, code, secret="guess")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not DevStore.objects.exclude(access_token_digest="").exists()


def test_a_code_issued_by_one_store_is_refused_by_another(client):
    code = approve(client)["code"]

    response = client.post(
        "/devstore/eta-store.myshopify.com/admin/oauth/access_token",
        {
            "client_id": settings.SHOPIFY_API_KEY,
            "client_secret": settings.SHOPIFY_API_SECRET,
            "code": code,
        },
    )

    assert response.status_code == 400
    assert not DevStore.objects.exclude(access_token_digest="").exists()


def exchange(client, token: str, shop: str = DOMAIN):
    return client.post(
        f"/devstore/{shop}/admin/oauth/access_token",
        data=json.dumps(
            {
                "client_id": settings.SHOPIFY_API_KEY,
                "client_secret": settings.SHOPIFY_API_SECRET,
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": token,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
            }
        ),
        content_type="application/json",
    )


def test_token_exchange_swaps_a_session_token_for_an_access_token(client):
    response = exchange(client, session_token_mint(shop_domain=DOMAIN))

    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == ",".join(settings.SHOPIFY_SCOPES)
    assert DevStore.objects.get(domain=DOMAIN).access_token_digest == api_token_digest(
        body["access_token"]
    )


@pytest.mark.parametrize(
    "token",
    [
        lambda: session_token_mint(shop_domain=DOMAIN, secret="another-apps-secret"),
        lambda: session_token_mint(shop_domain=DOMAIN, now=time.time() - 3600),
        lambda: session_token_mint(shop_domain=DOMAIN, api_key="another-app"),
        lambda: session_token_mint(shop_domain="eta-store.myshopify.com"),
        lambda: "not-a-jwt",
    ],
    ids=["other-secret", "expired", "other-app", "other-shop", "garbage"],
)
def test_token_exchange_refuses_a_session_token_not_valid_for_this_store(client, token):
    response = exchange(client, token())

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_subject_token"
    assert not DevStore.objects.exclude(access_token_digest="").exists()


def test_the_simulators_oauth_is_off_when_not_enabled(client, settings):
    settings.DEVSTORE_ENABLED = False

    assert client.get(f"{BASE}/authorize", authorize_query()).status_code == 404
    assert redeem(client, "x").status_code == 404
