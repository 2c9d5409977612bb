"""The simulated store admin frames the app as Shopify's admin does: a signed URL with a
fresh session token the app verifies, and an endpoint handing the frame new tokens."""

from __future__ import annotations

import base64
import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from shopify_bridge.devstore.services import devstore_install
from shopify_bridge.embedded import session_token_decode
from shopify_bridge.oauth import query_signature_check

pytestmark = pytest.mark.django_db
STATIC = Path(__file__).resolve().parents[2] / "static" / "devstore"


def admin_url(shop_domain: str, path: str = "") -> str:
    return f"/devstore/{shop_domain}/admin/apps/{settings.SHOPIFY_API_KEY}{path}"


def frame_src(response) -> str:
    match = re.search(r'<iframe id="app-frame"[^>]*\ssrc="([^"]+)"', response.content.decode())
    assert match, "no app frame on the page"
    return unescape(match.group(1))


def test_the_store_admin_frames_the_app_with_a_valid_session_token(client, shop):
    # Given the app installed on the store
    devstore_install(shop=shop.shop)

    # When the merchant opens the app in the store admin
    response = client.get(admin_url(shop.shop.domain))

    # Then the page shows the store's chrome and frames the app's admin
    assert response.status_code == 200
    page = response.content.decode()
    assert "Alpha Store" in page and 'aria-label="Store admin"' in page
    src = urlsplit(frame_src(response))
    assert f"{src.scheme}://{src.netloc}{src.path}" == f"{settings.SHOPIFY_APP_URL}/app/"
    query = {k: v[0] for k, v in parse_qs(src.query).items()}
    assert query["embedded"] == "1" and query["shop"] == shop.shop.domain
    assert (
        base64.urlsafe_b64decode(query["host"] + "==").decode() == "alpha-store.myshopify.com/admin"
    )
    # And the session token is one the app accepts, for this shop
    assert session_token_decode(query["id_token"]).shop_domain == shop.shop.domain
    # And the query is signed with the app's secret, as Shopify signs an app load
    query_signature_check(query)


def test_a_page_of_the_app_and_its_query_are_passed_to_the_frame(client, shop):
    devstore_install(shop=shop.shop)

    response = client.get(
        admin_url(shop.shop.domain, "/customers/42"), {"tab": "ledger", "id_token": "forged"}
    )

    src = urlsplit(frame_src(response))
    assert src.path == "/app/customers/42"
    query = parse_qs(src.query)
    assert query["tab"] == ["ledger"]
    assert query["id_token"] != ["forged"]
    assert session_token_decode(query["id_token"][0]).shop_domain == shop.shop.domain


@pytest.mark.parametrize("path", ["/a/../../shopify/install", "/..", "/x/..%2F..", "/%5Cevil"])
def test_a_page_path_leaving_the_app_is_refused(client, shop, path):
    devstore_install(shop=shop.shop)

    assert client.get(admin_url(shop.shop.domain, path)).status_code == 404


def test_a_store_without_the_app_offers_to_install_it(client):
    response = client.get(admin_url("kappa-store.myshopify.com"))

    assert response.status_code == 200
    assert 'id="app-frame"' not in response.content.decode()
    link = re.search(r'id="install-app" href="([^"]+)"', response.content.decode())
    assert unescape(link.group(1)) == (
        f"{settings.SHOPIFY_APP_URL}/shopify/install?shop=kappa-store.myshopify.com"
    )


def test_another_apps_key_or_a_store_that_is_no_myshopify_domain_is_not_found(client, shop):
    devstore_install(shop=shop.shop)

    assert client.get(f"/devstore/{shop.shop.domain}/admin/apps/other-key").status_code == 404
    assert client.get(admin_url("evil.example.com")).status_code == 404


def test_the_admin_page_hands_the_frame_fresh_tokens_only_to_its_own_script(shop):
    devstore_install(shop=shop.shop)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(admin_url(shop.shop.domain))
    csrf = re.search(r'data-csrf-token="([^"]+)"', page.content.decode()).group(1)
    token_url = admin_url(shop.shop.domain, "/id_token")

    # A request without the page's CSRF token (another site's script) is refused
    assert browser.post(token_url).status_code == 403
    # The page's own script gets a token the app accepts
    response = browser.post(token_url, headers={"X-CSRFToken": csrf})
    assert response.status_code == 200
    assert session_token_decode(response.json()["token"]).shop_domain == shop.shop.domain
    assert response["Cache-Control"] == "no-store"


def test_no_token_is_handed_out_for_a_store_without_the_app(client):
    response = client.post(admin_url("kappa-store.myshopify.com", "/id_token"))

    assert response.status_code == 404


def test_the_store_home_lists_the_app_as_installed_or_not(client, shop):
    before = client.get(f"/devstore/{shop.shop.domain}/admin").content.decode()
    devstore_install(shop=shop.shop)
    after = client.get(f"/devstore/{shop.shop.domain}/admin").content.decode()

    assert "Not installed" in before and "/shopify/install?shop=" in before
    assert "Installed" in after and admin_url(shop.shop.domain) in after


def test_the_app_bridge_stand_in_and_the_admin_page_speak_the_same_messages():
    shim = (STATIC / "app-bridge.js").read_text()
    admin = (STATIC / "admin.js").read_text()

    for message in (
        "devstore:id_token_request",
        "devstore:id_token",
        "devstore:toast",
        "devstore:navigation",
    ):
        assert f'"{message}"' in shim and f'"{message}"' in admin
    # App Bridge v4's names, and the origin checks on both sides
    assert 'meta[name="shopify-api-key"]' in shim and "idToken: idToken" in shim
    assert "event.origin !== adminOrigin" in shim and "event.origin !== appOrigin" in admin
