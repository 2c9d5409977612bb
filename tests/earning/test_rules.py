"""Earning rules: tables of cases for each rule and how they combine, then properties."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_app.earning.calculation import eligible_amount, order_points, refunded_amount
from loyalty_app.earning.domain import PurchaseLine, Refund, RefundLine
from loyalty_app.earning.rules import (
    MATCH_FIELDS,
    Breakdown,
    Campaign,
    EarnRules,
    LineMatch,
    LineRule,
    OrderContext,
    RuleLine,
    RulesError,
    campaign_from_dict,
    campaign_window,
    order_breakdown,
    refunds_by_line,
    rules_from_dict,
)

D = Decimal
NOW = datetime(2025, 6, 14, 12, 0, tzinfo=UTC)  # a Saturday
NEW_YORK = "America/New_York"


def local(*args: int) -> datetime:
    """A wall-clock time without a zone, as a merchant types it."""
    return datetime(*args)  # noqa: DTZ001


def ln(line_id: str, amount: str, **facts: Any) -> RuleLine:
    for name in ("tags", "collections"):
        if name in facts:
            facts[name] = frozenset(facts[name])
    return RuleLine(line_id=line_id, amount=D(amount), **facts)


def ctx(**kw: Any) -> OrderContext:
    kw.setdefault("placed_at", NOW)
    kw.setdefault("paid", True)
    return OrderContext(**kw)


def multiplier(field: str, value: str, times: str) -> LineRule:
    return LineRule(field=field, value=value, multiplier=D(times))


def exclude(field: str, value: str) -> LineRule:
    return LineRule(field=field, value=value, exclude=True)


def rules(*line_rules: LineRule, **kw: Any) -> EarnRules:
    for name in ("points_per_unit", "min_order_amount"):
        if name in kw:
            kw[name] = D(kw[name])
    return EarnRules(line_rules=line_rules, **kw)


def campaign(
    kind: str = "multiplier",
    value: str | int = "2",
    *,
    id: str = "c1",
    starts_at: datetime = NOW - timedelta(days=1),
    ends_at: datetime = NOW + timedelta(days=1),
    **kw: Any,
) -> Campaign:
    if kind == "multiplier":
        kw["multiplier"] = D(str(value))
    else:
        kw["bonus_points"] = int(value)
    return Campaign(
        id=id, name=kw.pop("name", id), kind=kind, starts_at=starts_at, ends_at=ends_at, **kw
    )


def breakdown(lines: list[RuleLine], **kw: Any) -> Breakdown:
    kw.setdefault("context", ctx())
    return order_breakdown(lines=lines, **kw)


def points(lines: list[RuleLine], **kw: Any) -> int:
    return breakdown(lines, **kw).points


def kinds(result: Breakdown) -> list[str]:
    return [note.kind for note in result.notes]


# --- rate and rounding ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earn", "amounts", "expected"),
    [
        (rules(), ["43.20"], 43),
        (rules(), ["99.99"], 99),
        (rules(), ["0.60", "0.60"], 1),
        (rules(points_per_unit="2.5"), ["10.00"], 25),
        (rules(points_per_unit="0.1"), ["99.99"], 9),
        (rules(points_per_unit="0.1", rounding="nearest"), ["99.99"], 10),
        (rules(points_per_unit="0.1", rounding="up"), ["90.01"], 10),
        (rules(rounding="nearest"), ["10.50"], 11),
        (rules(rounding="nearest"), ["10.49"], 10),
        (rules(rounding="up"), ["10.01"], 11),
        (rules(rounding="up"), ["10.00"], 10),
        (rules(rounding="up"), ["0.01"], 1),
        (rules(points_per_unit="0"), ["500.00"], 0),
        (rules(points_per_unit="0.0001"), ["20000.00"], 2),
    ],
    ids=[
        "default 1 per unit",
        "default rounds down",
        "rounded once per order not per line",
        "decimal rate",
        "small rate rounds down",
        "nearest",
        "up",
        "nearest rounds a half up",
        "nearest below a half",
        "up counts any fraction",
        "up leaves whole numbers",
        "up on one cent",
        "rate zero",
        "rate with four places",
    ],
)
def test_the_rate_applies_to_the_net_merchandise_rounded_once(earn, amounts, expected):
    lines = [ln(str(i), a) for i, a in enumerate(amounts)]
    assert points(lines, rules=earn) == expected


# --- gift cards and line rules ----------------------------------------------------------

COFFEE = dict(
    product_type="Coffee",
    vendor="Acme Roasters",
    tags={"Organic", "fair-trade"},
    collections={"Summer Picks", "Beans"},
    sku="COF-1",
    product_id="123",
)


@pytest.mark.parametrize(
    ("line_rules", "facts", "expected"),
    [
        ((), COFFEE, 10),
        ((multiplier("product_type", "Coffee", "3"),), COFFEE, 30),
        ((multiplier("product_type", "  cOFFEE ", "3"),), COFFEE, 30),
        ((multiplier("product_type", "Coffee", "3"),), {"product_type": " coffee "}, 30),
        ((multiplier("vendor", "acme roasters", "2"),), COFFEE, 20),
        ((multiplier("tag", "ORGANIC", "2"),), COFFEE, 20),
        ((multiplier("tag", "decaf", "2"),), COFFEE, 10),
        ((multiplier("collection", "beans", "1.5"),), COFFEE, 15),
        ((multiplier("sku", "cof-1", "4"),), COFFEE, 40),
        ((multiplier("product_id", "123", "5"),), COFFEE, 50),
        ((multiplier("product_id", "gid://shopify/Product/123", "5"),), COFFEE, 50),
        ((multiplier("product_id", "1234", "5"),), COFFEE, 10),
        ((multiplier("vendor", "Coffee", "3"),), COFFEE, 10),
        ((exclude("collection", "Summer Picks"),), COFFEE, 0),
        (
            (multiplier("product_type", "Coffee", "3"), exclude("tag", "fair-trade")),
            COFFEE,
            0,
        ),
        (
            (exclude("tag", "fair-trade"), multiplier("product_type", "Coffee", "3")),
            COFFEE,
            0,
        ),
        (
            (multiplier("product_type", "Coffee", "3"), multiplier("tag", "organic", "2")),
            COFFEE,
            30,
        ),
        (
            (multiplier("tag", "organic", "0.5"), multiplier("collection", "beans", "2")),
            COFFEE,
            20,
        ),
        ((multiplier("tag", "organic", "0.5"),), COFFEE, 5),
        ((multiplier("tag", "organic", "0"),), COFFEE, 0),
        ((multiplier("sku", "COF-1", "3"), multiplier("sku", "cof-1", "4")), COFFEE, 40),
        ((multiplier("product_type", "Coffee", "3"),), {"product_type": ""}, 10),
    ],
    ids=[
        "no rules: 1x",
        "product type",
        "rule value trimmed and any case",
        "line fact trimmed and any case",
        "vendor",
        "tag among several",
        "tag the line lacks",
        "collection",
        "sku",
        "product id",
        "product id as a gid",
        "another product id",
        "a value on another field does not match",
        "exclusion",
        "exclusion wins over a multiplier listed before it",
        "exclusion wins over a multiplier listed after it",
        "several multipliers: the highest, not the product",
        "a lower multiplier does not pull a higher one down",
        "a multiplier below 1",
        "a multiplier of 0",
        "two rules on the same value: the highest",
        "an empty fact matches nothing",
    ],
)
def test_line_rules_multiply_or_exclude_matching_lines(line_rules, facts, expected):
    # given a 10.00 line with these facts / when the rules apply / then its points
    assert points([ln("1", "10.00", **facts)], rules=rules(*line_rules)) == expected


def test_line_rules_apply_to_their_lines_only():
    earn = rules(multiplier("product_type", "Coffee", "3"), exclude("collection", "Sale"))
    lines = [
        ln("1", "20.00", product_type="Coffee"),
        ln("2", "10.00", collections={"Sale"}),
        ln("3", "5.50"),
    ]
    result = breakdown(lines, rules=earn)
    assert result.points == 65  # 60 + 0 + 5.5 -> 65.5 down
    assert [line.multiplier for line in result.lines] == [D("3"), D("0"), D("1")]
    assert [line.excluded for line in result.lines] == [False, True, False]


@pytest.mark.parametrize(
    ("earn", "campaigns"),
    [
        (rules(multiplier("product_type", "Gift Card", "3")), ()),
        (rules(), (campaign("multiplier", "5"),)),
        (rules(points_per_unit="10", rounding="up"), ()),
    ],
    ids=["a multiplier rule", "a multiplier campaign", "a high rate rounded up"],
)
def test_gift_card_lines_never_earn(earn, campaigns):
    gift = ln("1", "50.00", gift_card=True, product_type="Gift Card")
    assert points([gift], rules=earn, campaigns=campaigns) == 0
    assert points([gift, ln("2", "1.00")], rules=earn, campaigns=campaigns) == points(
        [ln("2", "1.00")], rules=earn, campaigns=campaigns
    )


# --- campaigns ----------------------------------------------------------------------------

SUMMER = LineMatch(field="collection", value="Summer")


@pytest.mark.parametrize(
    ("line_rules", "campaigns", "expected"),
    [
        ((), [campaign("multiplier", "2")], 30),
        ((), [campaign("multiplier", "2"), campaign("multiplier", "3", id="c2")], 45),
        ((), [campaign("multiplier", "3"), campaign("multiplier", "2", id="c2")], 45),
        ((multiplier("product_type", "Coffee", "3"),), [campaign("multiplier", "2")], 70),
        ((exclude("product_type", "Coffee"),), [campaign("multiplier", "2")], 10),
        ((), [campaign("multiplier", "3", applies_to=SUMMER)], 35),
        (
            (),
            [campaign("multiplier", "3", applies_to=SUMMER), campaign("multiplier", "2", id="c2")],
            40,
        ),
        ((), [campaign("bonus", 100)], 115),
        ((), [campaign("bonus", 100), campaign("bonus", 50, id="c2")], 165),
        ((), [campaign("bonus", 100), campaign("multiplier", "2", id="c2")], 130),
        ((), [campaign("bonus", 20, applies_to=SUMMER)], 35),
        ((), [campaign("bonus", 20, applies_to=LineMatch(field="tag", value="nope"))], 15),
        ((), [campaign("bonus", 0)], 15),
        ((), [campaign("multiplier", "1.5")], 22),
    ],
    ids=[
        "double points",
        "overlapping multipliers: the highest",
        "overlapping multipliers in another order",
        "campaign multiplies the line rule",
        "an excluded line stays excluded",
        "campaign for one collection",
        "collection campaign and global campaign: highest per line",
        "fixed bonus",
        "fixed bonuses add up",
        "bonus is not multiplied",
        "bonus for a collection in the order",
        "bonus for a tag not in the order",
        "bonus of zero",
        "fractional multiplier rounded once",
    ],
)
def test_campaigns_combine_by_the_documented_rule(line_rules, campaigns, expected):
    # given a 10.00 coffee from the Summer collection and a 5.00 mug
    lines = [ln("1", "10.00", product_type="Coffee", collections={"Summer"}), ln("2", "5.00")]
    assert points(lines, rules=rules(*line_rules), campaigns=campaigns) == expected


@pytest.mark.parametrize(
    ("placed_at", "in_force"),
    [
        (NOW, True),
        (NOW - timedelta(microseconds=1), False),
        (NOW + timedelta(hours=48) - timedelta(microseconds=1), True),
        (NOW + timedelta(hours=48), False),
        (NOW.astimezone(ZoneInfo("Asia/Tokyo")), True),
        ((NOW + timedelta(hours=48)).astimezone(ZoneInfo("America/New_York")), False),
    ],
    ids=[
        "at the start",
        "just before",
        "just before the end",
        "at the end",
        "the start seen from another zone",
        "the end seen from another zone",
    ],
)
def test_a_campaign_is_in_force_from_its_start_to_just_before_its_end(placed_at, in_force):
    double = campaign("multiplier", "2", starts_at=NOW, ends_at=NOW + timedelta(hours=48))
    expected = 20 if in_force else 10
    assert points([ln("1", "10.00")], campaigns=[double], context=ctx(placed_at=placed_at)) == (
        expected
    )


@pytest.mark.parametrize(
    ("first_order_only", "is_first_order", "expected"),
    [(True, True, 110), (True, False, 10), (False, False, 110), (False, True, 110)],
    ids=["first order", "a later order", "for every order", "for every order, first too"],
)
def test_a_first_order_bonus_goes_to_first_orders_only(first_order_only, is_first_order, expected):
    bonus = campaign("bonus", 100, first_order_only=first_order_only)
    result = points(
        [ln("1", "10.00")], campaigns=[bonus], context=ctx(is_first_order=is_first_order)
    )
    assert result == expected


@pytest.mark.parametrize(
    ("tiers", "tier", "expected"),
    [
        (None, None, 30),
        (None, "Gold", 30),
        (frozenset({"Gold"}), "Gold", 30),
        (frozenset({"Gold"}), " gold ", 30),
        (frozenset({"Gold", "Platinum"}), "Platinum", 30),
        (frozenset({"Gold"}), "Silver", 10),
        (frozenset({"Gold"}), None, 10),
    ],
    ids=[
        "everyone",
        "everyone, gold",
        "gold",
        "tier any case",
        "one of two",
        "other tier",
        "no tier",
    ],
)
def test_a_tier_campaign_applies_to_its_tiers_only(tiers, tier, expected):
    triple = campaign("multiplier", "3", tiers=tiers)
    assert points([ln("1", "10.00")], campaigns=[triple], context=ctx(tier=tier)) == expected


# --- campaign windows in the shop's time zone -------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "utc_start", "utc_end", "hours"),
    [
        (
            local(2025, 6, 14),
            local(2025, 6, 16),
            datetime(2025, 6, 14, 4, tzinfo=UTC),
            datetime(2025, 6, 16, 4, tzinfo=UTC),
            48,
        ),
        (
            local(2025, 3, 8),
            local(2025, 3, 10),
            datetime(2025, 3, 8, 5, tzinfo=UTC),
            datetime(2025, 3, 10, 4, tzinfo=UTC),
            47,
        ),
        (
            local(2025, 11, 1),
            local(2025, 11, 3),
            datetime(2025, 11, 1, 4, tzinfo=UTC),
            datetime(2025, 11, 3, 5, tzinfo=UTC),
            49,
        ),
        (
            local(2025, 3, 9, 2, 30),
            local(2025, 3, 9, 4),
            datetime(2025, 3, 9, 7, 30, tzinfo=UTC),
            datetime(2025, 3, 9, 8, tzinfo=UTC),
            0.5,
        ),
        (
            local(2025, 11, 2, 1, 30),
            local(2025, 11, 2, 3),
            datetime(2025, 11, 2, 5, 30, tzinfo=UTC),
            datetime(2025, 11, 2, 8, tzinfo=UTC),
            2.5,
        ),
    ],
    ids=[
        "summer weekend",
        "weekend when clocks go forward: 47 h",
        "weekend when clocks go back: 49 h",
        "a skipped time takes the offset before the change",
        "a repeated time is its first occurrence",
    ],
)
def test_campaign_windows_are_wall_clock_times_in_the_shops_zone(
    start, end, utc_start, utc_end, hours
):
    starts_at, ends_at = campaign_window(start, end, NEW_YORK)
    assert (starts_at, ends_at) == (utc_start, utc_end)
    assert (ends_at - starts_at) == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("placed_at_utc", "in_force"),
    [
        (datetime(2025, 3, 8, 4, 59, 59, tzinfo=UTC), False),  # Fri 23:59:59 EST
        (datetime(2025, 3, 8, 5, 0, tzinfo=UTC), True),  # Sat 00:00 EST
        (datetime(2025, 3, 9, 7, 0, tzinfo=UTC), True),  # Sun 03:00 EDT, just after the jump
        (datetime(2025, 3, 10, 3, 59, 59, tzinfo=UTC), True),  # Sun 23:59:59 EDT
        (datetime(2025, 3, 10, 4, 0, tzinfo=UTC), False),  # Mon 00:00 EDT
        (datetime(2025, 3, 10, 4, 30, tzinfo=UTC), False),  # in force if EST were assumed
    ],
    ids=["before", "start", "after the jump", "last second", "end", "an hour past the end"],
)
def test_a_weekend_campaign_across_a_dst_change_ends_at_local_midnight(placed_at_utc, in_force):
    starts_at, ends_at = campaign_window(local(2025, 3, 8), local(2025, 3, 10), NEW_YORK)
    weekend = campaign("multiplier", "2", starts_at=starts_at, ends_at=ends_at)
    result = points([ln("1", "10.00")], campaigns=[weekend], context=ctx(placed_at=placed_at_utc))
    assert result == (20 if in_force else 10)


@pytest.mark.parametrize(
    ("fold", "in_force"),
    [(0, True), (1, False)],
    ids=["01:30 daylight time, before the end", "01:30 standard time, an hour later"],
)
def test_orders_in_the_repeated_hour_are_compared_as_instants(fold, in_force):
    # given a campaign that ends at the first 01:45 of the night clocks go back
    starts_at, ends_at = campaign_window(local(2025, 11, 1), local(2025, 11, 2, 1, 45), NEW_YORK)
    flash = campaign("multiplier", "2", starts_at=starts_at, ends_at=ends_at)
    # when an order is placed at 01:30 local time, the first or the second time round
    placed_at = local(2025, 11, 2, 1, 30).replace(tzinfo=ZoneInfo(NEW_YORK), fold=fold)
    result = points([ln("1", "10.00")], campaigns=[flash], context=ctx(placed_at=placed_at))
    # then only the first is inside the campaign (a wall-clock comparison would say both)
    assert result == (20 if in_force else 10)


@pytest.mark.parametrize(
    ("start", "end", "tz", "field"),
    [
        (local(2025, 1, 2), local(2025, 1, 1), NEW_YORK, "ends_at"),
        (local(2025, 1, 1), local(2025, 1, 1), NEW_YORK, "ends_at"),
        (datetime(2025, 1, 1, tzinfo=UTC), local(2025, 1, 2), NEW_YORK, "starts_at"),
        (local(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC), NEW_YORK, "ends_at"),
        (local(2025, 1, 1), local(2025, 1, 2), "Mars/Olympus_Mons", "timezone"),
        (local(2025, 1, 1), local(2025, 1, 2), "", "timezone"),
    ],
    ids=["end before start", "end at start", "aware start", "aware end", "unknown zone", "no zone"],
)
def test_a_bad_campaign_window_names_the_field(start, end, tz, field):
    with pytest.raises(RulesError) as error:
        campaign_window(start, end, tz)
    assert error.value.field == field


# --- minimum order amount and cap -----------------------------------------------------


@pytest.mark.parametrize(
    ("earn", "lines", "kw", "expected"),
    [
        (rules(min_order_amount="50"), [ln("1", "49.99")], {}, 0),
        (rules(min_order_amount="50"), [ln("1", "50.00")], {}, 50),
        (
            rules(exclude("tag", "sale"), min_order_amount="50"),
            [ln("1", "30.00", tags={"sale"}), ln("2", "25.00")],
            {},
            25,
        ),
        (
            rules(min_order_amount="50", include_shipping=True),
            [ln("1", "45.00")],
            {"shipping": D("10.00")},
            0,
        ),
        (
            rules(min_order_amount="50"),
            [ln("1", "45.00"), ln("2", "10.00", gift_card=True)],
            {},
            0,
        ),
        (
            rules(min_order_amount="50"),
            [ln("1", "30.00"), ln("2", "30.00")],
            {"refunded_by_line": {"2": D("15.00")}},
            0,
        ),
        (
            rules(min_order_amount="50"),
            [ln("1", "60.00")],
            {"refunded_extra": D("10.00")},
            50,
        ),
        (
            rules(min_order_amount="50"),
            [ln("1", "40.00")],
            {"campaigns": [campaign("bonus", 100)]},
            0,
        ),
        (rules(max_points_per_order=100), [ln("1", "150.00")], {}, 100),
        (rules(max_points_per_order=100), [ln("1", "99.00")], {}, 99),
        (
            rules(max_points_per_order=100),
            [ln("1", "80.00")],
            {"campaigns": [campaign("bonus", 50)]},
            100,
        ),
        (
            rules(max_points_per_order=100),
            [ln("1", "10.00")],
            {"campaigns": [campaign("multiplier", "20")]},
            100,
        ),
        (rules(max_points_per_order=0), [ln("1", "80.00")], {}, 0),
        (
            rules(max_points_per_order=100),
            [ln("1", "300.00")],
            {"refunded_by_line": {"1": D("150.00")}},
            100,
        ),
    ],
    ids=[
        "below the minimum",
        "at the minimum",
        "excluded lines count toward the minimum",
        "shipping does not count toward the minimum",
        "gift cards do not count toward the minimum",
        "a refund below the minimum takes everything back",
        "an amount-only refund down to the minimum",
        "no bonus below the minimum",
        "cap",
        "under the cap",
        "cap after the bonus",
        "cap after the multiplier",
        "cap of zero",
        "a partial refund under a binding cap takes nothing back",
    ],
)
def test_the_minimum_and_the_cap(earn, lines, kw, expected):
    assert points(lines, rules=earn, **kw) == expected


# --- shipping and tax ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earn", "lines", "kw", "expected"),
    [
        (rules(), [ln("1", "40.00")], {"shipping": D("5.00"), "tax": D("3.20")}, 40),
        (rules(include_shipping=True), [ln("1", "40.00")], {"shipping": D("5.00")}, 45),
        (rules(include_tax=True), [ln("1", "40.00")], {"tax": D("3.20")}, 43),
        (
            rules(include_shipping=True, include_tax=True),
            [ln("1", "40.00")],
            {"shipping": D("5.00"), "tax": D("3.20")},
            48,
        ),
        (
            rules(multiplier("product_type", "Coffee", "3"), include_shipping=True),
            [ln("1", "10.00", product_type="Coffee")],
            {"shipping": D("5.00")},
            35,
        ),
        (
            rules(include_shipping=True),
            [ln("1", "10.00")],
            {"shipping": D("5.00"), "campaigns": [campaign("multiplier", "2")]},
            25,
        ),
        (
            rules(include_shipping=True, points_per_unit="2"),
            [ln("1", "10.00")],
            {"shipping": D("5.00")},
            30,
        ),
        (
            rules(include_shipping=True),
            [ln("1", "50.00"), ln("2", "50.00")],
            {"shipping": D("10.00"), "refunded_by_line": {"1": D("50.00")}},
            55,
        ),
        (
            rules(include_shipping=True),
            [ln("1", "100.00")],
            {"shipping": D("10.00"), "refunded_shipping": D("10.00")},
            100,
        ),
        (
            rules(include_shipping=True),
            [ln("1", "50.00"), ln("2", "50.00")],
            {
                "shipping": D("10.00"),
                "refunded_shipping": D("4.00"),
                "refunded_by_line": {"1": D("50.00")},
            },
            55,
        ),
        (
            rules(include_shipping=True),
            [ln("1", "50.00"), ln("2", "50.00")],
            {
                "shipping": D("10.00"),
                "refunded_shipping": D("8.00"),
                "refunded_by_line": {"1": D("50.00")},
            },
            52,
        ),
        (
            rules(include_tax=True),
            [ln("1", "100.00")],
            {"tax": D("8.00"), "refunded_extra": D("25.00")},
            81,
        ),
        (
            rules(include_shipping=True),
            [ln("1", "25.00", gift_card=True)],
            {"shipping": D("5.00")},
            0,
        ),
        (
            rules(exclude("tag", "sale"), include_shipping=True),
            [ln("1", "25.00", tags={"sale"})],
            {"shipping": D("5.00")},
            5,
        ),
        (
            rules(include_shipping=True),
            [ln("1", "20.00")],
            {"shipping": D("5.00"), "refunded_by_line": {"1": D("20.00")}},
            0,
        ),
    ],
    ids=[
        "left out by default",
        "shipping",
        "tax",
        "both",
        "shipping gets no line multiplier",
        "shipping gets no campaign multiplier",
        "shipping gets the rate",
        "half the merchandise refunded: half the shipping",
        "shipping refunded",
        "shipping share lower than what is left of it",
        "what is left of shipping lower than its share",
        "tax follows an amount-only refund",
        "no shipping points on a gift-card-only order",
        "shipping on an order of excluded lines still earns",
        "everything refunded: no shipping points",
    ],
)
def test_shipping_and_tax_earn_at_the_base_rate_when_switched_on(earn, lines, kw, expected):
    assert points(lines, rules=earn, **kw) == expected


# --- refunds ----------------------------------------------------------------------------

TRIPLE_COFFEE = rules(multiplier("product_type", "Coffee", "3"))
ORDER = [ln("A", "10.00", product_type="Coffee", collections={"Summer"}), ln("B", "5.00")]


@pytest.mark.parametrize(
    ("earn", "campaigns", "refunds", "before", "after"),
    [
        (TRIPLE_COFFEE, [], {"refunded_by_line": {"A": D("10.00")}}, 35, 5),
        (TRIPLE_COFFEE, [], {"refunded_by_line": {"A": D("4.00")}}, 35, 23),
        (TRIPLE_COFFEE, [], {"refunded_by_line": {"B": D("5.00")}}, 35, 30),
        (rules(), [campaign("multiplier", "2")], {"refunded_by_line": {"A": D("10.00")}}, 30, 10),
        (
            TRIPLE_COFFEE,
            [campaign("multiplier", "2", applies_to=SUMMER)],
            {"refunded_by_line": {"A": D("10.00")}},
            65,
            5,
        ),
        (TRIPLE_COFFEE, [], {"refunded_by_line": {"A": D("50.00")}}, 35, 5),
        (TRIPLE_COFFEE, [], {"refunded_by_line": {"A": D("-10.00")}}, 35, 35),
        (TRIPLE_COFFEE, [], {"refunded_by_line": {"Z": D("3.00")}}, 35, 28),
        (TRIPLE_COFFEE, [], {"refunded_extra": D("3.00")}, 35, 28),
        (TRIPLE_COFFEE, [], {"refunded_extra": D("15.00")}, 35, 0),
        (TRIPLE_COFFEE, [], {"refunded_extra": D("99.00")}, 35, 0),
        (TRIPLE_COFFEE, [], {"refunded_extra": D("-5.00")}, 35, 35),
        (
            TRIPLE_COFFEE,
            [],
            {"refunded_by_line": {"A": D("10.00")}, "refunded_extra": D("2.50")},
            35,
            2,
        ),
        (rules(), [campaign("bonus", 100)], {"refunded_by_line": {"A": D("10.00")}}, 115, 105),
        (
            rules(),
            [campaign("bonus", 100)],
            {"refunded_by_line": {"A": D("10.00"), "B": D("5.00")}},
            115,
            0,
        ),
        (rules(), [campaign("bonus", 100)], {"refunded_extra": D("15.00")}, 115, 0),
        (
            rules(),
            [campaign("bonus", 100, applies_to=SUMMER)],
            {"refunded_by_line": {"A": D("10.00")}},
            115,
            5,
        ),
    ],
    ids=[
        "a 3x line refunded takes back 3x",
        "part of a 3x line takes back 3x of that part",
        "a 1x line beside a 3x line takes back 1x",
        "a campaign-doubled line takes back 2x",
        "a line under rule and campaign takes back 6x",
        "a refund larger than its line stops at the line",
        "a negative refund is ignored",
        "a refund of an unknown line is amount-only",
        "amount-only refund in proportion (35 x 12/15)",
        "amount-only refund of everything",
        "amount-only refund of more than everything",
        "a negative amount-only refund is ignored",
        "line and amount-only refunds together",
        "a bonus stays while something is kept",
        "a bonus goes when everything is refunded",
        "a bonus goes when everything is refunded without line items",
        "a line bonus goes with its line",
    ],
)
def test_a_refund_takes_back_exactly_what_the_refunded_merchandise_earned(
    earn, campaigns, refunds, before, after
):
    assert points(ORDER, rules=earn, campaigns=campaigns) == before
    assert points(ORDER, rules=earn, campaigns=campaigns, **refunds) == after


def test_a_line_id_given_twice_is_refunded_once():
    lines = [ln("A", "10.00"), ln("A", "10.00")]
    assert points(lines, refunded_by_line={"A": D("10.00")}) == 10
    assert points(lines, refunded_by_line={"A": D("25.00")}) == 0


# --- order status ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "live"),
    [
        ({}, True),
        ({"paid": False}, False),
        ({"cancelled": True}, False),
        ({"fully_refunded": True}, False),
        ({"test": True}, False),
    ],
    ids=["paid", "unpaid", "cancelled", "fully refunded", "test"],
)
def test_only_a_paid_live_order_earns(status, live):
    result = breakdown([ln("1", "10.00")], context=ctx(**status))
    assert result.points == (10 if live else 0)
    assert ("status" in kinds(result)) is not live
    assert result.lines[0].weighted == D("10.00")  # the explanation still shows the lines


def test_placed_at_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        OrderContext(placed_at=local(2025, 1, 1), paid=True)


# --- the explanation -----------------------------------------------------------------------


def test_the_explanation_says_why_and_is_json_friendly():
    earn = rules(
        multiplier("product_type", "Coffee", "3"),
        multiplier("tag", "organic", "2"),
        exclude("collection", "Sale"),
        min_order_amount="10",
    )
    double = campaign("multiplier", "2", id="weekend", name="Double weekend")
    welcome = campaign("bonus", 100, id="welcome", name="Welcome", first_order_only=True)
    lines = [
        ln("1", "20.00", product_type="Coffee", tags={"Organic"}),
        ln("2", "10.00", collections={"Sale"}),
        ln("3", "25.00", gift_card=True),
        ln("4", "5.55"),
    ]
    result = breakdown(
        lines,
        rules=earn,
        campaigns=[double, welcome],
        context=ctx(is_first_order=True),
        refunded_extra=D("1.00"),
    )
    data = json.loads(json.dumps(result.as_dict()))

    first, sale, gift, plain = data["lines"]
    assert first["rule"] == {"field": "product_type", "value": "Coffee", "multiplier": "3"}
    assert first["overridden_rules"] == [{"field": "tag", "value": "organic", "multiplier": "2"}]
    assert first["campaign"] == {"id": "weekend", "name": "Double weekend"}
    assert (first["multiplier"], first["weighted"]) == ("6", "120.00")
    assert sale["excluded"] and sale["rule"]["exclude"] and sale["multiplier"] == "0"
    assert gift["gift_card"] and gift["excluded"] and "gift cards never earn" in gift["message"]
    assert plain["multiplier"] == "2" and plain["weighted"] == "11.10"
    assert [note["kind"] for note in data["notes"]] == [
        "amount_refund",
        "rate",
        "rounding",
        "bonus",
    ]
    bonus = data["notes"][-1]
    assert (bonus["campaign_id"], bonus["points"]) == ("welcome", 100)
    # (120 + 0 + 11.10) x (34.55 / 35.55) = 127.41... -> 127, + 100
    assert data["points"] == result.points == 227
    assert data["base_points"] == 127 and data["bonus_points"] == 100
    assert all(isinstance(v, str) for v in (data["weighted_amount"], data["raw_points"]))
    assert len(data["raw_points"].split(".")[1]) <= 4
    assert result.summary().startswith("227 points. Line 1: 20.00 at 6x")


@pytest.mark.parametrize(
    ("earn", "lines", "kw", "kind"),
    [
        (rules(min_order_amount="50"), [ln("1", "20.00")], {}, "minimum"),
        (rules(max_points_per_order=5), [ln("1", "20.00")], {}, "cap"),
        (rules(), [ln("1", "20.40")], {}, "rounding"),
        (rules(include_shipping=True), [ln("1", "20.00")], {"shipping": D("4.99")}, "shipping"),
        (rules(include_tax=True), [ln("1", "20.00")], {"tax": D("1.60")}, "tax"),
        (rules(), [ln("1", "20.00", gift_card=True)], {}, "no_merchandise"),
        (rules(), [ln("1", "20.00")], {"refunded_by_line": {"1": D("20")}}, "no_merchandise"),
    ],
    ids=["minimum", "cap", "rounding", "shipping", "tax", "only gift cards", "all refunded"],
)
def test_each_order_level_step_is_explained(earn, lines, kw, kind):
    result = breakdown(lines, rules=earn, **kw)
    assert kind in kinds(result)
    assert all(note.message for note in result.notes)


def test_no_rounding_note_when_nothing_is_rounded():
    assert "rounding" not in kinds(breakdown([ln("1", "20.00")]))


# --- configuration: parsing and validation -------------------------------------------------

VALID_RULES = {
    "points_per_unit": "2.5",
    "include_shipping": True,
    "include_tax": False,
    "rounding": "nearest",
    "min_order_amount": "20.00",
    "max_points_per_order": 1000,
    "line_rules": [
        {"field": "product_type", "value": "Coffee", "multiplier": "3"},
        {"field": "collection", "value": "Sale", "exclude": True},
    ],
}


def with_rule(**rule: Any) -> dict[str, Any]:
    return {"line_rules": [{"field": "vendor", "value": "Acme", "multiplier": "2"}, rule]}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], ""),
        ({"points_per_unit": "-1"}, "points_per_unit"),
        ({"points_per_unit": "abc"}, "points_per_unit"),
        ({"points_per_unit": "1.23456"}, "points_per_unit"),
        ({"points_per_unit": True}, "points_per_unit"),
        ({"points_per_unit": None}, "points_per_unit"),
        ({"points_per_unit": "NaN"}, "points_per_unit"),
        ({"points_per_unit": "Infinity"}, "points_per_unit"),
        ({"points_per_unit": "1001"}, "points_per_unit"),
        ({"rounding": "sideways"}, "rounding"),
        ({"rounding": ["down"]}, "rounding"),
        ({"include_shipping": "yes"}, "include_shipping"),
        ({"include_tax": 1}, "include_tax"),
        ({"min_order_amount": "-5"}, "min_order_amount"),
        ({"min_order_amount": "five"}, "min_order_amount"),
        ({"max_points_per_order": -1}, "max_points_per_order"),
        ({"max_points_per_order": 1.5}, "max_points_per_order"),
        ({"max_points_per_order": "100"}, "max_points_per_order"),
        ({"bonus": 5}, "bonus"),
        ({"line_rules": "coffee"}, "line_rules"),
        ({"line_rules": [{"field": "x", "value": "y", "multiplier": "1"}] * 201}, "line_rules"),
        (with_rule(field="color", value="red", multiplier="2"), "line_rules[1].field"),
        (with_rule(value="red", multiplier="2"), "line_rules[1].field"),
        (with_rule(field="tag", value="", multiplier="2"), "line_rules[1].value"),
        (with_rule(field="tag", value="   ", multiplier="2"), "line_rules[1].value"),
        (with_rule(field="tag", value=5, multiplier="2"), "line_rules[1].value"),
        (with_rule(field="tag", value="x" * 256, multiplier="2"), "line_rules[1].value"),
        (with_rule(field="tag", value="a", multiplier="-1"), "line_rules[1].multiplier"),
        (with_rule(field="tag", value="a", multiplier="101"), "line_rules[1].multiplier"),
        (with_rule(field="tag", value="a", multiplier="two"), "line_rules[1].multiplier"),
        (with_rule(field="tag", value="a", multiplier="1.00001"), "line_rules[1].multiplier"),
        (
            with_rule(field="tag", value="a", multiplier="2", exclude=True),
            "line_rules[1].multiplier",
        ),
        (with_rule(field="tag", value="a"), "line_rules[1].multiplier"),
        (with_rule(field="tag", value="a", exclude=False), "line_rules[1].multiplier"),
        (with_rule(field="tag", value="a", exclude="yes"), "line_rules[1].exclude"),
        (with_rule(field="tag", value="a", exclude=True, note="x"), "line_rules[1].note"),
        ({"line_rules": ["coffee"]}, "line_rules[0]"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_rules_are_refused_naming_the_field(data, field):
    with pytest.raises(RulesError) as error:
        rules_from_dict(data)
    assert error.value.field == field
    assert error.value.message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, EarnRules()),
        ({"points_per_unit": 2}, EarnRules(points_per_unit=D("2"))),
        ({"points_per_unit": 0.1}, EarnRules(points_per_unit=D("0.1"))),
        ({"points_per_unit": "2.50000"}, EarnRules(points_per_unit=D("2.5"))),
        ({"max_points_per_order": None}, EarnRules()),
        ({"max_points_per_order": 0}, EarnRules(max_points_per_order=0)),
        (
            with_rule(field="sku", value="A-1", exclude=True),
            rules(multiplier("vendor", "Acme", "2"), exclude("sku", "A-1")),
        ),
        (
            {"line_rules": [{"field": "tag", "value": "x", "multiplier": 2.5}]},
            rules(multiplier("tag", "x", "2.5")),
        ),
    ],
    ids=[
        "empty is the default",
        "integer rate",
        "JSON float read by its text",
        "trailing zeros",
        "no cap",
        "cap of zero",
        "rules",
        "float multiplier",
    ],
)
def test_good_rules_are_read(data, expected):
    assert rules_from_dict(data) == expected


def test_rules_survive_a_round_trip_through_json():
    parsed = rules_from_dict(VALID_RULES)
    again = rules_from_dict(json.loads(json.dumps(parsed.to_dict())))
    assert again == parsed
    assert parsed.line_rules[1].exclude
    assert parsed.to_dict()["points_per_unit"] == "2.5"


def test_two_hundred_line_rules_are_allowed():
    data = {
        "line_rules": [{"field": "sku", "value": f"S{i}", "multiplier": "2"} for i in range(200)]
    }
    assert len(rules_from_dict(data).line_rules) == 200


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: EarnRules(points_per_unit=D("-1")), "points_per_unit"),
        (lambda: EarnRules(points_per_unit=1), "points_per_unit"),  # type: ignore[arg-type]
        (lambda: EarnRules(rounding="half"), "rounding"),  # type: ignore[arg-type]
        (lambda: LineRule(field="tag", value="a"), "multiplier"),
        (lambda: LineMatch(field="colour", value="a"), "field"),
        (lambda: campaign("multiplier", "0.5"), "multiplier"),
        (lambda: campaign("bonus", -1), "bonus_points"),
        (lambda: campaign(ends_at=NOW - timedelta(days=2)), "ends_at"),
        (lambda: campaign(starts_at=local(2025, 1, 1)), "starts_at"),
        (lambda: campaign(tiers=frozenset()), "tiers"),
    ],
    ids=[
        "rate",
        "rate not Decimal",
        "rounding",
        "line rule",
        "match",
        "c mult",
        "bonus",
        "end",
        "naive",
        "tiers",
    ],
)
def test_values_built_in_code_are_validated_too(build, field):
    with pytest.raises(RulesError) as error:
        build()
    assert error.value.field == field


VALID_CAMPAIGN = {
    "id": "7",
    "name": "Double points weekend",
    "kind": "multiplier",
    "multiplier": "2",
    "starts_at": "2025-03-08T00:00:00-05:00",
    "ends_at": "2025-03-10T00:00:00-04:00",
    "first_order_only": False,
    "applies_to": {"field": "collection", "value": "Summer"},
    "tiers": ["Gold", "Platinum"],
}


def campaign_data(**changes: Any) -> dict[str, Any]:
    data = {**VALID_CAMPAIGN, **changes}
    return {k: v for k, v in data.items() if v is not ...}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ("campaign", ""),
        (campaign_data(ends_at="2025-03-08T00:00:00-05:00"), "ends_at"),
        (campaign_data(ends_at="2025-03-07T00:00:00-05:00"), "ends_at"),
        (campaign_data(kind="mystery"), "kind"),
        (campaign_data(kind=...), "kind"),
        (campaign_data(name=...), "name"),
        (campaign_data(name="  "), "name"),
        (campaign_data(multiplier="0.5"), "multiplier"),
        (campaign_data(multiplier="101"), "multiplier"),
        (campaign_data(multiplier="lots"), "multiplier"),
        (campaign_data(multiplier=...), "multiplier"),
        (campaign_data(bonus_points=100), "bonus_points"),
        (campaign_data(kind="bonus", multiplier=..., bonus_points=-1), "bonus_points"),
        (campaign_data(kind="bonus", multiplier=..., bonus_points=1.5), "bonus_points"),
        (campaign_data(kind="bonus", multiplier=..., bonus_points=10**7), "bonus_points"),
        (campaign_data(kind="bonus", multiplier=...), "bonus_points"),
        (campaign_data(kind="bonus", bonus_points=10), "multiplier"),
        (campaign_data(starts_at="2025-03-08T00:00:00"), "starts_at"),
        (campaign_data(starts_at="next saturday"), "starts_at"),
        (campaign_data(starts_at=20250308), "starts_at"),
        (campaign_data(ends_at=...), "ends_at"),
        (campaign_data(first_order_only="no"), "first_order_only"),
        (campaign_data(applies_to={"field": "colour", "value": "red"}), "applies_to.field"),
        (campaign_data(applies_to={"field": "tag", "value": ""}), "applies_to.value"),
        (campaign_data(applies_to={"field": "tag", "value": "a", "x": 1}), "applies_to.x"),
        (campaign_data(applies_to="Summer"), "applies_to"),
        (campaign_data(tiers=[]), "tiers"),
        (campaign_data(tiers="Gold"), "tiers"),
        (campaign_data(tiers=["Gold", ""]), "tiers"),
        (campaign_data(id=["7"]), "id"),
        (campaign_data(colour="red"), "colour"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_campaigns_are_refused_naming_the_field(data, field):
    with pytest.raises(RulesError) as error:
        campaign_from_dict(data)
    assert error.value.field == field


def test_a_campaign_survives_a_round_trip_through_json():
    parsed = campaign_from_dict(VALID_CAMPAIGN)
    assert parsed.ends_at - parsed.starts_at == timedelta(hours=47)
    assert parsed.tiers == frozenset({"Gold", "Platinum"})
    assert campaign_from_dict(json.loads(json.dumps(parsed.to_dict()))) == parsed


def test_campaign_times_without_an_offset_are_read_in_the_shops_zone():
    wall_clock = campaign_data(
        starts_at="2025-03-08T00:00:00", ends_at="2025-03-10T00:00:00", id=7, tiers=None
    )
    parsed = campaign_from_dict(wall_clock, tz_name=NEW_YORK)
    assert (parsed.starts_at, parsed.ends_at) == campaign_window(
        local(2025, 3, 8), local(2025, 3, 10), NEW_YORK
    )
    assert parsed.id == "7" and parsed.tiers is None
    with pytest.raises(RulesError) as error:
        campaign_from_dict(wall_clock, tz_name="Nowhere/Special")
    assert error.value.field == "timezone"


def test_a_bonus_campaign_is_read():
    data = {
        "name": "Welcome",
        "kind": "bonus",
        "bonus_points": 100,
        "first_order_only": True,
        "starts_at": "2025-01-01T00:00:00Z",
        "ends_at": "2026-01-01T00:00:00Z",
    }
    parsed = campaign_from_dict(data)
    assert (parsed.kind, parsed.bonus_points, parsed.multiplier) == ("bonus", 100, None)
    assert parsed.first_order_only and parsed.id == "" and parsed.applies_to is None


# --- the bridge's values ------------------------------------------------------------------


def test_platform_lines_and_refunds_become_rule_facts():
    line = PurchaseLine(line_id="9", amount=D("12.00"), sku="S", vendor="V", product_id="p")
    fact = RuleLine.from_purchase_line(line, product_type="Coffee", tags=["a"], collections=["c"])
    assert (fact.sku, fact.vendor, fact.product_id, fact.product_type) == ("S", "V", "p", "Coffee")
    assert fact.tags == frozenset({"a"}) and fact.collections == frozenset({"c"})
    refunds = [
        Refund(
            "r1", "o", lines=(RefundLine("9", D("2.00")), RefundLine("g", D("5"), gift_card=True))
        ),
        Refund("r2", "o", lines=(RefundLine("9", D("3.00")),), extra_amount=D("1.50")),
    ]
    assert refunds_by_line(refunds) == ({"9": D("5.00")}, D("1.50"))


# --- properties ---------------------------------------------------------------------------

PROPERTIES = settings(max_examples=100, deadline=None)
WORDS = ["Coffee", "Tea", "Sale", "gift", "Acme", "Summer"]
amounts = st.decimals(min_value=D("0"), max_value=D("2000"), places=2)
words = st.sampled_from(WORDS)


@st.composite
def rule_lines(draw: st.DrawFn, min_size: int = 0) -> list[RuleLine]:
    drawn = draw(
        st.lists(
            st.builds(
                RuleLine,
                line_id=st.just(""),
                amount=amounts,
                quantity=st.integers(1, 5),
                gift_card=st.booleans(),
                product_id=st.sampled_from(["", "1", "2"]),
                sku=st.sampled_from(["", "S1", "S2"]),
                vendor=st.sampled_from(["", "Acme", "Other"]),
                product_type=st.sampled_from(["", "Coffee", "Tea"]),
                tags=st.frozensets(words, max_size=3),
                collections=st.frozensets(words, max_size=2),
            ),
            min_size=min_size,
            max_size=10,
        )
    )
    return [replace(line, line_id=str(i)) for i, line in enumerate(drawn)]


line_rule_strategy = st.one_of(
    st.builds(
        LineRule,
        field=st.sampled_from(MATCH_FIELDS),
        value=words | st.sampled_from(["1", "S1", "Acme"]),
        multiplier=st.decimals(min_value=D("0"), max_value=D("10"), places=2),
    ),
    st.builds(
        LineRule,
        field=st.sampled_from(MATCH_FIELDS),
        value=words,
        exclude=st.just(True),
    ),
)
earn_rules = st.builds(
    EarnRules,
    points_per_unit=st.decimals(min_value=D("0"), max_value=D("10"), places=2),
    include_shipping=st.booleans(),
    include_tax=st.booleans(),
    rounding=st.sampled_from(["down", "nearest", "up"]),
    min_order_amount=st.sampled_from([D("0"), D("0"), D("25"), D("100")]),
    max_points_per_order=st.none() | st.integers(0, 5000),
    line_rules=st.lists(line_rule_strategy, max_size=8).map(tuple),
)
line_matches = st.builds(LineMatch, field=st.sampled_from(MATCH_FIELDS), value=words)


@st.composite
def campaigns_strategy(draw: st.DrawFn, bonuses: bool = True) -> list[Campaign]:
    kinds_allowed = ["multiplier", "bonus"] if bonuses else ["multiplier"]
    result = []
    for i in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(kinds_allowed))
        start = NOW + timedelta(hours=draw(st.integers(-48, 24)))
        result.append(
            Campaign(
                id=str(i),
                name=f"c{i}",
                kind=kind,  # type: ignore[arg-type]
                starts_at=start,
                ends_at=start + timedelta(hours=draw(st.integers(1, 72))),
                multiplier=draw(st.decimals(min_value=D("1"), max_value=D("5"), places=1))
                if kind == "multiplier"
                else None,
                bonus_points=draw(st.integers(0, 500)) if kind == "bonus" else None,
                first_order_only=draw(st.booleans()),
                applies_to=draw(st.none() | line_matches),
                tiers=draw(
                    st.none() | st.frozensets(st.sampled_from(["Gold", "Silver"]), min_size=1)
                ),
            )
        )
    return result


contexts = st.builds(
    OrderContext,
    placed_at=st.just(NOW),
    paid=st.just(True),
    is_first_order=st.booleans(),
    tier=st.sampled_from([None, "gold", "Silver"]),
)


@st.composite
def partial_refunds(draw: st.DrawFn, lines: list[RuleLine]) -> dict[str, Decimal]:
    """Up to each line's amount, in quarters."""
    refunds = {}
    for line in lines:
        quarters = draw(st.integers(0, 4))
        if quarters:
            refunds[line.line_id] = (line.amount * quarters / 4).quantize(D("0.01"))
    return refunds


@PROPERTIES
@given(
    lines=rule_lines(),
    earn=earn_rules,
    campaigns=campaigns_strategy(),
    context=contexts,
    shipping=amounts,
    tax=amounts,
    how=st.sampled_from(["every line", "amount only", "both halves", "cancel", "fully refunded"]),
)
def test_refunding_everything_leaves_zero_points(
    lines, earn, campaigns, context, shipping, tax, how
):
    # given any order under any rules / when everything is refunded (or it is cancelled)
    everything = sum((line.amount for line in lines), D("0"))
    kw: dict[str, Any] = {}
    if how == "every line":
        kw["refunded_by_line"] = {line.line_id: line.amount for line in lines}
    elif how == "amount only":
        kw["refunded_extra"] = everything
    elif how == "both halves":
        kw["refunded_by_line"] = {line.line_id: line.amount / 2 for line in lines}
        kw["refunded_extra"] = everything - sum((line.amount / 2 for line in lines), D("0"))
    else:
        context = replace(context, **{"cancelled" if how == "cancel" else "fully_refunded": True})
    result = order_breakdown(
        lines=lines,
        context=context,
        rules=earn,
        campaigns=campaigns,
        shipping=shipping,
        tax=tax,
        **kw,
    )
    # then it is worth nothing
    assert result.points == 0


@PROPERTIES
@given(
    lines=rule_lines(),
    earn=earn_rules,
    campaigns=campaigns_strategy(),
    context=contexts,
    data=st.data(),
)
def test_points_are_a_whole_number_never_negative(lines, earn, campaigns, context, data):
    # even with refunds larger than the lines, negative ones and unknown line ids
    wild = st.decimals(min_value=D("-5000"), max_value=D("5000"), places=3)
    refunded = data.draw(
        st.dictionaries(st.sampled_from(["0", "1", "2", "3", "unknown"]), wild, max_size=5)
    )
    result = order_breakdown(
        lines=lines,
        context=context,
        rules=earn,
        campaigns=campaigns,
        refunded_by_line=refunded,
        refunded_extra=data.draw(wild),
        shipping=data.draw(wild),
        tax=data.draw(wild),
        refunded_shipping=data.draw(wild),
        refunded_tax=data.draw(wild),
    )
    assert type(result.points) is int
    assert result.points >= 0
    json.dumps(result.as_dict())


@PROPERTIES
@given(
    lines=rule_lines(),
    earn=earn_rules,
    campaigns=campaigns_strategy(bonuses=False),
    context=contexts,
    shipping=amounts,
    tax=amounts,
    data=st.data(),
)
def test_splitting_an_order_never_earns_more_than_the_whole(
    lines, earn, campaigns, context, shipping, tax, data
):
    # given rounding down, no bonus and no cap (a bonus or cap is per order by design)
    earn = replace(earn, rounding="down", max_points_per_order=None)
    in_first = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    shipping_first = data.draw(st.decimals(min_value=D("0"), max_value=shipping, places=2))
    tax_first = data.draw(st.decimals(min_value=D("0"), max_value=tax, places=2))
    first = [line for line, keep in zip(lines, in_first, strict=True) if keep]
    second = [line for line, keep in zip(lines, in_first, strict=True) if not keep]

    def earned(part: list[RuleLine], part_shipping: Decimal, part_tax: Decimal) -> int:
        return order_breakdown(
            lines=part,
            context=context,
            rules=earn,
            campaigns=campaigns,
            shipping=part_shipping,
            tax=part_tax,
        ).points

    # when its lines (and shipping and tax) are split between two orders
    split = earned(first, shipping_first, tax_first) + earned(
        second, shipping - shipping_first, tax - tax_first
    )
    # then the two earn at most what the one would have
    assert split <= earned(lines, shipping, tax)


@PROPERTIES
@given(
    lines=rule_lines(),
    earn=earn_rules,
    campaigns=campaigns_strategy(),
    context=contexts,
    shipping=amounts,
    tax=amounts,
    data=st.data(),
)
def test_a_further_refund_never_adds_points(lines, earn, campaigns, context, shipping, tax, data):
    small = st.decimals(min_value=D("0"), max_value=D("500"), places=2)
    before_lines = data.draw(partial_refunds(lines))
    more_lines = data.draw(partial_refunds(lines))
    extra, more_extra = data.draw(small), data.draw(small)
    ship_refund, more_ship = data.draw(small), data.draw(small)
    tax_refund, more_tax = data.draw(small), data.draw(small)

    def earned(by_line: dict[str, Decimal], extra: Decimal, ship: Decimal, tx: Decimal) -> int:
        return order_breakdown(
            lines=lines,
            context=context,
            rules=earn,
            campaigns=campaigns,
            shipping=shipping,
            tax=tax,
            refunded_by_line=by_line,
            refunded_extra=extra,
            refunded_shipping=ship,
            refunded_tax=tx,
        ).points

    after_lines = {
        k: before_lines.get(k, D("0")) + more_lines.get(k, D("0"))
        for k in before_lines.keys() | more_lines.keys()
    }
    before = earned(before_lines, extra, ship_refund, tax_refund)
    after = earned(after_lines, extra + more_extra, ship_refund + more_ship, tax_refund + more_tax)
    assert after <= before


@PROPERTIES
@given(lines=rule_lines(min_size=1), campaigns=campaigns_strategy(), context=contexts)
def test_a_line_refunded_in_full_takes_back_its_own_points_and_no_more(lines, campaigns, context):
    # given rounding down and no bonus, cap or minimum: rule 7 of the module docstring
    earn = EarnRules(
        line_rules=(
            LineRule(field="product_type", value="Coffee", multiplier=D("3")),
            LineRule(field="tag", value="Sale", exclude=True),
        )
    )
    campaigns = [c for c in campaigns if c.kind == "multiplier"]
    whole = order_breakdown(lines=lines, context=context, rules=earn, campaigns=campaigns)
    refunded = lines[0]
    after = order_breakdown(
        lines=lines,
        context=context,
        rules=earn,
        campaigns=campaigns,
        refunded_by_line={refunded.line_id: refunded.amount},
    )
    own = whole.lines[0].weighted  # what that line counted: amount x all its multipliers
    taken = whole.points - after.points
    assert own - 1 < taken < own + 1  # exact, within the one rounding of the order total


@PROPERTIES
@given(
    lines=st.lists(
        st.builds(
            PurchaseLine,
            line_id=st.just(""),
            amount=amounts,
            gift_card=st.booleans(),
            sku=st.sampled_from(["", "S1"]),
        ),
        max_size=8,
    ),
    data=st.data(),
    extra=st.decimals(min_value=D("0"), max_value=D("3000"), places=2),
    shipping=amounts,
    tax=amounts,
    paid=st.booleans(),
    cancelled=st.booleans(),
    fully_refunded=st.booleans(),
    test=st.booleans(),
)
def test_default_rules_earn_exactly_what_the_previous_calculation_did(
    lines, data, extra, shipping, tax, paid, cancelled, fully_refunded, test
):
    # given an order and its refunds as the platform bridge hands them over
    lines = [replace(line, line_id=str(i)) for i, line in enumerate(lines)]
    refund_lines = []
    for line in lines:
        quarters = data.draw(st.integers(0, 4))
        part = (line.amount * quarters / 4).quantize(D("0.01"))
        first = data.draw(st.decimals(min_value=D("0"), max_value=part, places=2))
        refund_lines.append((line, first, part - first))
    refunds = [
        Refund(
            external_id=f"r{n}",
            order_external_id="o",
            lines=tuple(
                RefundLine(line_id=line.line_id, amount=parts[n], gift_card=line.gift_card)
                for line, *parts in refund_lines
                if parts[n]
            ),
            extra_amount=extra if n == 0 else D("0"),
        )
        for n in range(2)
    ]
    old = order_points(
        eligible=eligible_amount(lines),
        refunded=refunded_amount(refunds),
        paid=paid,
        cancelled=cancelled,
        fully_refunded=fully_refunded,
        test=test,
    )
    by_line, amount_only = refunds_by_line(refunds)
    # when the default rules compute it
    new = order_breakdown(
        lines=[RuleLine.from_purchase_line(line) for line in lines],
        context=OrderContext(
            placed_at=NOW,
            paid=paid,
            cancelled=cancelled,
            fully_refunded=fully_refunded,
            test=test,
        ),
        rules=EarnRules(),
        refunded_by_line=by_line,
        refunded_extra=amount_only,
        shipping=shipping,
        tax=tax,
    )
    # then it is the same
    assert new.points == old
