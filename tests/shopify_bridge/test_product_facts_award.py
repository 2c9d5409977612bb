"""Orders earn by product type, tag and collection through real signed webhooks: the facts
come from the shop's Admin API (the dev-store simulator over HTTP) and its cache."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from loyalty_app.common.time import now
from loyalty_app.earning.models import Order
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from shopify_bridge import services
from shopify_bridge.devstore.payloads import LineSpec, order_payload
from shopify_bridge.models import ProductFacts, WebhookEvent

from .conftest import COFFEE, KETTLE, MUG, SALE_BEANS, program_put

RULES = {
    "line_rules": [
        {"field": "product_type", "value": "Coffee", "multiplier": 3},
        {"field": "collection", "value": "Sale", "exclude": True},
    ]
}
COFFEE_LINE = LineSpec(price=Decimal("24.00"), quantity=2, sku="COF-HB-1K", product_id=COFFEE)
KETTLE_LINE = LineSpec(price=Decimal("59.00"), sku="EQ-KETTLE", product_id=KETTLE)
MUG_LINE = LineSpec(price=Decimal("16.00"), sku="MUG-CER", product_id=MUG)
SALE_BEANS_LINE = LineSpec(price=Decimal("13.50"), sku="COF-OLD", product_id=SALE_BEANS)
# 2 x 24.00 coffee at 3x = 144, the kettle 59, the mug and the old beans are in Sale: 0.
BASKET = [COFFEE_LINE, KETTLE_LINE, MUG_LINE, SALE_BEANS_LINE]
BASKET_POINTS = 203


def order(order_id: int, lines: list[LineSpec], customer_id: int = 501, **fields: Any) -> dict:
    return order_payload(
        order_id=order_id,
        customer_id=customer_id,
        email=f"c{customer_id}@example.com",
        lines=lines,
        **fields,
    )


def balance(shop, customer_id: int = 501) -> int:
    member = Member.objects.filter(shop=shop.shop, external_id=str(customer_id)).first()
    return member.points_balance if member else 0


@pytest.fixture
def rules_shop(shop, api, simulator):
    """A shop with the app installed on the simulated store and rules on product facts."""
    simulator.install(shop.shop)
    program_put(api, RULES)
    return shop


def test_given_rules_on_type_and_collection_when_an_order_carries_only_product_ids_then_it_earns_by_the_facts_looked_up(
    rules_shop, post_webhook, simulator
):
    # when an order arrives whose lines name products but not their type or collections
    response = post_webhook("orders/create", order(1001, BASKET))

    # then the facts came from the Admin API in one call, and the points follow the rules
    assert response.status_code == 200
    assert simulator.calls(rules_shop.shop) == 1
    assert balance(rules_shop) == BASKET_POINTS
    stored = {line["product_id"]: line for line in Order.objects.get().lines}
    assert stored[str(COFFEE)]["product_type"] == "Coffee"
    assert stored[str(MUG)]["collections"] == ["450001", "sale", "Sale"]
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.DONE


@pytest.mark.parametrize("failure", ["http_503", "throttled"])
def test_given_a_cold_cache_when_the_admin_api_fails_then_nothing_is_awarded_and_the_event_is_retried_until_it_answers(
    rules_shop, post_webhook, simulator, django_capture_on_commit_callbacks, failure
):
    # given the shop's Admin API failing for now
    simulator.fail(rules_shop.shop, failure)

    # when an order arrives
    response = post_webhook("orders/create", order(1001, BASKET))

    # then it is accepted, nothing is awarded (no guess without the facts), and the event
    # waits for another attempt with the reason recorded
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.next_attempt_at is not None
    assert event.last_error.startswith(("AdminApiTransientError", "AdminApiThrottled"))
    assert LedgerEntry.objects.count() == 0
    assert not Order.objects.filter(has_snapshot=True).exists()

    # when the Admin API answers again and the sweeper's turn comes
    simulator.heal(rules_shop.shop)
    WebhookEvent.objects.update(next_attempt_at=now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_events_sweep() == 1

    # then the order is awarded exactly what the rules say
    event.refresh_from_db()
    assert (event.status, event.last_error) == (WebhookEvent.Status.DONE, "")
    assert balance(rules_shop) == BASKET_POINTS
    assert LedgerEntry.objects.count() == 1


def test_a_transient_admin_api_failure_is_retried_past_the_attempt_limit(
    rules_shop, post_webhook, simulator, settings
):
    # given an attempt limit smaller than the retries an outage takes
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    simulator.fail(rules_shop.shop, "http_503")

    # when the order's event has failed many times on the outage
    post_webhook("orders/create", order(1001, BASKET))

    # then it is still due for another attempt, not given up
    event = WebhookEvent.objects.get()
    assert event.attempts > settings.WEBHOOK_MAX_ATTEMPTS
    assert (event.status, event.next_attempt_at is not None) == (WebhookEvent.Status.FAILED, True)


def test_given_a_warm_cache_when_another_order_arrives_then_the_admin_api_is_not_called(
    rules_shop, post_webhook, simulator
):
    # given facts already read for an earlier order
    post_webhook("orders/create", order(1001, BASKET))
    assert simulator.calls(rules_shop.shop) == 1

    # when another customer buys the same products
    post_webhook("orders/create", order(1002, BASKET, customer_id=502))

    # then the cache answered and the points are the same
    assert simulator.calls(rules_shop.shop) == 1
    assert balance(rules_shop, 502) == BASKET_POINTS


def test_given_a_products_update_then_later_orders_earn_by_the_new_facts_and_a_recorded_order_keeps_its_own(
    rules_shop, post_webhook, simulator
):
    # given an order with the mug while it was in Sale (earns nothing for it)
    placed = now().replace(microsecond=0)
    post_webhook("orders/create", order(1001, [KETTLE_LINE, MUG_LINE], created_at=placed))
    assert balance(rules_shop) == 59

    # when the merchant takes the mug out of Sale and Shopify sends products/update
    simulator.products(
        rules_shop.shop,
        [{"id": MUG, "title": "Ceramic Mug", "product_type": "Merch", "collections": []}],
    )
    post_webhook(
        "products/update",
        {"id": MUG, "product_type": "Merch", "tags": "", "updated_at": now().isoformat()},
    )

    # then a later order earns on the mug (its facts were read again)
    post_webhook("orders/create", order(1002, [MUG_LINE], customer_id=502))
    assert balance(rules_shop, 502) == 16
    assert simulator.calls(rules_shop.shop) == 2

    # and a newer snapshot of the first order keeps the facts it was recorded with
    post_webhook(
        "orders/updated",
        order(1001, [KETTLE_LINE, MUG_LINE], created_at=placed, updated_at=now()),
    )
    assert balance(rules_shop) == 59
    assert simulator.calls(rules_shop.shop) == 2
    first = Order.objects.get(external_id="1001")
    assert [line.get("collections") for line in first.lines] == [
        ["450002", "brewing", "Brewing gear"],
        ["450001", "sale", "Sale"],
    ]


def test_given_two_shops_with_the_same_product_id_then_each_earns_by_its_own_facts(
    rules_shop, other_shop, post_webhook, simulator
):
    # given a second shop where product COFFEE is tea, with the same rules
    from django.test import Client

    simulator.install(other_shop.shop)
    simulator.products(
        other_shop.shop,
        [{"id": COFFEE, "title": "Green Tea", "product_type": "Tea", "collections": []}],
    )
    program_put(Client(headers={"Authorization": f"Bearer {other_shop.api_token}"}), RULES)

    # when both shops sell that product id, the first shop first
    post_webhook("orders/create", order(1001, [COFFEE_LINE]))
    post_webhook(
        "orders/create", order(1001, [COFFEE_LINE]), shop_domain="beta-store.myshopify.com"
    )

    # then the first earns 3x on coffee, the second 1x on tea from its own store
    assert balance(rules_shop) == 144
    assert balance(other_shop) == 48
    assert simulator.calls(other_shop.shop) == 1
    assert ProductFacts.objects.filter(shop=other_shop.shop).get().product_type == "Tea"


def test_given_a_shop_whose_rules_do_not_need_facts_then_no_admin_api_call_is_made(
    shop, post_webhook, simulator
):
    # given a shop on the default program, the app not even holding a token
    # when an order arrives, then it earns as always without any Admin API call
    post_webhook("orders/create", order(1001, BASKET))

    assert balance(shop) == 48 + 59 + 16 + 13
    assert simulator.calls(shop.shop) == 0
    assert ProductFacts.objects.count() == 0


def test_given_gift_card_and_custom_lines_only_then_no_facts_are_looked_up(
    rules_shop, post_webhook, simulator
):
    # given a gift card and a custom line (no product)
    gift = LineSpec(price=Decimal("25.00"), gift_card=True, product_id=COFFEE)
    custom = LineSpec(price=Decimal("10.00"), sku="CUSTOM")
    payload = order(1001, [gift, custom])
    payload["line_items"][1]["product_id"] = None

    # when the order arrives, then nothing is looked up and the custom line earns 1x
    post_webhook("orders/create", payload)
    assert simulator.calls(rules_shop.shop) == 0
    assert balance(rules_shop) == 10


@pytest.mark.parametrize("state", [{"test": True}, {"cancelled": True}])
def test_given_an_order_that_can_never_earn_then_no_facts_are_looked_up(
    rules_shop, post_webhook, simulator, state
):
    post_webhook("orders/create", order(1001, BASKET, **state))

    assert simulator.calls(rules_shop.shop) == 0
    assert balance(rules_shop) == 0
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.DONE


def test_given_a_revoked_token_then_the_order_waits_visibly_for_an_operator(
    rules_shop, post_webhook, simulator
):
    # given the shop's token no longer accepted (the app was uninstalled meanwhile)
    rules_shop.shop.access_token = "shpat_revoked"
    rules_shop.shop.save(update_fields=["access_token_encrypted"])

    # when an order arrives, then nothing is awarded and the event says why
    post_webhook("orders/create", order(1001, BASKET))
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.last_error.startswith("AdminApiAuthError: Admin API of alpha-store")
    assert LedgerEntry.objects.count() == 0
