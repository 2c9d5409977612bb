"""The simulator's Admin GraphQL endpoint as Shopify answers it: auth, failures, the bucket."""

from __future__ import annotations

import json

from django.test import Client

from shopify_bridge.devstore.models import DevStore
from shopify_bridge.devstore.services import devstore_install, devstore_throttle

URL = "/devstore/alpha-store.myshopify.com/admin/api/2025-10/graphql.json"
QUERY = {"query": "{ shop { name } }"}


def call(client: Client, token: str | None, body: object = QUERY):
    headers = {"X-Shopify-Access-Token": token} if token else {}
    return client.post(URL, data=json.dumps(body), content_type="application/json", headers=headers)


def test_an_unknown_shop_is_404_and_a_missing_token_401(client, shop):
    assert call(client, "x").status_code == 404

    devstore_install(shop=shop.shop)
    response = call(client, None)

    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_reinstalling_issues_a_new_token_and_retires_the_old_one(client, shop):
    old = devstore_install(shop=shop.shop)
    new = devstore_install(shop=shop.shop)

    assert call(client, old).status_code == 401
    assert call(client, new).status_code == 200
    shop.shop.refresh_from_db()
    assert shop.shop.access_token == new


def test_the_simulator_is_off_when_not_enabled(client, shop, settings):
    token = devstore_install(shop=shop.shop)
    settings.DEVSTORE_ENABLED = False

    assert call(client, token).status_code == 404


def test_an_empty_bucket_throttles_until_it_refills(client, shop):
    # given a store whose bucket holds 3 points and refills 1 point a second
    token = devstore_install(shop=shop.shop)
    devstore_throttle(domain=shop.shop.domain, enforced=True, bucket_size=3, restore_rate=1)
    query = {"query": "{ a: shop { name } b: shop { name } }"}  # costs 2

    # when two calls come at once
    first = call(client, token, query).json()
    second = call(client, token, query).json()

    # then the second finds too little left, and says so as Shopify does
    assert first["data"] == {"a": {"name": "Alpha Store"}, "b": {"name": "Alpha Store"}}
    assert first["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 3.0
    assert second["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert second["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 2


def test_a_failure_is_served_as_many_times_as_asked(client, shop):
    token = devstore_install(shop=shop.shop)
    DevStore.objects.update(fail_mode="http_503", fail_remaining=2)

    statuses = [call(client, token).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert DevStore.objects.get().api_calls == 3
