"""POST /api/v1/analytics/what-if: the stored orders replayed under proposed rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext

from loyalty_app.analytics.simulation import what_if
from loyalty_app.earning.models import Order
from loyalty_app.earning.policies import program_from_dict
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.rewards.services import reward_create

from .conftest import Shopper, a_month_of_orders

pytestmark = pytest.mark.django_db

TIERS = {
    "metric": "points_earned",
    "period": "lifetime",
    "tiers": [{"name": "Silver", "threshold": 0}, {"name": "Gold", "threshold": 100}],
}


def post(api: Client, body: dict[str, Any]) -> Any:
    return api.post("/api/v1/analytics/what-if", json.dumps(body), content_type="application/json")


def priced_and_redeemed(shop: Any, shopper: Shopper) -> None:
    """A reward at 5 cents a point, and 26 of the 260 points issued redeemed (10 %), an
    hour before the replay."""
    reward_create(
        shop=shop,
        data={"kind": "fixed_amount", "title": "5 off", "points_cost": 100, "value": "5"},
        actor="test",
    )
    member = Member.objects.get(shop=shop, external_id="501")
    ledger_entry_add(
        member=member, kind=LedgerEntry.Kind.REDEMPTION, points=-26, idempotency_key="spent"
    )
    shopper.clock.advance(hours=1)


def test_two_points_per_dollar_doubles_points_cost_and_liability(api, shop, shopper):
    # given the members' orders (240 kept after refunds), 10 % redeemed, 5 cents a point
    a_month_of_orders(shopper)
    priced_and_redeemed(shop.shop, shopper)

    # when 2 points per dollar is tried with tiers at 100 points
    response = post(api, {"program": {"points_per_unit": "2"}, "tiers": TIERS})

    # then the proposal issues twice as much, and one more member reaches Gold
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["orders"], body["revenue"], body["redemption_rate"]) == (4, "240.00", "0.1000")
    assert (body["point_value"], body["months"]) == ("0.05", 12)
    assert body["current"] == {
        "points_issued": 240,
        "expected_redeemed": 24,
        "cost": "1.20",
        "cost_share_of_revenue": "0.0050",
        "liability": "10.80",
        "tiers": [
            {"tier": None, "members": 0},
            {"tier": "Silver", "members": 1},
            {"tier": "Gold", "members": 1},
        ],
    }
    assert body["proposed"] == {
        "points_issued": 480,
        "expected_redeemed": 48,
        "cost": "2.40",
        "cost_share_of_revenue": "0.0100",
        "liability": "21.60",
        "tiers": [
            {"tier": None, "members": 0},
            {"tier": "Silver", "members": 0},
            {"tier": "Gold", "members": 2},
        ],
    }


def test_the_what_if_writes_nothing(api, shop, shopper):
    # given orders, points and a member's balance
    a_month_of_orders(shopper)
    priced_and_redeemed(shop.shop, shopper)
    before = (
        list(LedgerEntry.objects.order_by("pk").values_list("pk", "points")),
        list(Order.objects.order_by("pk").values_list("pk", "points_awarded", "updated_at")),
        list(Member.objects.order_by("pk").values_list("pk", "points_balance", "updated_at")),
    )

    # when a proposal is replayed
    with CaptureQueriesContext(connection) as queries:
        response = post(api, {"program": {"points_per_unit": "3"}, "tiers": TIERS, "months": 6})

    # then no statement wrote anything, and every row is as it was
    assert response.status_code == 200
    writes = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    after = (
        list(LedgerEntry.objects.order_by("pk").values_list("pk", "points")),
        list(Order.objects.order_by("pk").values_list("pk", "points_awarded", "updated_at")),
        list(Member.objects.order_by("pk").values_list("pk", "points_balance", "updated_at")),
    )
    assert after == before


def test_replaying_the_rules_in_force_gives_exactly_what_the_engine_awarded(shop, shopper):
    # given rules with a rate, a rounding and a line rule in force before the orders
    program_update(
        shop=shop.shop,
        data={
            "points_per_unit": "1.5",
            "rounding": "nearest",
            "line_rules": [{"field": "sku", "value": "SKU", "multiplier": "2"}],
        },
        actor="test",
    )
    shopper.clock.set(shopper.clock.current.replace(year=2025, month=2, day=1))
    a_month_of_orders(shopper)
    config = program_from_dict(Order.objects.filter(shop=shop.shop).first().program.rules)

    # when those same rules are replayed as a proposal
    result = what_if(shop=shop.shop, program=config)

    # then each column is the ledger's order points, refunds included
    awarded = LedgerEntry.objects.filter(shop=shop.shop, kind="order").aggregate(s=Sum("points"))
    assert result.proposed.points_issued == awarded["s"] == 720  # 240 x 1.5 x 2
    assert result.current.points_issued == awarded["s"]


def test_orders_placed_under_older_rules_are_replayed_under_the_current_ones(shop, shopper):
    # given orders earned under the default program, then 2 points per dollar saved
    a_month_of_orders(shopper)
    program_update(shop=shop.shop, data={"points_per_unit": "2"}, actor="test")

    # when the default program is tried again
    result = what_if(shop=shop.shop, program=program_from_dict({}))

    # then the current column applies today's rules to every order
    assert (result.current.points_issued, result.proposed.points_issued) == (480, 240)


def test_a_paused_proposal_issues_nothing(api, shopper):
    a_month_of_orders(shopper)

    body = post(api, {"program": {"enabled": False}}).json()

    assert body["proposed"]["points_issued"] == 0 and body["current"]["points_issued"] == 240


def test_only_the_months_asked_for_are_replayed(api, shopper):
    # given orders in February and March, read on 2 April
    a_month_of_orders(shopper)

    # when one month is replayed: 2 March to 2 April
    body = post(api, {"program": {"points_per_unit": "1"}, "months": 1}).json()

    # then only March's members' orders count
    assert (body["orders"], body["current"]["points_issued"]) == (3, 140)


def test_a_proposal_that_cannot_be_read_is_a_400_naming_the_field(api):
    response = post(api, {"program": {"points_per_unit": "-1"}})
    assert response.status_code == 400
    assert "program.points_per_unit" in response.json()["fields"]
    response = post(api, {"program": {}, "tiers": {"metric": "height"}})
    assert response.status_code == 400
    assert "tiers.metric" in response.json()["fields"]
    assert post(api, {"program": {}, "months": 0}).status_code == 400


def test_another_shop_replays_none_of_these_orders(shop, shopper, other_shop):
    a_month_of_orders(shopper)
    other = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    body = post(other, {"program": {"points_per_unit": "2"}, "tiers": TIERS}).json()

    assert body["orders"] == 0 and body["proposed"]["points_issued"] == 0
    assert body["proposed"]["tiers"][1:] == [
        {"tier": "Silver", "members": 0},
        {"tier": "Gold", "members": 0},
    ]


def test_without_a_token_nothing_is_replayed(client, db):
    response = client.post("/api/v1/analytics/what-if", "{}", content_type="application/json")
    assert response.status_code in (401, 403)


def test_referral_and_challenge_points_count_toward_the_tiers_as_the_engine_counts_them(
    shop, shopper
):
    # given a month of orders, then a member with no order who earned 500 for a referral
    # and 80 for a challenge that was taken back, and Gold from 400 points earned
    from loyalty_app.tiers.policies import tier_program_from_dict
    from loyalty_app.tiers.services import tier_program_update

    a_month_of_orders(shopper)
    friendly = Member.objects.create(shop=shop.shop, external_id="777", email="f@example.com")
    for kind, points, key in [
        ("referral", 500, "ref-1"),
        ("challenge", 80, "ch-1"),
        ("challenge", -80, "ch-1-back"),
    ]:
        ledger_entry_add(
            member=friendly,
            kind=kind,
            points=points,
            idempotency_key=key,
            source_type=kind,
            source_id="1",
        )
    definition = {
        "metric": "points_earned",
        "period": "lifetime",
        "tiers": [{"name": "Silver", "threshold": 1}, {"name": "Gold", "threshold": 400}],
    }
    tier_program_update(shop=shop.shop, data=definition, actor="t")
    from loyalty_app.earning.selectors import program_config, program_current

    config = program_config(program_current(shop=shop.shop))
    shopper.clock.advance(hours=1)

    # when the rules in force are replayed, by both routes
    fast = what_if(shop=shop.shop, program=config, tiers=tier_program_from_dict(definition))
    general = what_if(
        shop=shop.shop, program=config, tiers=tier_program_from_dict(definition), fast=False
    )

    # then the proposal counts the member in Gold (500 net), as the engine does
    for result in (fast, general):
        assert dict(result.proposed.tiers)["Gold"] >= 1
        assert result.proposed.tiers == result.current.tiers
    assert fast.proposed.tiers == general.proposed.tiers
