"""The rules of a challenge's definition, and the counting of progress, pure: hand-checked
tables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from loyalty_app.challenges.policies import (
    ConfigError,
    CountedLine,
    CountedOrder,
    DoneAction,
    badge_from_dict,
    challenge_from_dict,
    percent,
    progress_text,
    progress_value,
)

D = Decimal
UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
BASE = {"name": "Spring", "starts_on": "2025-03-01", "ends_on": "2025-05-31", "reward_points": 100}


def errors(data: dict, tz: str = "UTC") -> dict[str, list[str]]:
    with pytest.raises(ConfigError) as caught:
        challenge_from_dict(data, tz_name=tz)
    return caught.value.errors


# --- the definition -------------------------------------------------------------------------


def test_a_challenges_dates_are_whole_days_in_the_shops_time_zone():
    spec = challenge_from_dict(
        {**BASE, "block": "orders_count", "orders": 3}, tz_name="America/New_York"
    )
    # 1 March 00:00 EST is 05:00 UTC; the day after 31 May 00:00 EDT is 04:00 UTC.
    assert spec.starts_at == datetime(2025, 3, 1, 5, tzinfo=UTC)
    assert spec.ends_at == datetime(2025, 6, 1, 4, tzinfo=UTC)
    assert (spec.starts_on, spec.ends_on) == (date(2025, 3, 1), date(2025, 5, 31))
    assert (spec.params, spec.target) == ({"orders": 3}, D(3))


@pytest.mark.parametrize(
    ("data", "target", "params"),
    [
        ({"block": "orders_count", "orders": "3"}, D(3), {"orders": 3}),
        ({"block": "amount_spent", "amount": "150.5"}, D("150.50"), {"amount": "150.50"}),
        (
            {"block": "distinct_categories", "dimension": "product_type", "count": 2},
            D(2),
            {"dimension": "product_type", "count": 2, "among": []},
        ),
        (
            {
                "block": "distinct_categories",
                "dimension": "collection",
                "count": 2,
                "among": "Tea, coffee, TEA, Mugs",
            },
            D(2),
            {"dimension": "collection", "count": 2, "among": ["Tea", "coffee", "Mugs"]},
        ),
        ({"block": "monthly_streak", "months": 3}, D(3), {"months": 3}),
        (
            {"block": "actions", "actions": ["product_review", "Newsletter"]},
            D(2),
            {"actions": ["product_review", "newsletter"]},
        ),
    ],
)
def test_each_block_reads_its_fields_and_target(data, target, params):
    spec = challenge_from_dict({**BASE, **data})
    assert (spec.block, spec.target, spec.params) == (data["block"], target, params)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"block": "nope"}, "block", "must be one of"),
        ({"block": "orders_count", "orders": 0}, "orders", "at least 1"),
        ({"block": "orders_count", "orders": 3, "amount": "5"}, "amount", "unknown field"),
        ({"block": "amount_spent", "amount": "0"}, "amount", "more than 0"),
        ({"block": "amount_spent", "amount": "1.234"}, "amount", ""),
        (
            {"block": "distinct_categories", "dimension": "collection", "count": 2},
            "among",
            "list the collections",
        ),
        (
            {
                "block": "distinct_categories",
                "dimension": "product_type",
                "count": 3,
                "among": ["a", "b"],
            },
            "among",
            "at least 3",
        ),
        ({"block": "monthly_streak", "months": 1}, "months", "at least 2"),
        ({"block": "monthly_streak", "months": 4}, "months", "fewer than 4 calendar months"),
        ({"block": "actions", "actions": []}, "actions", "at least one"),
        ({"block": "actions", "actions": ["no spaces!"]}, "actions", "not an action key"),
        (
            {"block": "orders_count", "orders": 2, "ends_on": "2025-02-01"},
            "ends_on",
            "before starts_on",
        ),
        ({"block": "orders_count", "orders": 2, "starts_on": "March"}, "starts_on", "YYYY-MM-DD"),
        (
            {"block": "orders_count", "orders": 2, "reward_points": None},
            "reward_points",
            "give points",
        ),
        (
            {"block": "orders_count", "orders": 2, "reward_points": -5},
            "reward_points",
            "at least 1",
        ),
        ({"block": "orders_count", "orders": 2, "name": " "}, "name", "must not be empty"),
    ],
)
def test_a_wrong_field_is_named_with_its_reason(data, field, message):
    found = errors({**BASE, **data})
    assert field in found, found
    assert message in found[field][0]


def test_every_problem_is_reported_at_once():
    found = errors({"block": "orders_count", "orders": 0, "name": "", "starts_on": "x"})
    assert {"orders", "name", "starts_on", "ends_on", "reward_points"} <= set(found)


def test_a_badge_has_a_built_in_icon_and_colour():
    badge = badge_from_dict({"name": "Explorer", "icon": "leaf", "colour": "blue"})
    assert (badge.name, badge.icon, badge.colour) == ("Explorer", "leaf", "blue")
    with pytest.raises(ConfigError) as caught:
        badge_from_dict({"name": "", "icon": "rocket", "colour": "pink"})
    assert set(caught.value.errors) == {"name", "icon", "colour"}


# --- counting -------------------------------------------------------------------------------

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 6, 1, tzinfo=UTC)


def order(day: str, net: str = "10", *, confirmed: bool = True, lines=()) -> CountedOrder:
    return CountedOrder(
        placed_at=datetime.fromisoformat(day).replace(tzinfo=UTC),
        net_amount=D(net),
        confirmed=confirmed,
        lines=tuple(lines),
    )


def value(block: str, params: dict, orders=(), actions=(), zone=UTC_ZONE) -> Decimal:
    return progress_value(
        block=block,
        params=params,
        starts_at=START,
        ends_at=END,
        orders=orders,
        actions=actions,
        zone=zone,
    )


def test_orders_count_counts_the_orders_placed_in_the_dates():
    orders = [
        order("2025-02-28T23:59"),
        order("2025-03-01T00:00"),
        order("2025-04-10"),
        order("2025-06-01"),
    ]
    assert value("orders_count", {"orders": 3}, orders) == 2


def test_amount_spent_adds_the_net_amounts_in_the_dates():
    orders = [
        order("2025-03-02", "40.10"),
        order("2025-05-31T23:00", "9.95"),
        order("2025-06-02", "100"),
    ]
    assert value("amount_spent", {"amount": "100"}, orders) == D("50.05")


def test_distinct_product_types_count_kept_lines_once_each():
    lines_a = [CountedLine(product_type="Coffee"), CountedLine(product_type="coffee ")]
    lines_b = [CountedLine(product_type="Tea"), CountedLine(product_type="Merch", kept=False)]
    orders = [order("2025-03-02", lines=lines_a), order("2025-03-03", lines=lines_b)]
    params = {"dimension": "product_type", "count": 3, "among": []}
    assert value("distinct_categories", params, orders) == 2  # Coffee, Tea (Merch refunded)
    only = {"dimension": "product_type", "count": 1, "among": ["Tea", "Equipment"]}
    assert value("distinct_categories", only, orders) == 1


def test_distinct_collections_match_any_name_of_a_listed_collection():
    lines = [
        CountedLine(collections=("gid://shopify/Collection/450001", "sale", "Sale")),
        CountedLine(collections=("gid://shopify/Collection/450002", "brewing", "Brewing gear")),
        CountedLine(collections=("gid://shopify/Collection/9", "all", "All")),
    ]
    params = {"dimension": "collection", "count": 2, "among": ["450001", "Brewing Gear", "Tea"]}
    assert value("distinct_categories", params, [order("2025-04-01", lines=lines)]) == 2


def test_a_streak_is_the_longest_run_of_calendar_months_in_the_shops_zone():
    orders = [
        order("2025-03-15"),
        # 1 May 02:00 UTC is still 30 April in New York: April has an order there.
        order("2025-05-01T02:00"),
        order("2025-05-20"),
    ]
    assert value("monthly_streak", {"months": 3}, orders, zone=NEW_YORK) == 3
    assert value("monthly_streak", {"months": 3}, orders, zone=UTC_ZONE) == 1  # March, May


def test_actions_count_each_listed_action_once_in_the_dates():
    actions = [
        DoneAction("product_review", datetime(2025, 3, 5, tzinfo=UTC)),
        DoneAction("product_review", datetime(2025, 3, 6, tzinfo=UTC)),
        DoneAction("newsletter", datetime(2025, 2, 1, tzinfo=UTC)),  # before the start
        DoneAction("follow", datetime(2025, 3, 7, tzinfo=UTC)),  # not listed
    ]
    assert value("actions", {"actions": ["product_review", "newsletter"]}, actions=actions) == 1


@pytest.mark.parametrize(
    ("block", "params", "value_", "target", "text"),
    [
        ("orders_count", {}, D(2), D(3), "2 of 3 orders"),
        ("orders_count", {}, D(5), D(1), "1 of 1 order"),
        ("amount_spent", {}, D("60"), D("100"), "Spend 40.00 USD more"),
        ("amount_spent", {}, D("120"), D("100"), "Spent 100.00 USD"),
        ("distinct_categories", {"dimension": "collection"}, D(1), D(2), "1 of 2 collections"),
        ("distinct_categories", {"dimension": "product_type"}, D(0), D(2), "0 of 2 product types"),
        ("monthly_streak", {}, D(2), D(3), "2 of 3 months in a row"),
        ("actions", {}, D(1), D(2), "1 of 2 actions"),
    ],
)
def test_progress_reads_as_the_shopper_expects(block, params, value_, target, text):
    assert (
        progress_text(block=block, params=params, value=value_, target=target, currency="USD")
        == text
    )


def test_percent_is_bounded():
    assert [percent(D(2), D(3)), percent(D(5), D(3)), percent(D(0), D(3))] == [66, 100, 0]
