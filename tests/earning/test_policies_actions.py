"""The pure parts of actions: limit periods in the shop's time zone, parsing the config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from loyalty_app.earning.policies import (
    ActionLimit,
    ActionRule,
    RulesError,
    action_from_dict,
    program_from_dict,
)

NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
SANTIAGO = ZoneInfo("America/Santiago")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- ActionLimit.window -------------------------------------------------------------


def test_a_lifetime_limit_has_no_window():
    assert ActionLimit(1, "lifetime").window(utc(2025, 5, 17, 12), NEW_YORK) == (None, None)


@pytest.mark.parametrize(
    ("period", "at", "start", "end"),
    [
        # 17 May 2025 12:00 UTC is 08:00 in New York (UTC-4 in May), a Saturday.
        ("day", utc(2025, 5, 17, 12), utc(2025, 5, 17, 4), utc(2025, 5, 18, 4)),
        ("week", utc(2025, 5, 17, 12), utc(2025, 5, 12, 4), utc(2025, 5, 19, 4)),
        ("month", utc(2025, 5, 17, 12), utc(2025, 5, 1, 4), utc(2025, 6, 1, 4)),
        # The year starts and ends in winter time (UTC-5).
        ("year", utc(2025, 5, 17, 12), utc(2025, 1, 1, 5), utc(2026, 1, 1, 5)),
    ],
)
def test_each_period_is_a_calendar_period_in_the_shops_time_zone(period, at, start, end):
    assert ActionLimit(1, period).window(at, NEW_YORK) == (start, end)


def test_the_window_bounds_are_utc_instants():
    start, end = ActionLimit(1, "day").window(utc(2025, 5, 17, 12), NEW_YORK)

    assert start is not None and end is not None
    assert start.tzinfo is UTC and end.tzinfo is UTC


def test_the_day_the_clocks_go_forward_lasts_23_hours():
    # Given 10 March 2024 in New York (02:00 becomes 03:00)
    at = utc(2024, 3, 10, 12)

    # When
    start, end = ActionLimit(1, "day").window(at, NEW_YORK)

    # Then
    assert (start, end) == (utc(2024, 3, 10, 5), utc(2024, 3, 11, 4))
    assert end - start == timedelta(hours=23)


def test_the_day_the_clocks_go_back_lasts_25_hours():
    start, end = ActionLimit(1, "day").window(utc(2024, 11, 3, 12), NEW_YORK)

    assert end - start == timedelta(hours=25)


def test_a_week_across_a_clock_change_is_one_hour_short():
    start, end = ActionLimit(1, "week").window(utc(2024, 3, 10, 12), NEW_YORK)

    assert (start, end) == (utc(2024, 3, 4, 5), utc(2024, 3, 11, 4))
    assert end - start == timedelta(days=7) - timedelta(hours=1)


def test_a_midnight_the_clocks_skip_starts_the_day_at_the_change():
    # Given Santiago on 8 September 2024: midnight does not exist (00:00 -> 01:00)
    at = utc(2024, 9, 8, 12)

    # When
    start, end = ActionLimit(1, "day").window(at, SANTIAGO)

    # Then the day starts at the change (01:00 local, UTC-3) and lasts 23 hours
    assert start == utc(2024, 9, 8, 4)
    assert start.astimezone(SANTIAGO).hour == 1
    assert end == utc(2024, 9, 9, 3)


def test_the_local_new_year_comes_before_the_utc_one_east_of_greenwich():
    # Given 31 December 2024 16:00 UTC, already 1 January 2025 01:00 in Tokyo
    at = utc(2024, 12, 31, 16)

    # Then the year, month and day windows are those of 2025 in Tokyo
    assert ActionLimit(1, "year").window(at, TOKYO) == (
        utc(2024, 12, 31, 15),
        utc(2025, 12, 31, 15),
    )
    assert ActionLimit(1, "month").window(at, TOKYO) == (
        utc(2024, 12, 31, 15),
        utc(2025, 1, 31, 15),
    )
    assert ActionLimit(1, "day").window(at, TOKYO)[0] == utc(2024, 12, 31, 15)


def test_the_local_new_year_comes_after_the_utc_one_west_of_greenwich():
    # Given 1 January 2025 03:00 UTC, still 31 December 2024 22:00 in New York
    start, end = ActionLimit(1, "year").window(utc(2025, 1, 1, 3), NEW_YORK)

    assert (start, end) == (utc(2024, 1, 1, 5), utc(2025, 1, 1, 5))


def test_a_week_starts_on_monday_even_across_the_new_year():
    # Wednesday 1 January 2025: the week began on Monday 30 December 2024
    start, end = ActionLimit(1, "week").window(utc(2025, 1, 1, 12), ZoneInfo("UTC"))

    assert (start, end) == (utc(2024, 12, 30), utc(2025, 1, 6))


def test_the_instant_of_local_midnight_belongs_to_the_new_period():
    start, _ = ActionLimit(1, "day").window(utc(2025, 5, 17, 4), NEW_YORK)

    assert start == utc(2025, 5, 17, 4)


def test_february_of_a_leap_year_ends_on_the_29th():
    start, end = ActionLimit(1, "month").window(utc(2024, 2, 29, 12), ZoneInfo("UTC"))

    assert (start, end) == (utc(2024, 2, 1), utc(2024, 3, 1))


# --- action_from_dict ---------------------------------------------------------------


def test_a_builtin_action_without_a_limit_gets_its_default_limit():
    review = action_from_dict({"key": "product_review", "points": 50})
    birthday = action_from_dict({"key": "birthday", "points": 100})

    assert review.limit == ActionLimit(1, "lifetime", per_target=True)
    assert birthday.limit == ActionLimit(1, "year")


def test_a_custom_action_without_a_limit_is_once():
    action = action_from_dict({"key": "store_event", "points": 20, "name": "Came to the store"})

    assert action.limit == ActionLimit(1, "lifetime")
    assert action.label == "Came to the store"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"points": 10}, "key", "is required"),
        ({"key": ["signup"], "points": 10}, "key", "must be text"),
        ({"key": "Store Event", "points": 10}, "key", "must be 1-64 lower-case letters"),
        ({"key": "signup"}, "points", "is required"),
        ({"key": "signup", "points": 0}, "points", "must be at least 1"),
        ({"key": "signup", "points": 2.5}, "points", "must be a whole number"),
        ({"key": "signup", "points": True}, "points", "must be a whole number"),
        ({"key": "signup", "points": 10, "color": "red"}, "color", "unknown field"),
        ({"key": "x", "points": 10, "limit": "daily"}, "limit", "must be an object"),
        ({"key": "x", "points": 10, "limit": {"count": 0}}, "limit.count", "must be at least 1"),
        ({"key": "x", "points": 10, "limit": {"period": "hour"}}, "limit.period", "must be one of"),
        ({"key": "x", "points": 10, "limit": {"per_target": "yes"}}, "limit.per_target", "true"),
        ({"key": "x", "points": 10, "limit": {"n": 1}}, "limit.n", "unknown field"),
        ({"key": "x", "points": 10, "name": 5}, "name", "must be text"),
        ({"key": "x", "points": 10, "enabled": "no"}, "enabled", "must be true or false"),
        (
            {"key": "birthday", "points": 10, "limit": {"per_target": True}},
            "limit.per_target",
            "'birthday' has no target",
        ),
    ],
)
def test_a_bad_action_is_refused_with_the_field_named(data, field, message):
    with pytest.raises(RulesError) as error:
        action_from_dict(data)

    assert error.value.field == field
    assert message in error.value.message


def test_a_bad_action_in_a_program_is_named_by_its_position():
    with pytest.raises(RulesError) as error:
        program_from_dict({"actions": [{"key": "signup", "points": 10}, {"key": "signup"}]})

    assert error.value.field == "actions[1].points"


def test_the_same_action_twice_in_a_program_is_refused():
    with pytest.raises(RulesError) as error:
        program_from_dict(
            {"actions": [{"key": "signup", "points": 10}, {"key": "signup", "points": 20}]}
        )

    assert error.value.field == "actions[1].key"


def test_a_disabled_action_is_not_found_in_the_program():
    program = program_from_dict({"actions": [{"key": "newsletter", "points": 5, "enabled": False}]})

    assert program.action("newsletter") is None


# --- reasons ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "target", "reason"),
    [
        (ActionRule("product_review", 50), "sku-1", "Wrote a product review (sku-1)"),
        (ActionRule("signup", 50), "", "Joined the program"),
        (ActionRule("store_event", 5), "", "Store event"),
        (
            ActionRule("store_event", 5, name="attended the store event"),
            "",
            "Attended the store event",
        ),
    ],
)
def test_a_ledger_reason_says_what_the_customer_did(rule, target, reason):
    assert rule.reason(target) == reason
