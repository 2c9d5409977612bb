"""The portable report (analytics.portable, for databases other than PostgreSQL) equals
the PostgreSQL report figure by figure, on the hand-checked datasets of tests/analytics,
for every period of the rollup tests; and it keeps to one shop."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import pytest

from loyalty_app.analytics import portable, selectors
from loyalty_app.analytics.periods import Period
from loyalty_app.analytics.presenters import as_data
from loyalty_app.analytics.services import rollups_refresh
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.rewards.services import reward_create
from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import ShopWithToken
from loyalty_app.tiers.selectors import shop_zone
from loyalty_app.tiers.services import tier_program_update

from .conftest import Shopper, a_month_of_orders, noon

pytestmark = pytest.mark.django_db(transaction=True)

SPANS = [
    ("2025-01-01", "2025-01-31"),
    ("2025-02-01", "2025-02-28"),
    ("2025-03-01", "2025-03-30"),
    ("2025-03-01", "2025-03-31"),
    ("2025-03-05", "2025-03-05"),
    ("2025-03-06", "2025-03-07"),
    ("2025-02-01", "2025-04-30"),
    ("2024-01-01", "2025-12-31"),
]


@dataclass
class World:
    shop: ShopWithToken
    other_shop: ShopWithToken
    shopper: Shopper
    api: Any
    simulator: Any


def month(world: World) -> None:
    a_month_of_orders(world.shopper)


def month_with_priced_points(world: World) -> None:
    """test_figures_api: rewards worth 5 and 10 cents a point."""
    a_month_of_orders(world.shopper)
    reward_create(
        shop=world.shop.shop,
        data={"kind": "fixed_amount", "title": "5 off", "points_cost": 100, "value": "5"},
        actor="test",
    )
    reward_create(
        shop=world.shop.shop,
        data={
            "kind": "variable_credit",
            "title": "Credit",
            "points_per_step": 10,
            "value_per_step": "1",
            "min_points": 10,
            "max_points": 1000,
        },
        actor="test",
    )


def paused_program(world: World) -> None:
    """test_figures_api: a customer who never earned is a non-member."""
    shop, shopper = world.shop.shop, world.shopper
    shopper.clock.set(noon("2025-02-20"))
    program_update(shop=shop, data={"enabled": False}, actor="test")
    shopper.buy(3001, "2025-03-02", "70.00", customer=601)
    shopper.buy(3002, "2025-03-09", "30.00", customer=601)
    shopper.clock.set(noon("2025-03-10"))
    program_update(shop=shop, data={"enabled": True}, actor="test")
    shopper.buy(3003, "2025-03-12", "90.00", customer=602)
    shopper.clock.set(noon("2025-04-02"))


def tiers_and_cashback(world: World) -> None:
    """test_tiers_cashback_figures: Silver then Gold, 10% cash-back, a refund's reversal."""
    tier_program_update(
        shop=world.shop.shop,
        data={
            "metric": "amount_spent",
            "period": "lifetime",
            "tiers": [
                {"name": "Silver", "threshold": "100"},
                {"name": "Gold", "threshold": "150"},
            ],
            "cashback": {"enabled": True, "rate": "10", "delivery": "store_credit"},
        },
        actor="test",
    )
    a_month_of_orders(world.shopper)


def late_events(world: World) -> None:
    """test_rollups: a late refund, a back-dated order, a deduction, a back-dated action."""
    shop, shopper = world.shop.shop, world.shopper
    a_month_of_orders(shopper)
    rollups_refresh(shop=shop)
    shopper.refund(9002, 1001, "2025-04-03", unit="100.00", quantity=1, of=1)
    shopper.clock.set(noon("2025-04-04"))
    shopper.buy(1008, "2025-01-20", "45.00", customer=503)
    shopper.buy(1009, "2025-04-04", "25.00", customer=504)
    member = Member.objects.get(shop=shop, external_id="502")
    ledger_entry_add(member=member, kind="adjustment", points=-5, idempotency_key="fix-502")
    shopper.clock.set(noon("2025-03-06"))
    buyer = Member.objects.get(shop=shop, external_id="501")
    ledger_entry_add(member=buyer, kind="action", points=10, idempotency_key="late-action")
    shopper.clock.set(noon("2025-04-05"))


def used_code_and_return(world: World) -> None:
    """test_rewards_figures: a code redeemed through the API, used, then a return."""
    shop, shopper, api = world.shop.shop, world.shopper, world.api
    world.simulator.install(shop)
    five_off = reward_create(
        shop=shop,
        data={"kind": "fixed_amount", "title": "5 off", "points_cost": 100, "value": "5"},
        actor="test",
    )
    shopper.buy(2001, "2025-03-02", "200.00", customer=501)
    shopper.clock.set(noon("2025-03-03"))
    response = api.post(
        "/api/v1/customers/501/redemptions",
        data=json.dumps({"reward_id": five_off.pk}),
        content_type="application/json",
        headers={"Idempotency-Key": "portable-1"},
    )
    assert response.status_code == 201, response.content
    code = response.json()["code"]
    shopper.buy(2002, "2025-03-04", "40.00", customer=501, code=code)
    shopper.buy(2003, "2025-03-10", "60.00")
    shopper.buy(2004, "2025-03-20", "30.00", customer=501)
    shopper.clock.set(noon("2025-04-20"))  # the 30-day window is over, the others are not


def another_zone_and_another_shop(world: World) -> None:
    """The month in New York's local days (noon UTC is 7 or 8 in the morning there; the
    clock change of 9 March falls in the period), and another shop's orders beside it."""
    Shop.objects.filter(pk=world.shop.shop.pk).update(timezone="America/New_York")
    world.shop.shop.refresh_from_db()
    a_month_of_orders(world.shopper)
    for order_id, day, amount, customer in [
        (7001, "2025-03-05", "500.00", 501),
        (7002, "2025-03-06", "70.00", None),
    ]:
        world.shopper.buy(
            order_id, day, amount, customer=customer, shop_domain="beta-store.myshopify.com"
        )
    world.shopper.clock.set(noon("2025-04-02"))


def nothing(world: World) -> None:
    world.shopper.clock.set(noon("2025-04-02"))


DATASETS: list[Callable[[World], None]] = [
    month,
    month_with_priced_points,
    paused_program,
    tiers_and_cashback,
    late_events,
    used_code_and_return,
    another_zone_and_another_shop,
    nothing,
]


@pytest.fixture
def world(shop, other_shop, shopper, api, simulator) -> World:
    return World(shop=shop, other_shop=other_shop, shopper=shopper, api=api, simulator=simulator)


def periods(shop: Shop) -> list[Period]:
    zone = shop_zone(shop)
    return [
        Period(first_day=date.fromisoformat(a), last_day=date.fromisoformat(b), zone=zone)
        for a, b in SPANS
    ]


def presented(compute: Any, shop: Shop, period: Period) -> dict[str, Any]:
    current = compute(shop=shop, period=period)
    previous = compute(shop=shop, period=period.previous(), detail=False)
    return as_data(current, previous)


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: d.__name__)
def test_the_portable_report_equals_the_postgresql_report(world, dataset):
    # given one of the hand-checked datasets
    dataset(world)
    shop = world.shop.shop

    for period in periods(shop):
        # when both implementations compute the period and the one before
        expected = presented(selectors.report, shop, period)
        actual = presented(portable.report, shop, period)

        # then the presented figures are equal, and so is every field of the report
        assert actual == expected, period
        assert replace(portable.report(shop=shop, period=period), shop=shop) == (
            selectors.report(shop=shop, period=period)
        ), period


def test_the_portable_report_gives_the_figures_computed_by_hand(world):
    # given the month of orders, with rewards worth 5 cents a point at the least
    month_with_priced_points(world)
    period = periods(world.shop.shop)[2]  # 1-30 March

    body = presented(portable.report, world.shop.shop, period)

    # then (test_figures_api): four customers, half of them members, 160 points issued
    assert body["program"]["customers"] == 4
    assert body["program"]["participation_rate"] == "0.5000"
    assert body["points"]["issued"] == 160 and body["points"]["taken_back"] == 20
    assert (body["points"]["outstanding"], body["points"]["liability"]) == (240, "12.00")
    assert body["behaviour"]["members"]["clv_projected"] == "971.67"
    assert body["behaviour"]["members"]["mean_days_between_orders"] == "12.5"
    assert body["cost"]["attributed_revenue"] == "40.00"
    assert body["previous"]["points"]["issued"] == 100


def test_the_portable_report_reads_one_shop_only(world):
    # given orders in both shops
    another_zone_and_another_shop(world)
    zone = shop_zone(world.other_shop.shop)
    period = Period(first_day=date(2025, 3, 1), last_day=date(2025, 3, 30), zone=zone)

    # when the other shop's report is computed
    body = presented(portable.report, world.other_shop.shop, period)

    # then it holds its own two orders only: 501 there bought for 500, a guest for 70
    assert body["program"]["customers"] == 2
    assert body["program"]["members"] == 1
    assert body["behaviour"]["members"]["revenue"] == "500.00"
    assert body["behaviour"]["non_members"]["revenue"] == "70.00"
    assert body["points"]["issued"] == 500
