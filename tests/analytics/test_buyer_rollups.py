"""The buyer rollups (AnalyticsOrder, AnalyticsBuyerDay): a period's customers, repeat
buyers, revenue to date and days between orders, members against non-members, equal to
the direct computation for every period; kept up to date incrementally (a late refund, a
back-dated order, a cancellation, a late join), a rerun changing nothing, one shop's only.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import combinations_with_replacement
from typing import Any

import pytest

from loyalty_app.analytics import selectors
from loyalty_app.analytics.models import AnalyticsBuyerDay, AnalyticsOrder, RollupWatermark
from loyalty_app.analytics.periods import Period
from loyalty_app.analytics.selectors import Behaviour
from loyalty_app.analytics.services import ROLLUP_VERSION, rollups_behind, rollups_refresh
from loyalty_app.earning.models import Order
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.selectors import shop_zone
from shopify_bridge.devstore.payloads import LineSpec, order_payload

from .conftest import Shopper, a_month_of_orders, noon

pytestmark = pytest.mark.django_db

# Days on which something starts or stops: every period between two of them is checked.
EDGES = [
    "2025-01-01",
    "2025-02-10",
    "2025-02-11",
    "2025-02-20",
    "2025-03-05",
    "2025-03-06",
    "2025-03-07",
    "2025-03-08",
    "2025-04-05",
    "2025-04-09",
    "2025-04-19",
    "2025-04-20",
    "2025-05-31",
]


def every_period(shop: Shop) -> list[Period]:
    zone = shop_zone(shop)
    return [
        Period(first_day=date.fromisoformat(a), last_day=date.fromisoformat(b), zone=zone)
        for a, b in combinations_with_replacement(EDGES, 2)
    ]


def assert_buyers_match_the_direct_figures(shop: Shop) -> None:
    for period in every_period(shop):
        members, others, outsiders = selectors.behaviour(shop=shop, period=period)
        assert selectors.buyers_rolled(shop=shop, period=period) == (members, others), period
        short = selectors.behaviour(shop=shop, period=period, lifetime=False)[:2]
        assert selectors.buyers_rolled(shop=shop, period=period, lifetime=False) == short, period
        assert selectors.revenue_per_day_rolled(
            shop=shop, period=period
        ) == selectors.revenue_per_day(shop=shop, period=period, outsiders=outsiders), period
        assert selectors.guest_orders_rolled(shop=shop, period=period) == (
            selectors.guest_orders(shop=shop, period=period)
        ), period


def buyer_rows(shop: Shop) -> tuple[list[Any], list[Any]]:
    orders = list(
        AnalyticsOrder.objects.filter(shop=shop)
        .order_by("order_id")
        .values_list(
            "order_id",
            "member_id",
            "placed_at",
            "day",
            "previous_day",
            "next_day",
            "revenue",
            "orders_to_date",
            "revenue_to_date",
            "days_between",
            "joined_day",
        )
    )
    days = list(
        AnalyticsBuyerDay.objects.filter(shop=shop)
        .order_by("day", "anchor_day", "joined_day")
        .values_list(
            "day",
            "anchor_day",
            "joined_day",
            "orders",
            "revenue",
            "guest_orders",
            "customers",
            "revenue_to_date",
            "days_between_sum",
            "days_between_count",
            "repeat_customers",
        )
    )
    return orders, days


def rebuilt_rows(shop: Shop) -> tuple[list[Any], list[Any]]:
    """The rows a full rebuild writes (the rollups of another layout are rebuilt)."""
    RollupWatermark.objects.filter(shop=shop).update(version=ROLLUP_VERSION - 1)
    assert rollups_refresh(shop=shop).full
    return buyer_rows(shop)


def cancel(
    shopper: Shopper, order_id: int, day: str, unit: str, quantity: int, customer: int
) -> None:
    """The shop cancels an order of 5 March (an orders/cancelled webhook on ``day``)."""
    shopper.clock.set(noon(day))
    payload = order_payload(
        order_id=order_id,
        lines=[LineSpec(price=Decimal(unit), quantity=quantity)],
        customer_id=customer,
        email=f"c{customer}@example.com",
        created_at=noon("2025-03-05"),
        updated_at=noon(day),
        cancelled=True,
    )
    assert shopper.post_webhook("orders/cancelled", payload).status_code == 200


def a_late_join(shopper: Shopper, shop: Shop) -> None:
    """With the program paused, customer 601 buys for 70 on 5 April and 30 on 9 April
    (no points: not a member), then joins by an action on 20 April."""
    shopper.clock.set(noon("2025-04-03"))
    program_update(shop=shop, data={"enabled": False}, actor="test")
    shopper.buy(3001, "2025-04-05", "70.00", customer=601)
    shopper.buy(3002, "2025-04-09", "30.00", customer=601)
    shopper.clock.set(noon("2025-04-10"))
    program_update(shop=shop, data={"enabled": True}, actor="test")
    shopper.clock.set(noon("2025-04-20"))
    late = Member.objects.get(shop=shop, external_id="601")
    ledger_entry_add(member=late, kind="action", points=10, idempotency_key="join-601")
    shopper.clock.set(noon("2025-04-21"))


def late_changes(shopper: Shopper) -> None:
    """After a refresh: a late refund of 501's February order, an order of 501 written
    with 20 February's date (between two of 501's orders) and a second order of 501 on
    7 March (the same noon as another), and 502's only order cancelled."""
    shopper.refund(9002, 1001, "2025-04-22", unit="100.00", quantity=1, of=1)
    shopper.buy(1011, "2025-02-20", "12.00", customer=501)
    shopper.buy(1012, "2025-03-07", "8.00", customer=501)
    cancel(shopper, 1004, "2025-04-23", "20.00", 4, customer=502)
    shopper.clock.set(noon("2025-04-24"))


def test_the_buyer_figures_of_march_are_those_computed_by_hand(shop, shopper):
    # given February and March: 501 buys for 100 (10 Feb), 50 (5 Mar) and 30 (7 Mar), 502
    # for 80 less 20 refunded (5 Mar), guests for 20 (12 Feb), 60 and 40 (6 Mar)
    a_month_of_orders(shopper)

    # when the rollups are built and March is read from them
    rollups_refresh(shop=shop.shop)
    zone = shop_zone(shop.shop)
    march = Period(first_day=date(2025, 3, 1), last_day=date(2025, 3, 30), zone=zone)
    members, others = selectors.buyers_rolled(shop=shop.shop, period=march)
    short_members, _ = selectors.buyers_rolled(shop=shop.shop, period=march, lifetime=False)
    february = Period(first_day=date(2025, 2, 1), last_day=date(2025, 2, 28), zone=zone)

    # then two members bought 3 orders for 50 + 30 + 60, 501 twice; to date 180 + 60; 501's
    # orders are 25 days apart over two gaps (12.5), 2 days in March alone
    assert members == Behaviour(2, 3, Decimal("140"), 1, Decimal("240"), Decimal("12.5"), 30)
    assert others == Behaviour(2, 2, Decimal("100"), 0, Decimal("100"), None, 30)
    assert (short_members.revenue_to_date, short_members.mean_days_between_orders) == (
        Decimal("140"),
        Decimal("2.0"),
    )
    # and February, with orders after it: 501's first order only, and one guest
    assert selectors.buyers_rolled(shop=shop.shop, period=february) == (
        Behaviour(1, 1, Decimal("100"), 0, Decimal("100"), None, 28),
        Behaviour(1, 1, Decimal("20"), 0, Decimal("20"), None, 28),
    )
    assert selectors.revenue_per_day_rolled(shop=shop.shop, period=march) == {
        date(2025, 3, 5): (Decimal("110"), Decimal("0")),
        date(2025, 3, 6): (Decimal("0"), Decimal("100")),
        date(2025, 3, 7): (Decimal("30"), Decimal("0")),
    }
    assert selectors.guest_orders_rolled(shop=shop.shop, period=march) == 2


def test_the_buyer_rollups_give_the_direct_figures_of_every_period(shop, shopper):
    # given two months of orders and a customer who bought before joining
    a_month_of_orders(shopper)
    a_late_join(shopper, shop.shop)

    # when the rollups are built
    rollups_refresh(shop=shop.shop)

    # then every period's buyers, revenue per day and guest orders equal the direct ones
    assert_buyers_match_the_direct_figures(shop.shop)


def test_a_customer_who_joins_later_is_a_member_in_periods_ending_after_the_join(shop, shopper):
    # given 601's two orders in April without points, and the join on 20 April
    a_month_of_orders(shopper)
    a_late_join(shopper, shop.shop)
    rollups_refresh(shop=shop.shop)
    zone = shop_zone(shop.shop)

    def april(last: int) -> tuple[Behaviour, Behaviour]:
        period = Period(first_day=date(2025, 4, 1), last_day=date(2025, 4, last), zone=zone)
        return selectors.buyers_rolled(shop=shop.shop, period=period)

    # then up to 19 April 601 is a non-member; from 20 April a member (the rows of 601's
    # orders carry the join day, later than the orders)
    assert april(19) == (
        Behaviour(0, 0, Decimal("0"), 0, Decimal("0"), None, 19),
        Behaviour(1, 2, Decimal("100"), 1, Decimal("100"), Decimal("4.0"), 19),
    )
    assert april(20) == (
        Behaviour(1, 2, Decimal("100"), 1, Decimal("100"), Decimal("4.0"), 20),
        Behaviour(0, 0, Decimal("0"), 0, Decimal("0"), None, 20),
    )
    assert set(
        AnalyticsBuyerDay.objects.filter(shop=shop.shop, anchor_day=date(2025, 4, 5)).values_list(
            "joined_day", flat=True
        )
    ) == {date(2025, 4, 20)}


def test_late_changes_update_the_buyer_rows_as_a_rebuild_would(shop, shopper):
    # given rollups built on 21 April
    a_month_of_orders(shopper)
    a_late_join(shopper, shop.shop)
    rollups_refresh(shop=shop.shop)

    # when a late refund, two back-dated orders and a cancellation arrive
    late_changes(shopper)
    assert rollups_behind(shop=shop.shop)
    result = rollups_refresh(shop=shop.shop)

    # then the incremental run gives the direct figures of every period
    assert not result.full
    assert_buyers_match_the_direct_figures(shop.shop)
    # 501's orders in time order: 10 Feb (refunded: 0), 20 Feb, 5 Mar, 7 Mar twice
    buyer = Member.objects.get(shop=shop.shop, external_id="501")
    sequence = list(
        AnalyticsOrder.objects.filter(shop=shop.shop, member_id=buyer.pk)
        .order_by("orders_to_date")
        .values_list("day", "previous_day", "next_day", "orders_to_date", "revenue_to_date")
    )
    assert sequence == [
        (date(2025, 2, 10), None, date(2025, 2, 20), 1, Decimal("0")),
        (date(2025, 2, 20), date(2025, 2, 10), date(2025, 3, 5), 2, Decimal("12")),
        (date(2025, 3, 5), date(2025, 2, 20), date(2025, 3, 7), 3, Decimal("62")),
        (date(2025, 3, 7), date(2025, 3, 5), date(2025, 3, 7), 4, Decimal("92")),
        (date(2025, 3, 7), date(2025, 3, 7), None, 5, Decimal("100")),
    ]
    # 502's cancelled order is gone
    cancelled = Member.objects.get(shop=shop.shop, external_id="502")
    assert not AnalyticsOrder.objects.filter(shop=shop.shop, member_id=cancelled.pk).exists()
    # and the rows are those a full rebuild writes
    assert buyer_rows(shop.shop) == rebuilt_rows(shop.shop)


def test_running_the_refresh_again_changes_no_buyer_row(shop, shopper):
    # given buyer rows up to date after late changes
    a_month_of_orders(shopper)
    rollups_refresh(shop=shop.shop)
    late_changes(shopper)
    rollups_refresh(shop=shop.shop)
    before = buyer_rows(shop.shop)

    # when the job runs twice more (the second run re-reads the last minutes' orders)
    rollups_refresh(shop=shop.shop)
    rollups_refresh(shop=shop.shop)

    # then every row is the same
    assert buyer_rows(shop.shop) == before
    assert before[0] and before[1]


def test_a_new_rollup_layout_rebuilds_the_shops_rollups_in_a_worker(
    shop, shopper, django_capture_on_commit_callbacks
):
    # given rollups built by an earlier layout, without buyer rows
    a_month_of_orders(shopper)
    rollups_refresh(shop=shop.shop)
    AnalyticsOrder.objects.filter(shop=shop.shop).delete()
    AnalyticsBuyerDay.objects.filter(shop=shop.shop).delete()
    RollupWatermark.objects.filter(shop=shop.shop).update(version=ROLLUP_VERSION - 1)

    # when a report is read
    assert rollups_behind(shop=shop.shop)
    period = Period(
        first_day=date(2025, 3, 1), last_day=date(2025, 3, 30), zone=shop_zone(shop.shop)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        report = selectors.report(shop=shop.shop, period=period)

    # then it answers from the orders and the ledger, without building in the request
    assert report.size.customers == 4 and report.members.customers == 2
    assert RollupWatermark.objects.get(shop=shop.shop).version == ROLLUP_VERSION - 1
    assert AnalyticsOrder.objects.filter(shop=shop.shop).count() == 0

    # and a worker rebuilds the rollups, buyer rows included; the next report reads them
    assert len(callbacks) == 1
    callbacks[0]()
    assert RollupWatermark.objects.get(shop=shop.shop).version == ROLLUP_VERSION
    assert AnalyticsOrder.objects.filter(shop=shop.shop).count() == 7
    again = selectors.report(shop=shop.shop, period=period)
    assert (again.size.customers, again.members.customers) == (4, 2)
    assert again == report


def test_one_shops_buyer_rows_and_figures_leave_the_other_shop_alone(shop, other_shop, shopper):
    # given orders in both shops (the other shop's customer 501 is another person), and
    # the other shop's rollups built
    a_month_of_orders(shopper)
    other = other_shop.shop.domain
    shopper.buy(5001, "2025-03-05", "500.00", customer=501, shop_domain=other)
    shopper.buy(5002, "2025-03-06", "70.00", shop_domain=other)
    shopper.clock.set(noon("2025-04-02"))
    rollups_refresh(shop=other_shop.shop)
    theirs = buyer_rows(other_shop.shop)

    # when the first shop's rollups are built and refreshed after a late refund
    rollups_refresh(shop=shop.shop)
    shopper.refund(9003, 1003, "2025-04-03", unit="50.00", quantity=1, of=1)
    rollups_refresh(shop=shop.shop)

    # then the other shop's rows are untouched, and each shop's figures are its own
    assert buyer_rows(other_shop.shop) == theirs
    assert {row[0] for row in theirs[0]} == set(
        Order.objects.filter(shop=other_shop.shop).values_list("pk", flat=True)
    )
    march = Period(
        first_day=date(2025, 3, 1), last_day=date(2025, 3, 30), zone=shop_zone(shop.shop)
    )
    assert selectors.buyers_rolled(shop=other_shop.shop, period=march) == (
        Behaviour(1, 1, Decimal("500"), 0, Decimal("500"), None, 30),
        Behaviour(1, 1, Decimal("70"), 0, Decimal("70"), None, 30),
    )
    assert selectors.buyers_rolled(shop=shop.shop, period=march)[0].revenue == Decimal("90")
    assert_buyers_match_the_direct_figures(shop.shop)
    assert_buyers_match_the_direct_figures(other_shop.shop)


def test_the_previous_period_of_a_report_is_read_from_the_rollups(shop, shopper):
    # given March's orders rolled up
    a_month_of_orders(shopper)
    rollups_refresh(shop=shop.shop)
    zone = shop_zone(shop.shop)
    april = Period(first_day=date(2025, 3, 31), last_day=date(2025, 4, 29), zone=zone)

    # when the report of the 30 days before April's is read, headline figures only
    previous = selectors.report(shop=shop.shop, period=april.previous(), detail=False)

    # then its figures are the direct ones of the period's own orders
    direct = selectors.behaviour(shop=shop.shop, period=april.previous(), lifetime=False)
    assert (previous.members, previous.non_members) == direct[:2]
    assert previous.size.customers == 4 and previous.size.guest_orders == 2
    assert (april.previous().first_day, april.previous().last_day) == (
        date(2025, 3, 1),
        date(2025, 3, 30),
    )
