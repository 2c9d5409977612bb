"""Billing by redemption with Shopify: each delivered redemption's charge becomes an
``appUsageRecordCreate`` on the shop's subscription line item, through the outbox, with
the dev-store simulator over real HTTP; without billing set up, charges are only
recorded. The billable value rule and the monthly summary are tested here too."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.rewards.billing import billable_amount, usage_charges_record_missing
from loyalty_app.rewards.models import Redemption, UsageCharge
from loyalty_app.rewards.services import reward_create
from loyalty_app.shops.models import Shop
from shopify_bridge.devstore.models import DevStore, DevStoreAppUsageRecord
from shopify_bridge.models import AdminApiCall, ShopBilling
from shopify_bridge.outbox import admin_call_perform

LINE_ITEM = "gid://shopify/AppSubscriptionLineItem/4019585080?v=1&index=1"
D = Decimal


@pytest.mark.parametrize(
    ("kind", "value", "points", "point_value", "fee", "expected"),
    [
        ("fixed_amount", D("5"), 500, D("0.01"), D("0"), (D("5.00"), "value")),
        ("store_credit", D("10.005"), 1000, None, D("0"), (D("10.01"), "value")),
        ("donation", D("2.5"), 250, None, D("0"), (D("2.50"), "value")),
        ("percentage", D("15"), 700, D("0.01"), D("0"), (D("7.00"), "points_at_rate")),
        ("free_shipping", None, 300, D("0.0125"), D("0"), (D("3.75"), "points_at_rate")),
        ("free_product", None, 900, None, D("0.25"), (D("0.25"), "flat_fee")),
        ("free_product", None, 0, D("0.01"), D("0.25"), (D("0.25"), "flat_fee")),  # a grant
        ("experience", None, 2500, D("0.01"), D("0"), (D("25.00"), "points_at_rate")),
    ],
)
def test_the_billable_value_follows_the_documented_rule(
    kind, value, points, point_value, fee, expected
):
    assert (
        billable_amount(
            kind=kind, value=value, points=points, point_value=point_value, flat_fee=fee
        )
        == expected
    )


def member_with(shop: Shop, points: int) -> Member:
    member = Member.objects.create(shop=shop, external_id="501", email="a@example.com")
    ledger_entry_add(
        member=member,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        points=points,
        idempotency_key=f"seed:{member.pk}",
        reason="opening balance",
    )
    return member


def redeem(api: Client, reward_id: int, key: str) -> dict[str, Any]:
    response = api.post(
        "/api/v1/customers/501/redemptions",
        data=json.dumps({"reward_id": reward_id}),
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.content
    return response.json()


def reward(shop: Shop, **data: Any) -> int:
    return reward_create(shop=shop, data=data, actor="merchant:test").pk


@pytest.mark.django_db(transaction=True)
def test_an_issued_code_records_its_charge_and_sends_it_once(shop, api, simulator):
    # given a shop whose subscription has a usage line item
    simulator.install(shop.shop)
    ShopBilling.objects.create(shop=shop.shop, subscription_line_item_id=LINE_ITEM)
    member_with(shop.shop, 2000)
    five_off = reward(shop.shop, kind="fixed_amount", title="5 off", points_cost=500, value="5")

    # when a code is redeemed and delivered
    redeemed = redeem(api, five_off, "k-1")

    # then its charge is recorded with the delivery, and the usage record exists in the shop
    assert redeemed["status"] == "issued"
    charge = UsageCharge.objects.get(redemption_id=redeemed["id"])
    assert (charge.amount, charge.currency, charge.rule) == (D("5.00"), "USD", "value")
    assert charge.send_status == UsageCharge.SendStatus.SENT
    record = DevStoreAppUsageRecord.objects.get()
    assert (record.amount, record.currency, record.line_item_id) == (D("5.00"), "USD", LINE_ITEM)
    assert record.idempotency_key == f"usage-charge-{charge.pk}"
    assert charge.platform_reference == f"gid://shopify/AppUsageRecord/{record.pk}"
    # and the sweep finds nothing left to record
    assert usage_charges_record_missing() == 0
    assert UsageCharge.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_percentage_is_billed_at_the_shops_point_value(shop, api, simulator):
    # given a catalog where 500 points buy 5.00 off and 1000 points buy 12.00 off
    simulator.install(shop.shop)
    member_with(shop.shop, 2000)
    reward(shop.shop, kind="fixed_amount", title="5 off", points_cost=500, value="5")
    reward(shop.shop, kind="fixed_amount", title="12 off", points_cost=1000, value="12")
    percent = reward(shop.shop, kind="percentage", title="10%", points_cost=700, value="10")

    redeemed = redeem(api, percent, "k-1")

    # then it is worth its points at the cheapest ratio (0.01 a point)
    charge = UsageCharge.objects.get(redemption_id=redeemed["id"])
    assert (charge.amount, charge.rule) == (D("7.00"), "points_at_rate")
    # and without billing set up it is recorded, not sent
    assert charge.send_status == UsageCharge.SendStatus.NOT_CONFIGURED
    assert not AdminApiCall.objects.filter(kind="app_usage_record_create").exists()
    assert not DevStoreAppUsageRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_refused_usage_record_is_kept_as_failed_with_shopifys_words(
    shop, api, simulator, settings
):
    # given a subscription whose capped amount is 3.00, set for every shop by the setting
    settings.SHOPIFY_BILLING_LINE_ITEM_ID = LINE_ITEM
    simulator.install(shop.shop)
    DevStore.objects.filter(domain=shop.shop.domain).update(usage_capped_amount=D("3"))
    member_with(shop.shop, 2000)
    five_off = reward(shop.shop, kind="fixed_amount", title="5 off", points_cost=500, value="5")

    redeemed = redeem(api, five_off, "k-1")

    # then the redemption is delivered all the same, and the charge says why it failed
    assert redeemed["status"] == "issued"
    charge = UsageCharge.objects.get(redemption_id=redeemed["id"])
    assert charge.send_status == UsageCharge.SendStatus.FAILED
    assert "Total price exceeds balance remaining" in charge.send_error
    call = AdminApiCall.objects.get(kind="app_usage_record_create")
    assert call.status == AdminApiCall.Status.FAILED  # the Activity page offers a retry


@pytest.mark.django_db(transaction=True)
def test_a_donations_charge_is_recorded_by_the_sweep_and_sent_once_after_a_503(
    shop, api, simulator, settings
):
    # given billing set up for every shop, and a donation (issued at once, no shop call)
    settings.SHOPIFY_BILLING_LINE_ITEM_ID = LINE_ITEM
    simulator.install(shop.shop)
    member_with(shop.shop, 2000)
    trees = reward(
        shop.shop, kind="donation", title="Tree", points_cost=100, value="1", cause="Trees"
    )
    redeemed = redeem(api, trees, "k-1")

    # when the sweep records its charge and the shop answers 503 to the first send
    simulator.fail(shop.shop, "http_503", count=1)
    assert usage_charges_record_missing() == 1
    call = AdminApiCall.objects.get(kind="app_usage_record_create")
    assert call.status == AdminApiCall.Status.PENDING
    AdminApiCall.objects.filter(pk=call.pk).update(next_attempt_at=call.created_at)
    assert admin_call_perform(call_id=call.pk) == "done"

    # then the charge is sent once; the sweep records nothing more
    assert DevStoreAppUsageRecord.objects.count() == 1
    charge = UsageCharge.objects.get(redemption_id=redeemed["id"])
    assert (charge.amount, charge.send_status) == (D("1.00"), UsageCharge.SendStatus.SENT)
    assert usage_charges_record_missing() == 0


@pytest.mark.django_db(transaction=True)
def test_a_failed_delivery_is_never_billed(shop, api, simulator, settings):
    settings.ADMIN_CALL_MAX_ATTEMPTS = 1
    simulator.install(shop.shop)
    member_with(shop.shop, 2000)
    five_off = reward(shop.shop, kind="fixed_amount", title="5 off", points_cost=500, value="5")
    simulator.fail(shop.shop, "http_500")

    redeemed = redeem(api, five_off, "k-1")

    assert Redemption.objects.get(pk=redeemed["id"]).status == Redemption.Status.FAILED
    assert usage_charges_record_missing() == 0
    assert not UsageCharge.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_monthly_summary_counts_and_totals_per_kind_and_is_the_shops_own(
    shop, other_shop, api, simulator
):
    # given two codes and a donation delivered this month
    simulator.install(shop.shop)
    member_with(shop.shop, 5000)
    five_off = reward(shop.shop, kind="fixed_amount", title="5 off", points_cost=500, value="5")
    trees = reward(
        shop.shop, kind="donation", title="Tree", points_cost=100, value="1.50", cause="T"
    )
    redeem(api, five_off, "a")
    redeem(api, five_off, "b")
    redeem(api, trees, "c")
    usage_charges_record_missing()
    month = UsageCharge.objects.values_list("month", flat=True).first()

    # when the merchant asks for this month, another month, and another shop asks
    summary = api.get(f"/api/v1/billing/summary?month={month}").json()
    empty = api.get("/api/v1/billing/summary?month=2020-01").json()
    theirs = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    # then the summary has the count, the total and both per kind
    assert summary == {
        "month": month,
        "currency": "USD",
        "count": 3,
        "total": "11.50",
        "by_kind": [
            {"kind": "donation", "count": 1, "total": "1.50"},
            {"kind": "fixed_amount", "count": 2, "total": "10.00"},
        ],
    }
    assert (empty["count"], empty["total"], empty["by_kind"]) == (0, "0.00", [])
    assert api.get("/api/v1/billing/summary").json()["month"] == month
    assert theirs.get(f"/api/v1/billing/summary?month={month}").json()["count"] == 0
    assert api.get("/api/v1/billing/summary?month=2026-13").status_code == 400
