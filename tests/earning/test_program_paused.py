"""A paused program: what happens while it is off, and after it is on again."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty_app.actions.services import ActionInvalid, action_record
from loyalty_app.earning.policies import RulesError, program_from_dict
from loyalty_app.earning.services import program_update
from loyalty_app.members.models import Member
from shopify_bridge.devstore.payloads import LineSpec, order_payload

SHIRT = LineSpec(price=Decimal("40.00"), title="Shirt", sku="SHIRT")


def place(post_webhook, clock, order_id: int, customer_id: int) -> Member:
    payload = order_payload(
        order_id=order_id,
        lines=[SHIRT],
        customer_id=customer_id,
        email=f"c{customer_id}@example.com",
        created_at=clock(),
    )
    assert post_webhook("orders/create", payload).status_code == 200
    return Member.objects.get(external_id=str(customer_id))


def test_enabled_must_be_a_boolean():
    with pytest.raises(RulesError) as error:
        program_from_dict({"enabled": "no"})

    assert error.value.field == "enabled"


def test_a_program_is_on_unless_the_merchant_pauses_it():
    assert program_from_dict({}).enabled is True
    assert program_from_dict({"enabled": False}).to_dict()["enabled"] is False


def test_orders_placed_while_paused_earn_nothing_and_earning_resumes_after(
    shop, clock, post_webhook
):
    # Given a paused program
    program_update(shop=shop.shop, data={"enabled": False}, actor="test")
    clock.advance(minutes=1)

    # When an order is placed, then the program is switched on and another is placed
    buyer = place(post_webhook, clock, 9301, 81)
    assert buyer.points_balance == 0
    program_update(shop=shop.shop, data={"enabled": True}, actor="test")
    clock.advance(minutes=1)
    buyer = place(post_webhook, clock, 9302, 81)

    # Then only the second order earned
    assert buyer.points_balance == 40


def test_actions_are_refused_while_paused_with_the_reason(shop, clock, post_webhook):
    program_update(
        shop=shop.shop,
        data={"enabled": False, "actions": [{"key": "newsletter", "points": 50}]},
        actor="test",
    )
    buyer = place(post_webhook, clock, 9303, 82)

    with pytest.raises(ActionInvalid, match="paused"):
        action_record(shop=shop.shop, member=buyer, action="newsletter", event_key="n-1")
