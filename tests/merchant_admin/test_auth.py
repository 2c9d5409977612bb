"""Every admin page answers only a valid session token of the shop it names."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from loyalty_app.shops.services import shop_create
from shopify_bridge.embedded import session_token_mint

from .conftest import AdminClient, member_create

pytestmark = pytest.mark.django_db

PAGES = [
    "/app/",
    "/app/program/",
    "/app/campaigns/",
    "/app/campaigns/new",
    "/app/customers/",
    "/app/activity/",
    "/app/settings/",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_a_valid_session_token(admin: AdminClient, path: str) -> None:
    # given a shop with a member
    member_create(admin.shop, 1)
    # when its staff user opens the page with a fresh token
    response = admin.get(path)
    # then the page is served, framed only by the shop's admin, and not cached
    assert response.status_code == 200
    assert "frame-ancestors" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response
    assert response["Cache-Control"] == "no-store"
    assert b'name="shopify-api-key"' in response.content


def _bounce(response: object) -> bool:
    return response.status_code == 401 and b'data-testid="bounce"' in response.content  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_token_answers_the_bounce_page(admin: AdminClient, path: str) -> None:
    response = Client().get(path, {"shop": admin.shop.domain})
    assert _bounce(response)
    assert b"shopify.idToken" in response.content


@pytest.mark.parametrize("path", PAGES)
def test_a_forged_token_is_refused(admin: AdminClient, path: str) -> None:
    forged = session_token_mint(shop_domain=admin.shop.domain, secret="not-the-app-secret")
    response = Client().get(path, {"shop": admin.shop.domain, "id_token": forged})
    assert _bounce(response)


@pytest.mark.parametrize("path", PAGES)
def test_an_expired_token_is_refused(admin: AdminClient, path: str) -> None:
    expired = session_token_mint(shop_domain=admin.shop.domain, now=time.time() - 3600)
    response = Client().get(path, {"shop": admin.shop.domain, "id_token": expired})
    assert _bounce(response)


@pytest.mark.parametrize("path", PAGES)
def test_a_token_for_a_shop_unknown_here_is_refused(admin: AdminClient, path: str) -> None:
    stranger = session_token_mint(shop_domain="stranger-store.myshopify.com")
    response = Client().get(path, {"shop": "stranger-store.myshopify.com", "id_token": stranger})
    assert response.status_code == 401


def test_a_token_for_another_api_key_is_refused(admin: AdminClient) -> None:
    token = session_token_mint(shop_domain=admin.shop.domain, api_key="someone-elses-app")
    response = Client().get("/app/", {"id_token": token})
    assert _bounce(response)


def test_a_bearer_token_authenticates_a_request_for_json(admin: AdminClient) -> None:
    response = Client().get("/app/customers/", headers={"Authorization": f"Bearer {admin.token()}"})
    assert response.status_code == 200


def test_a_post_without_a_token_is_refused_and_changes_nothing(admin: AdminClient) -> None:
    response = Client().post("/app/settings/", {"enabled": "on", "primary_colour": "#112233"})
    assert response.status_code == 401
    assert not admin.shop.audit_entries.exists()


def test_a_post_from_a_foreign_origin_is_refused_and_changes_nothing(admin: AdminClient) -> None:
    response = admin.post(
        "/app/program/status", {"enabled": ""}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert not admin.shop.audit_entries.exists()


def test_a_post_from_the_admins_own_origin_is_accepted(admin: AdminClient) -> None:
    response = admin.post(
        "/app/program/status", {"next": "home"}, headers={"Origin": "http://testserver"}
    )
    assert response.status_code == 303


def test_the_page_names_the_shop_of_the_token_not_of_the_query(admin: AdminClient) -> None:
    # given two shops; the query names the other one
    other = shop_create(domain="gamma-store.myshopify.com").shop
    member_create(other, 5, email="secret@gamma.example")
    # when shop A's token asks for customers with ?shop= of shop B
    response = admin.client.get(
        "/app/customers/", {"shop": other.domain, "id_token": admin.token()}
    )
    # then shop A's data is shown, never B's
    assert response.status_code == 200
    assert b"secret@gamma.example" not in response.content


def test_a_refused_form_says_nothing_was_saved_and_links_back_to_its_page(
    admin: AdminClient,
) -> None:
    response = admin.client.post(
        "/app/program/",
        {"points_per_unit": "5"},
        HTTP_REFERER="http://testserver/app/program/?shop=x",
    )

    assert response.status_code == 401
    assert b"Nothing was saved" in response.content
    assert b'href="/app/program/' in response.content


def test_a_refused_form_never_links_back_to_another_site(admin: AdminClient) -> None:
    response = admin.client.post(
        "/app/program/", {"points_per_unit": "5"}, HTTP_REFERER="https://evil.example/app/x"
    )

    assert response.status_code == 401
    assert b"evil.example" not in response.content
