"""The app proxy's signature (FACTS §4): every widget request must carry Shopify's."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import pytest
from django.conf import settings

from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

SHOP = "alpha-store.myshopify.com"


def shopify_signed(params: list[tuple[str, str]], secret: str | None = None) -> str:
    """A query signed as Shopify's app proxy signs it, written out from Shopify's rule:
    sorted ``key=value`` (values of one key joined by ","), concatenated, hex HMAC."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    message = "".join(f"{k}={','.join(v)}" for k, v in sorted(grouped.items()))
    key = (secret or settings.SHOPIFY_API_SECRET).encode()
    signature = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
    return urlencode([*params, ("signature", signature)])


def proxy_params(customer: str = "", **overrides: str) -> list[tuple[str, str]]:
    base = {
        "shop": SHOP,
        "logged_in_customer_id": customer,
        "path_prefix": "/apps/loyalty",
        "timestamp": str(int(time.time())),
    }
    base.update(overrides)
    return list(base.items())


@pytest.fixture
def member(shop) -> Member:
    return Member.objects.create(shop=shop.shop, external_id="7001", points_balance=0)


def test_a_request_signed_as_shopify_signs_it_is_answered(client, shop):
    response = client.get(f"/proxy/state?{shopify_signed(proxy_params())}")
    assert response.status_code == 200


def test_a_request_without_a_signature_is_401(client, shop):
    response = client.get(f"/proxy/state?{urlencode(proxy_params('7001'))}")
    assert response.status_code == 401
    assert response.json()["error"] == "the request is not signed by the app proxy"


def test_a_request_signed_with_another_secret_is_401(client, shop):
    response = client.get(f"/proxy/state?{shopify_signed(proxy_params(), secret='not-ours')}")
    assert response.status_code == 401
    assert "does not match" in response.json()["error"]


def test_a_signed_url_replayed_with_another_customer_id_is_401(client, shop, member):
    # given a URL Shopify signed for customer 7002
    query = shopify_signed(proxy_params("7002"))

    # when someone swaps in customer 7001
    response = client.get(f"/proxy/state?{query.replace('=7002', '=7001')}")

    # then the signature no longer matches
    assert response.status_code == 401


def test_a_stale_timestamp_is_401(client, shop):
    old = str(int(time.time()) - 91)
    response = client.get(f"/proxy/state?{shopify_signed(proxy_params(timestamp=old))}")
    assert response.status_code == 401
    assert "timestamp" in response.json()["error"]


def test_a_timestamp_from_the_future_is_401(client, shop):
    ahead = str(int(time.time()) + 120)
    response = client.get(f"/proxy/state?{shopify_signed(proxy_params(timestamp=ahead))}")
    assert response.status_code == 401


@pytest.mark.parametrize("name", ["shop", "timestamp", "logged_in_customer_id"])
def test_a_proxy_parameter_given_twice_is_401_even_when_signed(client, shop, name):
    # given a query where a proxy parameter appears twice, signed over both values
    params = proxy_params("7001")
    value = dict(params)[name]
    params.append((name, value))

    response = client.get(f"/proxy/state?{shopify_signed(params)}")

    assert response.status_code == 401
    assert "more than once" in response.json()["error"]


def test_the_shoppers_own_multi_valued_parameters_are_signed_joined_by_commas(client, shop):
    # given the shopper's query has a key twice (Shopify signs "ids=1,2")
    params = [("ids", "1"), ("ids", "2"), *proxy_params()]
    response = client.get(f"/proxy/state?{shopify_signed(params)}")
    assert response.status_code == 200


def test_a_customer_id_in_the_body_or_query_cannot_replace_the_signed_one(client, shop, member):
    # given a guest's signed request that adds "customer_id=7001" of its own
    params = [("customer_id", "7001"), *proxy_params("")]
    response = client.get(f"/proxy/state?{shopify_signed(params)}")

    # then the answer is the guest's: nobody's balance
    assert response.status_code == 200
    assert response.json()["customer"] == {"logged_in": False, "member": False}


def test_an_uninstalled_shop_is_refused(client, shop):
    Shop.objects.filter(pk=shop.shop.pk).update(state=Shop.State.UNINSTALLED)
    response = client.get(f"/proxy/state?{shopify_signed(proxy_params())}")
    assert response.status_code == 401


def test_an_unknown_shop_is_refused(client, shop):
    params = proxy_params(shop="nobody-here.myshopify.com")
    response = client.get(f"/proxy/state?{shopify_signed(params)}")
    assert response.status_code == 401


def test_a_customer_id_that_is_not_an_id_is_refused(client, shop):
    response = client.get(f"/proxy/state?{shopify_signed(proxy_params('7001 OR 1=1'))}")
    assert response.status_code == 401
