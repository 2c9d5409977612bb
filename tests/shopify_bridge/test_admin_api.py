"""The Admin GraphQL client (ShopifyAPI underneath) against the dev-store simulator over
real HTTP: answers, typed errors, the timeout, and the token kept out of sight."""

from __future__ import annotations

import logging
import socket
import time

import pytest
import shopify

from shopify_bridge.admin_api import (
    AdminApiAuthError,
    AdminApiPermanentError,
    AdminApiThrottled,
    AdminApiTransientError,
    AdminApiUserError,
    admin_graphql,
    user_errors_raise,
)

from .conftest import COFFEE, KETTLE

PRODUCT_QUERY = """
query ($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Product { id productType tags collections(first: 5) { nodes { handle } } }
  }
}
"""


def gid(product_id: int) -> str:
    return f"gid://shopify/Product/{product_id}"


def test_a_query_returns_the_data_and_the_throttle_status(shop, simulator):
    # given a shop with the app installed on the simulated store
    simulator.install(shop.shop)

    # when the app asks for two products and one that does not exist
    result = admin_graphql(
        shop=shop.shop, query=PRODUCT_QUERY, variables={"ids": [gid(COFFEE), gid(KETTLE), gid(9)]}
    )

    # then it gets Shopify's shapes: nodes in order, null for the unknown, the cost
    coffee, kettle, missing = result.data["nodes"]
    assert coffee == {
        "id": gid(COFFEE),
        "productType": "Coffee",
        "tags": ["beans", "organic"],
        "collections": {"nodes": []},
    }
    assert kettle["collections"] == {"nodes": [{"handle": "brewing"}]}
    assert missing is None
    assert result.cost["requestedQueryCost"] > 0
    assert set(result.throttle_status) == {
        "maximumAvailable",
        "currentlyAvailable",
        "restoreRate",
    }
    assert simulator.calls(shop.shop) == 1


def test_a_wrong_token_is_an_auth_error_that_is_not_retried(shop, simulator):
    # given a shop whose stored token the store no longer accepts
    simulator.install(shop.shop)
    shop.shop.access_token = "shpat_revoked"
    shop.shop.save(update_fields=["access_token_encrypted"])

    # when the app calls, then it is a permanent (auth) error carrying Shopify's words
    with pytest.raises(AdminApiAuthError) as caught:
        admin_graphql(shop=shop.shop, query="{ shop { name } }")
    assert caught.value.status == 401
    assert not isinstance(caught.value, AdminApiTransientError)
    assert "Invalid API key or access token" in str(caught.value)


def test_a_shop_without_a_token_fails_before_any_call(shop, simulator):
    # given a shop the app was never installed on
    # when the app calls, then it refuses without reaching the store
    with pytest.raises(AdminApiAuthError, match="no access token"):
        admin_graphql(shop=shop.shop, query="{ shop { name } }")
    assert simulator.calls(shop.shop) == 0


@pytest.mark.parametrize("mode, status", [("http_503", 503), ("http_500", 500)])
def test_a_server_error_is_transient(shop, simulator, mode, status):
    # given a store that answers 5xx
    simulator.install(shop.shop)
    simulator.fail(shop.shop, mode, count=1)

    # when the app calls, then it is a transient error; the next call works
    with pytest.raises(AdminApiTransientError) as caught:
        admin_graphql(shop=shop.shop, query="{ shop { name } }")
    assert caught.value.status == status
    assert admin_graphql(shop=shop.shop, query="{ shop { name } }").data == {
        "shop": {"name": "Alpha Store"}
    }


def test_throttling_is_transient_and_says_how_long_to_wait(shop, simulator):
    # given a store whose rate-limit bucket is empty
    simulator.install(shop.shop)
    simulator.fail(shop.shop, "throttled", count=1)

    # when the app calls
    with pytest.raises(AdminApiThrottled) as caught:
        admin_graphql(shop=shop.shop, query=PRODUCT_QUERY, variables={"ids": [gid(COFFEE)]})

    # then it may retry, and knows roughly when the bucket will hold enough
    assert isinstance(caught.value, AdminApiTransientError)
    assert caught.value.code == "THROTTLED"
    assert caught.value.retry_after is not None and caught.value.retry_after >= 0


def test_a_query_over_the_single_query_cost_limit_is_a_permanent_error(shop, simulator):
    # given a query asking for 250 products with 250 collections each
    simulator.install(shop.shop)
    query = """query ($ids: [ID!]!) { nodes(ids: $ids) { ... on Product {
        collections(first: 250) { nodes { id } } } } }"""

    # when it is sent, then Shopify's MAX_COST_EXCEEDED is not worth retrying
    with pytest.raises(AdminApiPermanentError) as caught:
        admin_graphql(shop=shop.shop, query=query, variables={"ids": [gid(COFFEE)] * 250})
    assert caught.value.code == "MAX_COST_EXCEEDED"


def test_a_stalled_store_times_out_as_a_transient_error(shop, simulator, settings):
    # given a store that takes 3 s to answer and a 1 s timeout
    simulator.install(shop.shop)
    simulator.fail(shop.shop, "slow", count=1, slow_ms=3000)
    settings.SHOPIFY_ADMIN_API_TIMEOUT_SECONDS = 1

    # when the app calls
    started = time.monotonic()
    with pytest.raises(AdminApiTransientError, match="timed out"):
        admin_graphql(shop=shop.shop, query="{ shop { name } }")

    # then it gave up after the timeout, not after the store's answer
    assert time.monotonic() - started < 2.5


def test_an_unreachable_store_is_a_transient_error(shop, simulator, settings):
    # given an origin where nothing listens
    simulator.install(shop.shop)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.SHOPIFY_ADMIN_API_ORIGIN = f"http://127.0.0.1:{port}/devstore/{{shop}}"

    # when the app calls, then it is transient
    with pytest.raises(AdminApiTransientError, match="unreachable"):
        admin_graphql(shop=shop.shop, query="{ shop { name } }")


def test_the_token_is_never_printed_logged_or_left_behind(shop, simulator, capsys, caplog):
    # given an installed shop and every kind of answer
    token = simulator.install(shop.shop)
    caplog.set_level(logging.DEBUG)
    errors = []
    for mode in ("http_503", "throttled", ""):
        simulator.fail(shop.shop, mode, count=1)
        try:
            admin_graphql(shop=shop.shop, query="{ shop { name } }")
        except AdminApiTransientError as exc:
            errors.append(str(exc))
    shop.shop.access_token = "shpat_wrong_one"
    try:
        admin_graphql(shop=shop.shop, query="{ shop { name } }")
    except AdminApiAuthError as exc:
        errors.append(str(exc))

    # then nothing went to stdout (the library prints error bodies), no log line or error
    # message holds a token, and no session is left active on the thread
    printed = capsys.readouterr()
    assert printed.out == ""
    for text in [printed.err, caplog.text, *errors]:
        assert token not in text and "shpat_wrong_one" not in text
    assert len(errors) == 3
    assert "X-Shopify-Access-Token" not in shopify.ShopifyResource.get_headers()
    assert shopify.ShopifyResource.get_site() is None


def test_user_errors_of_a_mutation_are_a_permanent_error():
    # given a mutation payload with userErrors
    payload = {
        "codeDiscountNode": None,
        "userErrors": [{"field": ["basicCodeDiscount", "code"], "message": "Code is taken"}],
    }

    # when it is checked, then the errors are raised with their fields
    with pytest.raises(AdminApiUserError, match="basicCodeDiscount.code: Code is taken") as caught:
        user_errors_raise(payload, mutation="discountCodeBasicCreate")
    assert caught.value.user_errors == payload["userErrors"]
    user_errors_raise({"userErrors": []}, mutation="discountCodeBasicCreate")
