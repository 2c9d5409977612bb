"""A reward's code used in a real order: redeemed through the API with the dev-store
simulator over HTTP, then the shop's signed order webhook names the code."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Redemption
from loyalty_app.rewards.services import reward_create
from loyalty_app.shops.models import Shop
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload

pytestmark = pytest.mark.django_db(transaction=True)


def member_with(shop: Shop, points: int, customer_id: str = "501") -> Member:
    member = Member.objects.create(shop=shop, external_id=customer_id, email="a@example.com")
    ledger_entry_add(
        member=member,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        points=points,
        idempotency_key=f"seed:{member.pk}",
        reason="opening balance",
    )
    return member


def redeemed_code(shop: Any, api: Any) -> dict[str, Any]:
    five_off = reward_create(
        shop=shop.shop,
        data={"kind": "fixed_amount", "title": "5 off", "points_cost": 500, "value": "5"},
        actor="merchant:test",
    )
    response = api.post(
        "/api/v1/customers/501/redemptions",
        data=json.dumps({"reward_id": five_off.pk}),
        content_type="application/json",
        headers={"Idempotency-Key": "k-1"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "issued"
    return response.json()


def order_with(code: str | None, order_id: int = 8001, **extra: Any) -> dict[str, Any]:
    spec = LineSpec(price=Decimal("40.00"), discount=Decimal("5.00"), product_id=6001)
    return order_payload(
        order_id=order_id,
        lines=[spec],
        customer_id=501,
        email="a@example.com",
        discount_code=code,
        **extra,
    )


def test_an_order_with_the_code_marks_the_redemption_used(shop, api, simulator, post_webhook):
    # given a code redeemed and created in the shop
    simulator.install(shop.shop)
    member_with(shop.shop, 800)
    redeemed = redeemed_code(shop, api)

    # when the shop sends the paid order that used it, typed in lower case
    response = post_webhook("orders/paid", order_with(redeemed["code"].lower()))

    # then the redemption is used by that order, at the order's time
    assert response.status_code == 200
    body = api.get(f"/api/v1/redemptions/{redeemed['id']}").json()
    assert body["status"] == "used"
    assert body["used_order_id"] == "8001"
    assert body["used_at"] is not None


def test_the_same_order_again_and_its_updates_change_nothing(shop, api, simulator, post_webhook):
    simulator.install(shop.shop)
    member_with(shop.shop, 800)
    redeemed = redeemed_code(shop, api)
    post_webhook("orders/create", order_with(redeemed["code"]))
    first = Redemption.objects.get(pk=redeemed["id"])

    post_webhook("orders/paid", order_with(redeemed["code"]))
    post_webhook("orders/create", order_with(redeemed["code"], order_id=8002))

    again = Redemption.objects.get(pk=redeemed["id"])
    assert (again.status, again.used_order_id, again.used_at) == (
        Redemption.Status.USED,
        "8001",
        first.used_at,
    )


def test_another_shops_order_with_the_same_code_never_marks_it(
    shop, other_shop, api, simulator, post_webhook
):
    simulator.install(shop.shop)
    simulator.install(other_shop.shop)
    member_with(shop.shop, 800)
    redeemed = redeemed_code(shop, api)

    post_webhook(
        "orders/paid", order_with(redeemed["code"]), shop_domain="beta-store.myshopify.com"
    )

    assert Redemption.objects.get(pk=redeemed["id"]).status == Redemption.Status.ISSUED


def test_a_refunded_order_does_not_make_the_code_unused(shop, api, simulator, post_webhook):
    # given an order that used the code
    simulator.install(shop.shop)
    member_with(shop.shop, 800)
    redeemed = redeemed_code(shop, api)
    post_webhook("orders/paid", order_with(redeemed["code"]))

    # when it is refunded in full and then cancelled
    spec = LineSpec(price=Decimal("40.00"), discount=Decimal("5.00"), product_id=6001)
    post_webhook(
        "refunds/create",
        refund_payload(refund_id=9001, order_id=8001, lines=[(line_id_for(8001, 0), spec, 1)]),
    )
    post_webhook(
        "orders/cancelled",
        order_with(redeemed["code"], financial_status="refunded", cancelled=True),
    )

    # then the code stays used by that order (the shop does not give a code back)
    redemption = Redemption.objects.get(pk=redeemed["id"])
    assert (redemption.status, redemption.used_order_id) == (Redemption.Status.USED, "8001")


def test_an_order_without_a_reward_code_changes_no_redemption(shop, api, simulator, post_webhook):
    simulator.install(shop.shop)
    member_with(shop.shop, 800)
    redeemed = redeemed_code(shop, api)

    post_webhook("orders/paid", order_with("SUMMER10"))
    post_webhook("orders/paid", order_with(None, order_id=8003))

    assert Redemption.objects.get(pk=redeemed["id"]).status == Redemption.Status.ISSUED
