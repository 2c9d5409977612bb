"""The install pages refuse what they cannot verify, with a page that says so, and store
nothing: a missing or forged signature, a stale one, a wrong or missing state, a state
issued for another store, a store address that is not a myshopify domain, a refused code."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from loyalty_app.shops.models import Shop
from shopify_bridge.devstore.models import DevStore
from shopify_bridge.devstore.oauth import shopify_hmac
from shopify_bridge.oauth import STATE_COOKIE, oauth_state_check

DOMAIN = "delta-store.myshopify.com"
OTHER = "epsilon-store.myshopify.com"


def signed(params: dict[str, str], *, secret: str | None = None) -> dict[str, str]:
    """A query signed as Shopify signs redirects (hex HMAC over the sorted pairs), with the
    app's secret unless told otherwise."""
    return {**params, "hmac": shopify_hmac(params, secret or settings.SHOPIFY_API_SECRET)}


def start_install(client: Client, shop: str = DOMAIN) -> str:
    """Open the install page; returns the state nonce the grant screen was sent."""
    response = client.get("/shopify/install", {"shop": shop})
    assert response.status_code == 302, response.content
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def callback_params(state: str, shop: str = DOMAIN, **extra: str) -> dict[str, str]:
    return {
        "code": "a-code",
        "host": "ZGVsdGEtc3RvcmUubXlzaG9waWZ5LmNvbS9hZG1pbg",
        "shop": shop,
        "state": state,
        "timestamp": str(int(time.time())),
        **extra,
    }


def assert_nothing_stored() -> None:
    assert not Shop.objects.exists()
    assert not DevStore.objects.exclude(access_token_digest="").exists()


# --- the install page -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_install_page_sends_the_merchant_to_the_grant_screen_with_a_state_cookie(
    client, settings
):
    # When a merchant opens the install page for their store
    response = client.get("/shopify/install", {"shop": "Delta-Store.myshopify.com"})

    # Then they are sent to the store's grant screen with the app's key, scopes and callback
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == (
        settings.SHOPIFY_ADMIN_API_ORIGIN.format(shop=DOMAIN) + "/admin/oauth/authorize"
    )
    query = parse_qs(target.query)
    assert query["client_id"] == [settings.SHOPIFY_API_KEY]
    assert query["scope"] == [",".join(settings.SHOPIFY_SCOPES)]
    assert query["redirect_uri"] == [f"{settings.SHOPIFY_APP_URL}/shopify/callback"]
    # And the state nonce is kept in a signed, HttpOnly, SameSite=Lax cookie for /shopify/
    cookie = response.cookies[STATE_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/shopify/"
    oauth_state_check(cookie_value=cookie.value, state=query["state"][0], shop=DOMAIN)
    assert_nothing_stored()


@pytest.mark.django_db
def test_real_shopify_is_reached_at_the_stores_own_https_address(client, settings):
    # Given the app pointed at Shopify itself
    settings.SHOPIFY_ADMIN_API_ORIGIN = ""

    response = client.get("/shopify/install", {"shop": DOMAIN})

    assert response["Location"].startswith(f"https://{DOMAIN}/admin/oauth/authorize?")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "shop",
    [
        "evil.example.com",
        "delta-store.myshopify.com.evil.com",
        "delta-store.myshopify.com:8443",
        "user@delta-store.myshopify.com",
        "",
        "delta store.myshopify.com",
    ],
)
def test_the_install_page_refuses_an_address_that_is_not_a_myshopify_store(client, shop):
    response = client.get("/shopify/install", {"shop": shop})

    assert response.status_code == 400
    assert b"is not a Shopify store address" in response.content
    assert STATE_COOKIE not in response.cookies


@pytest.mark.django_db
def test_an_install_started_from_the_store_admin_is_accepted_when_its_signature_holds(client):
    # Given the signed query Shopify adds when a merchant opens the app
    params = signed({"shop": DOMAIN, "timestamp": str(int(time.time()))})

    response = client.get("/shopify/install", params)

    assert response.status_code == 302
    assert STATE_COOKIE in response.cookies


@pytest.mark.django_db
def test_an_install_with_a_forged_signature_is_refused(client):
    params = signed({"shop": DOMAIN, "timestamp": str(int(time.time()))}, secret="another")

    response = client.get("/shopify/install", params)

    assert response.status_code == 403
    assert STATE_COOKIE not in response.cookies


@pytest.mark.django_db
def test_an_install_opened_inside_the_admin_frame_continues_in_the_top_window(client):
    response = client.get("/shopify/install", {"shop": DOMAIN, "embedded": "1"})

    assert response.status_code == 200
    assert b'target="_top"' in response.content
    assert b"/shopify/install?shop=delta-store.myshopify.com" in response.content
    assert STATE_COOKIE not in response.cookies


# --- the callback ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_callback_without_a_signature_is_refused_and_stores_nothing(client):
    state = start_install(client)

    response = client.get("/shopify/callback", callback_params(state))

    assert response.status_code == 400
    assert b"not signed" in response.content
    assert_nothing_stored()


@pytest.mark.django_db
def test_a_callback_with_a_forged_signature_is_refused(client):
    state = start_install(client)
    params = signed(callback_params(state), secret="not-the-app-secret")

    response = client.get("/shopify/callback", params)

    assert response.status_code == 403
    assert b"signature is not valid" in response.content
    assert_nothing_stored()


@pytest.mark.django_db
def test_a_callback_whose_signed_parameters_were_changed_is_refused(client):
    state = start_install(client)
    params = signed(callback_params(state))
    params["code"] = "another-code"

    response = client.get("/shopify/callback", params)

    assert response.status_code == 403
    assert_nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize("age", [91, 3600, 2 * 86400, -120])
def test_a_callback_signed_too_long_ago_or_in_the_future_is_refused(client, age):
    state = start_install(client)
    params = signed(callback_params(state, timestamp=str(int(time.time()) - age)))

    response = client.get("/shopify/callback", params)

    assert response.status_code == 403
    assert b"expired" in response.content
    assert_nothing_stored()


@pytest.mark.django_db
def test_a_callback_with_another_state_is_refused(client):
    start_install(client)
    params = signed(callback_params("a-state-never-issued"))

    response = client.get("/shopify/callback", params)

    assert response.status_code == 403
    assert b"state does not match" in response.content
    assert_nothing_stored()


@pytest.mark.django_db
def test_a_callback_in_a_browser_that_never_started_the_install_is_refused(client):
    # Given a state issued to another browser
    state = start_install(Client())

    response = client.get("/shopify/callback", signed(callback_params(state)))

    assert response.status_code == 403
    assert b"not started from this browser" in response.content
    assert_nothing_stored()


@pytest.mark.django_db
def test_a_state_issued_for_one_store_cannot_complete_another_stores_install(client):
    # Given an install started for delta-store
    state = start_install(client, DOMAIN)

    # When a callback for epsilon-store comes back with delta-store's state
    response = client.get("/shopify/callback", signed(callback_params(state, shop=OTHER)))

    # Then it is refused
    assert response.status_code == 403
    assert b"started for another store" in response.content
    assert_nothing_stored()


@pytest.mark.django_db
def test_a_tampered_state_cookie_is_refused(client):
    state = start_install(client)
    client.cookies[STATE_COOKIE] = client.cookies[STATE_COOKIE].value[:-2] + "xx"

    response = client.get("/shopify/callback", signed(callback_params(state)))

    assert response.status_code == 403
    assert_nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize("shop", ["evil.example.com", "delta-store.myshopify.com.evil.com"])
def test_a_callback_for_an_address_that_is_not_a_myshopify_store_is_refused(client, shop):
    state = start_install(client)

    response = client.get("/shopify/callback", signed(callback_params(state, shop=shop)))

    assert response.status_code == 400
    assert b"is not a Shopify store address" in response.content
    assert_nothing_stored()


@pytest.mark.django_db
def test_a_callback_repeating_a_parameter_is_refused(client):
    state = start_install(client)
    params = signed(callback_params(state))

    response = client.get("/shopify/callback", {**params, "shop": [DOMAIN, "evil.example.com"]})

    assert response.status_code == 403
    assert_nothing_stored()


@pytest.mark.django_db(transaction=True)
def test_a_code_the_store_refuses_ends_in_a_clear_page_and_stores_nothing(
    client, simulator, settings
):
    # Given an install started against the simulated store
    settings.SHOPIFY_APP_URL = simulator.url
    state = start_install(client)

    # When the callback carries a well-signed but unknown code
    response = client.get("/shopify/callback", signed(callback_params(state, code="made-up")))

    # Then the store's refusal is shown and nothing is stored
    assert response.status_code == 400
    assert b"refused the authorization code" in response.content
    assert_nothing_stored()
    # And the state is spent: the same callback again is refused before reaching the store
    again = client.get("/shopify/callback", signed(callback_params(state, code="made-up")))
    assert again.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_store_that_cannot_be_reached_ends_in_a_502_page(client, settings):
    # Given a store whose address answers nothing
    settings.SHOPIFY_ADMIN_API_ORIGIN = "http://127.0.0.1:9/devstore/{shop}"
    settings.SHOPIFY_ADMIN_API_TIMEOUT_SECONDS = 2
    state = start_install(client)

    response = client.get("/shopify/callback", signed(callback_params(state)))

    assert response.status_code == 502
    assert b"could not be reached" in response.content
    assert_nothing_stored()
