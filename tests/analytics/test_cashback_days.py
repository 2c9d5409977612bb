"""The cash-back rollup (AnalyticsCashbackDay): cash-back credited and reversed per local
day, equal to the direct sums for every period, kept up to date by new entries (a late
refund's reversal), a rerun changing nothing, one shop's only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import combinations_with_replacement
from typing import Any

import pytest

from loyalty_app.analytics import selectors
from loyalty_app.analytics.models import AnalyticsCashbackDay, RollupWatermark
from loyalty_app.analytics.periods import Period
from loyalty_app.analytics.selectors import Cashback
from loyalty_app.analytics.services import rollups_refresh
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.selectors import shop_zone
from loyalty_app.tiers.services import tier_program_update

from .conftest import a_month_of_orders, noon

pytestmark = pytest.mark.django_db

TIERS = {
    "metric": "amount_spent",
    "period": "lifetime",
    "tiers": [{"name": "Silver", "threshold": "100"}, {"name": "Gold", "threshold": "150"}],
    "cashback": {"enabled": True, "rate": "10", "delivery": "store_credit"},
}
EDGES = ["2025-01-01", "2025-02-10", "2025-03-05", "2025-03-08", "2025-04-03", "2025-05-31"]


def every_period(shop: Shop) -> list[Period]:
    zone = shop_zone(shop)
    return [
        Period(first_day=date.fromisoformat(a), last_day=date.fromisoformat(b), zone=zone)
        for a, b in combinations_with_replacement(EDGES, 2)
    ]


def assert_cashback_matches_the_direct_sums(shop: Shop) -> None:
    for period in every_period(shop):
        assert selectors.cashback_rolled(shop=shop, period=period) == selectors.cashback(
            shop=shop, period=period
        ), period


def cashback_rows(shop: Shop) -> list[Any]:
    return list(
        AnalyticsCashbackDay.objects.filter(shop=shop)
        .order_by("day", "currency")
        .values_list("day", "currency", "credited", "reversed")
    )


def test_cash_back_per_day_gives_the_direct_sums_and_follows_a_late_refund(shop, shopper):
    # given 10% cash-back on the month of orders: 10 on 10 February, 5 + 8 on 5 March, 3 on
    # 7 March credited, 2 reversed on 8 March (20 of 502's order refunded)
    tier_program_update(shop=shop.shop, data=TIERS, actor="test")
    a_month_of_orders(shopper)
    rollups_refresh(shop=shop.shop)
    assert cashback_rows(shop.shop) == [
        (date(2025, 2, 10), "USD", Decimal("10"), Decimal("0")),
        (date(2025, 3, 5), "USD", Decimal("13"), Decimal("0")),
        (date(2025, 3, 7), "USD", Decimal("3"), Decimal("0")),
        (date(2025, 3, 8), "USD", Decimal("0"), Decimal("-2")),
    ]
    assert_cashback_matches_the_direct_sums(shop.shop)

    # when 501's February order is refunded on 3 April and the job runs
    shopper.refund(9002, 1001, "2025-04-03", unit="100.00", quantity=1, of=1)
    shopper.clock.set(noon("2025-04-04"))
    rollups_refresh(shop=shop.shop)

    # then the reversal of 10 is on 3 April, and every period equals the direct sums
    april = Period(
        first_day=date(2025, 4, 1), last_day=date(2025, 4, 30), zone=shop_zone(shop.shop)
    )
    assert selectors.cashback_rolled(shop=shop.shop, period=april) == Cashback(
        credited=Decimal("0"), reversed=Decimal("10")
    )
    assert_cashback_matches_the_direct_sums(shop.shop)


def test_running_the_refresh_again_changes_no_cash_back_day(shop, shopper):
    # given cash-back days up to date
    tier_program_update(shop=shop.shop, data=TIERS, actor="test")
    a_month_of_orders(shopper)
    rollups_refresh(shop=shop.shop)
    before = cashback_rows(shop.shop)

    # when the job runs twice more
    rollups_refresh(shop=shop.shop)
    rollups_refresh(shop=shop.shop)

    # then the rows are the same, and the watermark is past the last entry
    assert cashback_rows(shop.shop) == before
    assert RollupWatermark.objects.get(shop=shop.shop).cashback_id > 0


def test_one_shops_cash_back_days_leave_the_other_shop_alone(shop, other_shop, shopper):
    # given cash-back in both shops, and the other shop's days built
    for each in (shop, other_shop):
        tier_program_update(shop=each.shop, data=TIERS, actor="test")
    a_month_of_orders(shopper)
    shopper.buy(5001, "2025-03-05", "500.00", customer=901, shop_domain=other_shop.shop.domain)
    shopper.clock.set(noon("2025-04-02"))
    rollups_refresh(shop=other_shop.shop)
    theirs = cashback_rows(other_shop.shop)

    # when the first shop's days are built
    rollups_refresh(shop=shop.shop)

    # then the other shop's rows are untouched and each shop sums its own cash-back
    assert (
        cashback_rows(other_shop.shop)
        == theirs
        == [(date(2025, 3, 5), "USD", Decimal("50"), Decimal("0"))]
    )
    march = Period(
        first_day=date(2025, 3, 1), last_day=date(2025, 3, 30), zone=shop_zone(shop.shop)
    )
    assert selectors.cashback_rolled(shop=shop.shop, period=march) == Cashback(
        credited=Decimal("16"), reversed=Decimal("2")
    )
    assert_cashback_matches_the_direct_sums(shop.shop)
    assert_cashback_matches_the_direct_sums(other_shop.shop)
