"""Redeeming every kind of reward through the merchant API, with the dev-store simulator
over real HTTP: the points are debited, the code or credit exists in the shop, and the
redemption is issued (eager Celery runs the outbox call on commit)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Redemption, Reward
from loyalty_app.rewards.services import reward_create
from shopify_bridge.devstore.models import (
    DevStoreDiscountCode,
    DevStoreMutation,
    DevStoreStoreCreditAccount,
    DevStoreTags,
)

pytestmark = pytest.mark.django_db(transaction=True)


def member_with(shop: Any, points: int, customer_id: str = "501") -> Member:
    member = Member.objects.create(shop=shop, external_id=customer_id, email=f"{customer_id}@x.io")
    ledger_entry_add(
        member=member,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        points=points,
        idempotency_key=f"seed:{customer_id}",
        reason="opening balance",
    )
    return member


def reward(shop: Any, **data: Any) -> Reward:
    return reward_create(shop=shop, data=data, actor="test")


def redeem(api: Client, customer_id: str, body: dict[str, Any], key: str | None = "k-1"):
    headers = {"Idempotency-Key": key} if key else {}
    return api.post(
        f"/api/v1/customers/{customer_id}/redemptions",
        data=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def mutation(shop: Any, name: str) -> dict[str, Any]:
    rows = list(DevStoreMutation.objects.filter(store__domain=shop.domain, name=name))
    assert len(rows) == 1, rows
    assert rows[0].user_errors == []
    return rows[0].arguments


def test_an_amount_off_becomes_a_single_use_code_for_that_customer(shop, api, simulator):
    # given a member with 800 points and a reward of 5.00 off for 500 points
    simulator.install(shop.shop)
    member = member_with(shop.shop, 800)
    five_off = reward(
        shop.shop,
        kind="fixed_amount",
        title="5.00 off",
        points_cost=500,
        value="5.00",
        min_order_amount="20",
        code_valid_days=10,
    )

    # when the merchant redeems it for the customer
    response = redeem(api, "501", {"reward_id": five_off.pk})

    # then the points are debited, the code exists in the shop and the redemption is issued
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "issued"
    assert body["points"] == 500
    assert body["value"] == "5"
    assert body["currency"] == "USD"
    assert body["code"].startswith("LOYAL-")
    member.refresh_from_db()
    assert member.points_balance == 300
    code = DevStoreDiscountCode.objects.get(store__domain=shop.shop.domain)
    assert code.code == body["code"]
    sent = mutation(shop.shop, "discountCodeBasicCreate")["basicCodeDiscount"]
    assert sent["usageLimit"] == 1
    assert sent["appliesOncePerCustomer"] is True
    assert sent["context"] == {"customers": {"add": ["gid://shopify/Customer/501"]}}
    assert sent["customerGets"] == {
        "value": {"discountAmount": {"amount": "5", "appliesOnEachItem": False}},
        "items": {"all": True},
    }
    assert sent["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": "20"}}
    assert sent["endsAt"] == Redemption.objects.get().expires_at.isoformat()
