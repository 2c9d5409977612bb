"""The analytics rollups: the same figures as the direct computation, kept up to date
incrementally (late refunds, back-dated orders), idempotent, and one shop's only."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from django.db import connection

from loyalty_app.analytics import selectors, tasks
from loyalty_app.analytics.models import (
    AnalyticsActiveDay,
    AnalyticsDay,
    CustomerStats,
    RollupWatermark,
)
from loyalty_app.analytics.periods import Period
from loyalty_app.analytics.services import rollups_behind, rollups_refresh
from loyalty_app.celery import app
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.selectors import shop_zone

from .conftest import Shopper, a_month_of_orders, noon

pytestmark = pytest.mark.django_db


def periods(shop: Shop) -> list[Period]:
    zone = shop_zone(shop)
    spans = [
        ("2025-01-01", "2025-01-31"),
        ("2025-02-01", "2025-02-28"),
        ("2025-03-01", "2025-03-30"),
        ("2025-03-05", "2025-03-05"),
        ("2025-03-06", "2025-03-07"),
        ("2025-03-07", "2025-03-07"),
        ("2025-02-01", "2025-04-30"),
        ("2024-01-01", "2025-12-31"),
    ]
    return [
        Period(first_day=date.fromisoformat(a), last_day=date.fromisoformat(b), zone=zone)
        for a, b in spans
    ]


def assert_rollups_match_the_direct_figures(shop: Shop) -> None:
    for period in periods(shop):
        assert selectors.points_rolled(shop=shop, period=period) == selectors.points(
            shop=shop, period=period
        ), period
        assert selectors.points_per_day_rolled(
            shop=shop, period=period
        ) == selectors.points_per_day(shop=shop, period=period), period
        assert selectors._members_counts_rolled(
            shop=shop, period=period
        ) == selectors._members_counts(shop=shop, period=period), period


def rows(shop: Shop) -> tuple[list[Any], list[Any], list[Any]]:
    days = list(
        AnalyticsDay.objects.filter(shop=shop)
        .order_by("day")
        .values_list(
            "day",
            "points_net",
            "points_issued",
            "points_taken_back",
            "points_redeemed",
            "points_expired",
            "members_joined",
        )
    )
    stats = list(
        CustomerStats.objects.filter(shop=shop)
        .order_by("member_id")
        .values_list(
            "member_id",
            "joined_at",
            "joined_day",
            "orders_count",
            "revenue",
            "first_order_at",
            "last_order_at",
            "max_points_target",
        )
    )
    active = list(
        AnalyticsActiveDay.objects.filter(shop=shop)
        .order_by("day", "previous_day")
        .values_list("day", "previous_day", "entries")
    )
    return days, stats, active


def late_events(shopper: Shopper, shop: Shop) -> None:
    """After a refresh on 2 April: a refund of a February order, an order of a new
    customer written with January's date (the clock goes back), another new member's
    first order, a manual deduction and an activity entry written with March's date."""
    shopper.refund(9002, 1001, "2025-04-03", unit="100.00", quantity=1, of=1)
    shopper.clock.set(noon("2025-04-04"))
    shopper.buy(1008, "2025-01-20", "45.00", customer=503)
    shopper.buy(1009, "2025-04-04", "25.00", customer=504)
    member = Member.objects.get(shop=shop, external_id="502")
    ledger_entry_add(member=member, kind="adjustment", points=-5, idempotency_key="fix-502")
    # an activity entry written with a date between two of 501's (the clock goes back):
    # the later entry's previous activity changes
    shopper.clock.set(noon("2025-03-06"))
    buyer = Member.objects.get(shop=shop, external_id="501")
    ledger_entry_add(member=buyer, kind="action", points=10, idempotency_key="late-action")
    shopper.clock.set(noon("2025-04-05"))


def test_the_rollups_give_the_direct_figures_of_every_period(shop, shopper):
    # given a month of orders with a partial refund
    a_month_of_orders(shopper)

    # when the rollups are built
    result = rollups_refresh(shop=shop.shop)

    # then every figure read from them equals the one computed from the ledger and orders
    assert result.full and result.members == 2
    assert_rollups_match_the_direct_figures(shop.shop)


def test_a_late_refund_and_a_back_dated_order_update_the_right_days(shop, shopper):
    # given rollups built on 2 April
    a_month_of_orders(shopper)
    rollups_refresh(shop=shop.shop)
    february = AnalyticsDay.objects.get(shop=shop.shop, day=date(2025, 2, 10))

    # when a February order is refunded, a January order arrives late, and more happens
    late_events(shopper, shop.shop)
    result = rollups_refresh(shop=shop.shop)

    # then the incremental run gives the direct figures again
    assert not result.full
    assert_rollups_match_the_direct_figures(shop.shop)
    # the refund's points are taken back on the day it was written, the order's own day
    # keeps the points it issued, and the refunded customer's revenue to date is 100 less
    # (the order still counts, with nothing left, until the shop marks it refunded)
    assert AnalyticsDay.objects.get(shop=shop.shop, day=date(2025, 2, 10)) == february
    refund_day = AnalyticsDay.objects.get(shop=shop.shop, day=date(2025, 4, 3))
    assert refund_day.points_taken_back == 100
    buyer = Member.objects.get(shop=shop.shop, external_id="501")
    stats = CustomerStats.objects.get(shop=shop.shop, member_id=buyer.pk)
    assert (stats.orders_count, str(stats.revenue)) == (3, "80.0000")
    # the back-dated order (written on January's clock, after the watermark) updated a
    # January day that the first run had already written
    late = Member.objects.get(shop=shop.shop, external_id="503")
    late_stats = CustomerStats.objects.get(shop=shop.shop, member_id=late.pk)
    assert late_stats.first_order_at == noon("2025-01-20")
    assert late_stats.joined_day == date(2025, 1, 20)
    january = AnalyticsDay.objects.get(shop=shop.shop, day=date(2025, 1, 20))
    assert (january.members_joined, january.points_issued) == (1, 45)


def test_a_report_reads_figures_that_include_what_changed_since_the_last_run(shop, shopper):
    # given rollups built, then a late refund
    a_month_of_orders(shopper)
    rollups_refresh(shop=shop.shop)
    late_events(shopper, shop.shop)
    period = next(p for p in periods(shop.shop) if p.last_day == date(2025, 4, 30))

    # when the report is read without running the job
    report = selectors.report(shop=shop.shop, period=period)

    # then it refreshed first: the refund's points are taken back
    assert report.points == selectors.points(shop=shop.shop, period=period)
    assert report.points.taken_back == 5 + 20 + 100


def test_running_the_refresh_again_changes_nothing(shop, shopper):
    # given rollups up to date after late events
    a_month_of_orders(shopper)
    rollups_refresh(shop=shop.shop)
    late_events(shopper, shop.shop)
    rollups_refresh(shop=shop.shop)
    before = rows(shop.shop)

    # when the job runs twice more
    rollups_refresh(shop=shop.shop)
    rollups_refresh(shop=shop.shop)

    # then every row is the same
    assert rows(shop.shop) == before


def test_a_new_time_zone_rebuilds_the_days(shop, shopper):
    # given rollups built in the shop's zone
    a_month_of_orders(shopper)
    rollups_refresh(shop=shop.shop)

    # when the shop moves to a zone far from UTC
    Shop.objects.filter(pk=shop.shop.pk).update(timezone="Pacific/Kiritimati")
    shop.shop.refresh_from_db()
    result = rollups_refresh(shop=shop.shop)

    # then the days are rebuilt in that zone and match the direct figures there
    assert result.full
    assert RollupWatermark.objects.get(shop=shop.shop).zone == "Pacific/Kiritimati"
    assert_rollups_match_the_direct_figures(shop.shop)


def test_one_shops_refresh_never_writes_or_reads_another_shops_rows(shop, other_shop, shopper):
    # given orders in both shops, and the other shop's rollups built
    a_month_of_orders(shopper)
    shopper.buy(5001, "2025-04-02", "500.00", customer=901, shop_domain=other_shop.shop.domain)
    rollups_refresh(shop=other_shop.shop)
    theirs = rows(other_shop.shop)

    # when the first shop's rollups are built
    rollups_refresh(shop=shop.shop)

    # then the other shop's rows are untouched, and neither counts the other's customers
    assert rows(other_shop.shop) == theirs
    assert [s[0] for s in theirs[1]] == list(
        Member.objects.filter(shop=other_shop.shop).values_list("pk", flat=True)
    )
    assert CustomerStats.objects.filter(shop=shop.shop).count() == 2
    assert_rollups_match_the_direct_figures(shop.shop)
    assert_rollups_match_the_direct_figures(other_shop.shop)


def test_the_beat_job_refreshes_every_installed_shop(shop, other_shop, shopper):
    # given orders in the first shop and no rollups yet
    a_month_of_orders(shopper)

    # when the periodic job runs (eagerly, as in development)
    count = tasks.rollups_refresh_all()

    # then both shops have a watermark and the first shop's days match the ledger
    assert count == 2
    assert RollupWatermark.objects.filter(shop__in=[shop.shop, other_shop.shop]).count() == 2
    assert_rollups_match_the_direct_figures(shop.shop)
    # and beat knows the job
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "analytics.rollups_refresh_all" in scheduled


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_run_one_after_the_other(shop, shopper):
    # given a month of orders, not yet rolled up
    a_month_of_orders(shopper)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def refresh() -> None:
        try:
            barrier.wait()
            rollups_refresh(shop=Shop.objects.get(pk=shop.shop.pk))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    # when two refreshes start together
    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then neither failed (the watermark row serialises them) and the rows are right
    assert errors == []
    assert RollupWatermark.objects.filter(shop=shop.shop).count() == 1
    assert_rollups_match_the_direct_figures(shop.shop)


def test_the_rollups_are_behind_only_while_something_is_newer_than_the_watermark(shop, shopper):
    # given rollups just built
    a_month_of_orders(shopper)
    rollups_refresh(shop=shop.shop)
    assert not rollups_behind(shop=shop.shop)

    # when a refund arrives
    shopper.refund(9003, 1003, "2025-04-03", unit="50.00", quantity=1, of=1)

    # then the report will refresh first, and after a refresh nothing is behind
    assert rollups_behind(shop=shop.shop)
    rollups_refresh(shop=shop.shop)
    assert not rollups_behind(shop=shop.shop)
