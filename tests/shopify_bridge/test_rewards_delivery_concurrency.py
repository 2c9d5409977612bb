"""Never a double spend: concurrent redemptions on PostgreSQL, real threads each with its
own connection, through the merchant API, with the simulator creating the codes over HTTP.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Redemption, Reward
from loyalty_app.rewards.services import reward_create
from shopify_bridge.devstore.models import DevStoreDiscountCode, DevStoreMutation
from tests.concurrency import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def member_with(shop: Any, customer_id: str, points: int) -> Member:
    member = Member.objects.create(
        shop=shop, external_id=customer_id, email=f"{customer_id}@example.com"
    )
    ledger_entry_add(
        member=member,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        points=points,
        idempotency_key=f"seed:{customer_id}",
        reason="opening balance",
    )
    return member


def redeem_in_thread(token: str, customer_id: str, reward_id: int, key: str) -> tuple[int, str]:
    response = Client(headers={"Authorization": f"Bearer {token}"}).post(
        f"/api/v1/customers/{customer_id}/redemptions",
        data=json.dumps({"reward_id": reward_id}),
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )
    body = response.json()
    return response.status_code, body.get("code", "") if response.status_code != 201 else "ok"


def test_fifty_concurrent_redemptions_against_a_balance_for_five_spend_exactly_five(
    shop, simulator
):
    # given a member whose 2,500 points cover five rewards of 500
    simulator.install(shop.shop)
    member = member_with(shop.shop, "501", 2500)
    five_off = reward_create(
        shop=shop.shop,
        data={"kind": "fixed_amount", "title": "5 off", "points_cost": 500, "value": "5"},
        actor="merchant:test",
    )

    # when 50 requests, each with its own idempotency key, redeem it at the same moment
    results, errors = run_concurrently(
        lambda i: redeem_in_thread(shop.api_token, "501", five_off.pk, f"tap-{i}"), 50
    )

    # then exactly five went through and the others were refused for the balance
    assert errors == []
    assert Counter(results) == {(201, "ok"): 5, (409, "insufficient_points"): 45}
    member.refresh_from_db()
    assert member.points_balance == 0
    ledger = LedgerEntry.objects.filter(member=member).aggregate(s=Sum("points"))["s"]
    assert ledger == member.points_balance
    assert LedgerEntry.objects.filter(member=member, kind="redemption").count() == 5
    # and five codes exist in the shop, one per redemption, each issued
    redemptions = Redemption.objects.filter(member=member)
    assert redemptions.count() == 5
    assert set(redemptions.values_list("status", flat=True)) == {Redemption.Status.ISSUED}
    codes = set(DevStoreDiscountCode.objects.values_list("code", flat=True))
    assert codes == set(redemptions.values_list("code", flat=True))
    assert DevStoreMutation.objects.filter(name="discountCodeBasicCreate").count() == 5


def test_twenty_concurrent_redemptions_of_a_reward_with_three_in_stock_take_three(shop, simulator):
    # given a reward with 3 in stock and 20 members who can each afford it
    simulator.install(shop.shop)
    members = [member_with(shop.shop, str(600 + i), 1000) for i in range(20)]
    limited = reward_create(
        shop=shop.shop,
        data={
            "kind": "free_shipping",
            "title": "Free shipping",
            "points_cost": 300,
            "stock_total": 3,
        },
        actor="merchant:test",
    )

    # when they all redeem it at the same moment
    results, errors = run_concurrently(
        lambda i: redeem_in_thread(shop.api_token, str(600 + i), limited.pk, f"m{i}"), 20
    )

    # then three got it, the others were told it is out of stock, and the count is right
    assert errors == []
    assert Counter(results) == {(201, "ok"): 3, (409, "out_of_stock"): 17}
    limited.refresh_from_db()
    assert limited.stock_remaining == 0
    assert Redemption.objects.filter(reward=limited).count() == 3
    assert DevStoreDiscountCode.objects.count() == 3
    spent = [m for m in members if Member.objects.get(pk=m.pk).points_balance == 700]
    assert len(spent) == 3


def test_the_same_request_sent_ten_times_at_once_redeems_once(shop, simulator):
    # given a member with plenty of points
    simulator.install(shop.shop)
    member = member_with(shop.shop, "501", 5000)
    five_off = reward_create(
        shop=shop.shop,
        data={"kind": "fixed_amount", "title": "5 off", "points_cost": 500, "value": "5"},
        actor="merchant:test",
    )

    # when a client's retries of one request (one key) arrive together
    results, errors = run_concurrently(
        lambda i: redeem_in_thread(shop.api_token, "501", five_off.pk, "same-key"), 10
    )

    # then one redemption was made and every answer is about it
    assert errors == []
    assert Counter(status for status, _ in results) == {201: 1, 200: 9}
    member.refresh_from_db()
    assert member.points_balance == 4500
    assert Redemption.objects.count() == 1
    assert DevStoreDiscountCode.objects.count() == 1
    assert Reward.objects.get(pk=five_off.pk).stock_remaining is None
