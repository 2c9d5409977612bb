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

    # (the referral figures are added to both by ``selectors.report``: compared here is
    # what each implementation computes itself)
    postgresql = selectors._figures
    for period in periods(shop):
        # when both implementations compute the period and the one before
        expected = presented(postgresql, shop, period)
        actual = presented(portable.report, shop, period)

        # then the presented figures are equal, and so is every field of the report
        assert actual == expected, period
        assert replace(portable.report(shop=shop, period=period), shop=shop) == (
            postgresql(shop=shop, period=period, detail=True)
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


# Runs in a manage.py process of its own on a fresh SQLite file: a shop, its program's
# cheapest reward (5 cents a point), the month of orders as signed webhooks through the
# real receiver at the times a fake clock says, then the API's answer for March.
SQLITE_SEED = """
import json
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from loyalty_app.rewards.services import reward_create
from loyalty_app.shops.services import shop_create
from shopify_bridge.devstore.client import webhook_headers
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload

assert connection.vendor == "sqlite", connection.vendor
clock = [datetime(2025, 2, 1, 12, tzinfo=UTC)]
timezone.now = lambda: clock[0]
created = shop_create(domain="alpha-store.myshopify.com")
reward_create(
    shop=created.shop,
    data={"kind": "fixed_amount", "title": "5 off", "points_cost": 100, "value": "5"},
    actor="seed",
)
client = Client()


def post(topic, payload, webhook_id):
    body = json.dumps(payload).encode()
    headers = webhook_headers(
        body=body, secret=settings.SHOPIFY_API_SECRET, topic=topic,
        shop_domain="alpha-store.myshopify.com", webhook_id=webhook_id,
    )
    response = client.post(
        "/shopify/webhooks", data=body, content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    assert response.status_code == 200, response.content


def noon(day):
    return datetime.fromisoformat(day + "T12:00:00").replace(tzinfo=UTC)


for order_id, day, amount, customer, quantity in [
    (1001, "2025-02-10", "100.00", 501, 1),
    (1002, "2025-02-12", "20.00", None, 1),
    (1003, "2025-03-05", "50.00", 501, 1),
    (1004, "2025-03-05", "80.00", 502, 4),
    (1005, "2025-03-06", "60.00", None, 1),
    (1006, "2025-03-06", "40.00", None, 1),
    (1007, "2025-03-07", "30.00", 501, 1),
]:
    clock[0] = noon(day)
    spec = LineSpec(price=Decimal(amount) / quantity, quantity=quantity)
    payload = order_payload(
        order_id=order_id, lines=[spec], customer_id=customer,
        email=f"c{customer}@example.com" if customer else "", created_at=noon(day),
    )
    post("orders/paid", payload, f"order-{order_id}")
    post("orders/paid", payload, f"order-{order_id}-again")  # a retry changes nothing
clock[0] = noon("2025-03-08")
refund = refund_payload(
    refund_id=9001, order_id=1004,
    lines=[(line_id_for(1004, 0), LineSpec(price=Decimal("20.00"), quantity=4), 1)],
    created_at=noon("2025-03-08"),
)
post("refunds/create", refund, "refund-9001")
clock[0] = noon("2025-04-02")
answer = Client(headers={"Authorization": "Bearer " + created.api_token}).get(
    "/api/v1/analytics", {"from": "2025-03-01", "to": "2025-03-30"}
)
what_if = Client(headers={"Authorization": "Bearer " + created.api_token}).post(
    "/api/v1/analytics/what-if",
    data=json.dumps({"program": {"points_per_unit": "2"}, "months": 3}),
    content_type="application/json",
)
print(json.dumps({
    "status": answer.status_code, "body": answer.json(),
    "what_if_status": what_if.status_code, "what_if": what_if.json(),
}))
"""


def test_on_a_real_sqlite_database_the_api_answers_the_figures_computed_by_hand(tmp_path):
    # given a fresh SQLite database, migrated, and the month of orders sent as webhooks
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}", DEBUG="true")
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, timeout=600)  # noqa: S603 - fixed arguments

    # when March is read through the API
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [*manage, "shell", "-c", SQLITE_SEED],
        env=env,
        check=True,
        timeout=600,
        capture_output=True,
        text=True,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])

    # then the answer holds the figures of test_figures_api, computed by hand
    assert answer["status"] == 200
    body = answer["body"]
    assert body["program"] == {
        "customers": 4,
        "members": 2,
        "new_members": 1,
        "member_customers": 2,
        "guest_orders": 2,
        "participation_rate": "0.5000",
        "active_members": 2,
    }
    assert body["points"] == {
        "issued": 160,
        "taken_back": 20,
        "redeemed": 0,
        "expired": 0,
        "pending": 0,
        "redemption_rate": "0.0000",
        "breakage": "0.0000",
        "outstanding": 240,
        "point_value": "0.05",
        "liability": "12.00",
    }
    assert body["behaviour"]["members"] == {
        "customers": 2,
        "orders": 3,
        "revenue": "140.00",
        "repeat_purchase_rate": "0.5000",
        "orders_per_customer": "1.5000",
        "average_order_value": "46.67",
        "revenue_per_customer": "70.00",
        "clv_to_date": "120.00",
        "clv_projected": "971.67",
        "mean_days_between_orders": "12.5",
    }
    assert body["cost"]["attributed_revenue"] == "40.00"
    assert body["previous"]["program"]["customers"] == 2
    assert body["changes"]["points.issued"] == 60
    days = {d["day"]: d for d in body["series"]["points_per_day"]}
    assert days["2025-03-05"] == {
        "day": "2025-03-05",
        "issued": 130,
        "redeemed": 0,
        "outstanding": 230,
    }
    # and the what-if replays the members' orders of the last three months at 2 points per
    # dollar: 100 + 50 + (80 - 20) + 30 = 240 points now, 480 proposed
    assert answer["what_if_status"] == 200, answer["what_if"]
    assert answer["what_if"]["orders"] == 4
    assert answer["what_if"]["revenue"] == "240.00"
    assert answer["what_if"]["current"]["points_issued"] == 240
    assert answer["what_if"]["proposed"]["points_issued"] == 480
