"""Punch cards: "buy N, get one", counted from the member's orders as they are now, and
granted through real signed order webhooks (the collection card's facts come from the
dev-store simulator over HTTP)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from loyalty_app.earning.models import Order
from loyalty_app.earning.services import orders_confirm_due, program_update
from loyalty_app.rewards.models import Redemption, Reward
from loyalty_app.rewards.punch_cards import (
    line_units,
    order_units,
    punch_cards_sweep,
)
from loyalty_app.rewards.services import reward_create
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload
from shopify_bridge.models import AdminApiCall
from tests.shopify_bridge.conftest import COFFEE, MUG, SALE

D = Decimal


# --- the count, pure ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "refunded_amount", "refunded_quantity", "units"),
    [
        ({"quantity": 3, "amount": "30"}, D(0), None, 3),
        ({"quantity": 3, "amount": "30"}, D(10), None, 2),
        ({"quantity": 3, "amount": "10"}, D("3.34"), None, 2),  # rounded, not ceiled
        ({"quantity": 3, "amount": "30"}, D("0.50"), None, 2),  # a refund takes one at least
        ({"quantity": 3, "amount": "30"}, D(90), None, 0),  # never below 0
        ({"quantity": 3, "amount": "30"}, D(10), 2, 1),  # the quantity wins when known
        ({"quantity": 2, "amount": "0"}, D(0), None, 2),  # a free line counts
        ({"quantity": 2, "amount": "0"}, D("0.01"), None, 0),
        ({"quantity": 0, "amount": "0"}, D(0), None, 0),
    ],
)
def test_a_lines_units_are_its_quantity_less_what_was_refunded(
    line, refunded_amount, refunded_quantity, units
):
    assert (
        line_units(line, refunded_amount=refunded_amount, refunded_quantity=refunded_quantity)
        == units
    )


LINES = [
    {"id": "1", "quantity": 2, "amount": "20", "product_id": "6001", "collections": []},
    {"id": "2", "quantity": 1, "amount": "8", "product_id": "6003", "collections": ["450001"]},
    {"id": "3", "quantity": 5, "amount": "50", "product_id": "6001", "gift_card": True},
]


@pytest.mark.parametrize(
    ("target", "target_id", "refunds", "units"),
    [
        ("product", "6001", [], 2),  # the gift card line never counts
        ("product", "gid://shopify/Product/6001", [], 2),
        ("product", "6002", [], 0),
        ("collection", "450001", [], 1),
        ("collection", "gid://shopify/Collection/450001", [], 1),
        ("product", "6001", [[{"id": "1", "amount": "10"}]], 1),
        ("product", "6001", [[{"id": "1", "amount": "10"}], [{"id": "1", "amount": "10"}]], 0),
        ("collection", "450001", [[{"id": "1", "amount": "20"}]], 1),  # another line refunded
    ],
)
def test_an_orders_units_are_its_qualifying_lines_less_refunds(target, target_id, refunds, units):
    assert order_units(LINES, refunds, target=target, target_id=target_id) == units


# --- through the order webhooks -----------------------------------------------------------

pytestmark_db = pytest.mark.django_db(transaction=True)


def catalog(shop: Any, *, target: str = "product", target_id: str = str(COFFEE)) -> Reward:
    mug = reward_create(
        shop=shop,
        data={"kind": "free_product", "title": "Free mug", "grant_only": True, "variant_id": "77"},
        actor="merchant:test",
    )
    return reward_create(
        shop=shop,
        data={
            "kind": "punch_card",
            "title": "Buy 3 coffees",
            "punch_target": target,
            "punch_target_id": target_id,
            "punch_count": 3,
            "punch_reward_id": mug.pk,
        },
        actor="merchant:test",
    )


def order(order_id: int, quantity: int, product_id: int = COFFEE, **extra: Any) -> dict[str, Any]:
    line = LineSpec(price=D("12.00"), quantity=quantity, product_id=product_id)
    return order_payload(
        order_id=order_id, lines=[line], customer_id=501, email="a@example.com", **extra
    )


def grants(member_id: int | None = None) -> list[Redemption]:
    rows = Redemption.objects.filter(idempotency_key__startswith="punch:").order_by("pk")
    return list(rows.filter(member_id=member_id) if member_id else rows)


def progress(api: Client) -> dict[str, Any]:
    response = api.get("/api/v1/customers/501/punch-cards")
    assert response.status_code == 200, response.content
    return response.json()["results"][0]


@pytestmark_db
def test_the_third_coffee_grants_the_reward_once(shop, api, simulator, post_webhook):
    # given a "buy 3 coffees, get a mug" card
    simulator.install(shop.shop)
    card = catalog(shop.shop)

    # when the customer buys 2 coffees, then 1 more (and the shop sends that order twice)
    post_webhook("orders/paid", order(7001, 2))
    before = progress(api)
    post_webhook("orders/paid", order(7002, 1))
    post_webhook("orders/paid", order(7002, 1))

    # then the card was at 2 of 3, and the mug is granted once, delivered as a code
    assert (before["count"], before["of"], before["cards_completed"]) == (2, 3, 0)
    [granted] = grants()
    assert (granted.points, granted.kind, granted.status) == (0, "free_product", "issued")
    assert granted.idempotency_key == f"punch:{card.pk}:{granted.member_id}:1"
    assert AdminApiCall.objects.filter(idempotency_key=f"redemption:{granted.pk}").exists()
    after = progress(api)
    assert (after["count"], after["units"], after["cards_completed"]) == (0, 3, 1)


@pytestmark_db
def test_one_order_of_seven_fills_two_cards(shop, api, simulator, post_webhook):
    simulator.install(shop.shop)
    catalog(shop.shop)

    post_webhook("orders/paid", order(7001, 7))

    assert [g.idempotency_key.rsplit(":", 1)[-1] for g in grants()] == ["1", "2"]
    assert progress(api)["count"] == 1


@pytestmark_db
def test_other_products_unpaid_and_cancelled_orders_do_not_count(
    shop, api, simulator, post_webhook
):
    simulator.install(shop.shop)
    catalog(shop.shop)

    post_webhook("orders/paid", order(7001, 5, product_id=MUG))
    post_webhook("orders/create", order(7002, 5, financial_status="pending"))
    post_webhook("orders/cancelled", order(7003, 5, financial_status="voided", cancelled=True))

    assert grants() == []
    assert progress(api)["count"] == 0


@pytestmark_db
def test_a_refund_stops_counting_but_the_granted_reward_stays(shop, api, simulator, post_webhook):
    # given a full card (3 coffees in one order) whose mug was granted
    simulator.install(shop.shop)
    catalog(shop.shop)
    post_webhook("orders/paid", order(7001, 3))
    assert len(grants()) == 1

    # when 2 coffees are refunded, then 3 more are bought
    line = LineSpec(price=D("12.00"), quantity=3, product_id=COFFEE)
    post_webhook(
        "refunds/create",
        refund_payload(refund_id=9001, order_id=7001, lines=[(line_id_for(7001, 0), line, 2)]),
    )
    refunded = progress(api)
    post_webhook("orders/paid", order(7002, 3))

    # then the grant stays; the refunded units are missing from the next card
    assert (refunded["units"], refunded["count"], refunded["cards_completed"]) == (1, 0, 1)
    assert len(grants()) == 1
    assert progress(api)["count"] == 1
    post_webhook("orders/paid", order(7003, 2))
    assert len(grants()) == 2


@pytestmark_db
def test_a_collection_card_counts_the_lines_of_its_collection(shop, api, simulator, post_webhook):
    # given a card on the "Sale" collection (the mug is in it, the coffee is not); no
    # earning rule uses product facts
    simulator.install(shop.shop)
    catalog(shop.shop, target="collection", target_id=f"gid://shopify/Collection/{SALE['id']}")

    post_webhook("orders/paid", order(7001, 2, product_id=MUG))
    post_webhook("orders/paid", order(7002, 5, product_id=COFFEE))
    assert grants() == []
    post_webhook("orders/paid", order(7003, 1, product_id=MUG))

    assert len(grants()) == 1
    stored = Order.objects.get(external_id="7001").lines[0]
    assert str(SALE["id"]) in stored["collections"]


@pytestmark_db
def test_the_sweep_grants_a_fill_reached_when_the_return_window_confirms_the_order(
    shop, simulator, post_webhook, clock
):
    # given a shop whose order points stay pending for 14 days, and 3 coffees bought
    simulator.install(shop.shop)
    program_update(shop=shop.shop, data={"pending_days": 14}, actor="test")
    clock.advance(minutes=1)
    catalog(shop.shop)
    post_webhook("orders/paid", order(7001, 3, created_at=clock()))
    assert grants() == []  # not confirmed yet: it may still be returned

    # when the return-window job confirms the order and the sweep runs (twice)
    clock.advance(days=15)
    assert orders_confirm_due() == 1
    made, again = punch_cards_sweep(), punch_cards_sweep()

    # then the fill is granted once
    assert (made, again) == (1, 0)
    assert len(grants()) == 1


@pytestmark_db
def test_another_shop_cannot_read_a_customers_punch_cards(
    shop, other_shop, api, simulator, post_webhook
):
    simulator.install(shop.shop)
    catalog(shop.shop)
    post_webhook("orders/paid", order(7001, 2))
    theirs = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    assert theirs.get("/api/v1/customers/501/punch-cards").status_code == 404
    assert api.get("/api/v1/customers/999/punch-cards").status_code == 404


@pytestmark_db
def test_an_archived_card_stops_granting(shop, api, simulator, post_webhook):
    simulator.install(shop.shop)
    card = catalog(shop.shop)
    Reward.objects.filter(pk=card.pk).update(active=False)

    post_webhook("orders/paid", order(7001, 3))

    assert grants() == []
    assert api.get("/api/v1/customers/501/punch-cards").json()["results"] == []
