"""App Bridge session tokens: what the embedded admin accepts and what it refuses."""

from __future__ import annotations

import time

import jwt
import pytest
from django.test import RequestFactory

from loyalty_app.merchant_admin.auth import AdminAuthFailed
from shopify_bridge.embedded import (
    SessionTokenInvalid,
    admin_frame_ancestors,
    admin_identity,
    session_token_decode,
    session_token_mint,
)
from shopify_bridge.port import admin_frame_ancestors_for, admin_page_head_for

SHOP = "alpha-store.myshopify.com"


def test_a_token_app_bridge_would_send_names_the_shop_and_user():
    token = session_token_decode(session_token_mint(shop_domain=SHOP, user_id="42"))

    assert token.shop_domain == SHOP
    assert token.user_id == "42"


@pytest.mark.parametrize(
    ("case", "mint"),
    [
        ("expired", {"now": -120}),
        ("not yet valid", {"now": 120}),
        ("signed with another secret", {"secret": "not-the-app-secret-at-all-0123456789"}),
        ("for another app", {"api_key": "someone-elses-app"}),
        ("issued by a host that is not a shop", {"shop_domain": "evil.example.com"}),
    ],
)
def test_a_bad_token_is_refused(case, mint):
    kwargs = {"shop_domain": SHOP, **mint}
    if "now" in kwargs:  # an offset from the moment the test runs
        kwargs["now"] = time.time() + kwargs["now"]

    with pytest.raises(SessionTokenInvalid):
        session_token_decode(session_token_mint(**kwargs))


def test_a_token_a_few_seconds_early_is_accepted_as_app_bridge_often_sends_them():
    session_token_decode(session_token_mint(shop_domain=SHOP, now=time.time() + 5))


def test_a_token_whose_issuer_and_destination_differ_is_refused(settings):
    issued = int(time.time())
    claims = {
        "iss": f"https://{SHOP}/admin",
        "dest": "https://beta-store.myshopify.com",
        "aud": settings.SHOPIFY_API_KEY,
        "sub": "1",
        "exp": issued + 60,
        "nbf": issued,
        "jti": "j",
        "sid": "s",
    }

    with pytest.raises(SessionTokenInvalid):
        session_token_decode(jwt.encode(claims, settings.SHOPIFY_API_SECRET, algorithm="HS256"))


def test_a_token_without_an_expiry_is_refused(settings):
    claims = {
        "iss": f"https://{SHOP}/admin",
        "dest": f"https://{SHOP}",
        "aud": settings.SHOPIFY_API_KEY,
        "sub": "1",
        "nbf": int(time.time()),
        "jti": "j",
        "sid": "s",
    }

    with pytest.raises(SessionTokenInvalid):
        session_token_decode(jwt.encode(claims, settings.SHOPIFY_API_SECRET, algorithm="HS256"))


def test_an_unsigned_token_is_refused(settings):
    issued = int(time.time())
    claims = {
        "iss": f"https://{SHOP}/admin",
        "dest": f"https://{SHOP}",
        "aud": settings.SHOPIFY_API_KEY,
        "sub": "1",
        "exp": issued + 60,
        "nbf": issued,
        "jti": "j",
        "sid": "s",
    }

    with pytest.raises(SessionTokenInvalid):
        session_token_decode(jwt.encode(claims, None, algorithm="none"))


@pytest.mark.django_db
def test_the_identity_comes_from_the_header_the_form_or_the_first_load_query(shop):
    factory = RequestFactory()
    token = session_token_mint(shop_domain=shop.shop.domain, user_id="7")

    by_header = factory.get("/app/", HTTP_AUTHORIZATION=f"Bearer {token}")
    by_form = factory.post("/app/program", {"id_token": token})
    by_query = factory.get("/app/", {"id_token": token})

    for request in (by_header, by_form, by_query):
        identity = admin_identity(request)
        assert identity.shop == shop.shop
        assert identity.user == "staff:7"
        assert identity.head["shop"] == shop.shop.domain


@pytest.mark.django_db
def test_no_token_means_no_identity(shop):
    with pytest.raises(AdminAuthFailed):
        admin_identity(RequestFactory().get("/app/", {"shop": shop.shop.domain}))


def test_only_the_shops_admin_may_frame_the_app(settings):
    settings.SHOPIFY_ADMIN_API_ORIGIN = ""

    assert admin_frame_ancestors(shop_domain=SHOP) == [
        f"https://{SHOP}",
        "https://admin.shopify.com",
    ]
    assert admin_frame_ancestors_for(shop_domain="evil.example.com") == []
    assert admin_page_head_for(shop_domain="<script>") == {}


def test_in_the_simulator_its_store_admin_frames_the_app_and_serves_app_bridge(settings):
    settings.SHOPIFY_ADMIN_API_ORIGIN = "http://127.0.0.1:8000/devstore/{shop}"

    assert admin_frame_ancestors(shop_domain=SHOP) == ["http://127.0.0.1:8000"]
    assert admin_page_head_for(shop_domain=SHOP)["app_bridge_src"].endswith(
        "devstore/app-bridge.js"
    )
