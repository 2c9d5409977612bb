"""The pure expiry rule: first in, first out per earning, or the whole balance after inactivity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_app.earning.policies import (
    ExpiryPolicy,
    PointsMove,
    add_months,
    add_months_to_date,
    birthday_in_year,
    last_activity,
    next_expiry,
    points_expiring,
    unspent_lots,
)

PER_EARNING = ExpiryPolicy(mode="per_earning", months=12, reminder_days=30)
INACTIVITY = ExpiryPolicy(mode="inactivity", months=6, reminder_days=14)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def credit(points: int, when: datetime, kind: str = "adjustment") -> PointsMove:
    return PointsMove(points=points, at=when, kind=kind)


def order(points: int, when: datetime, order_id: str) -> PointsMove:
    return PointsMove(points=points, at=when, kind="order", source=f"order:{order_id}")


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 3, 15), 12, date(2026, 3, 15)),
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
        (date(2025, 3, 31), -1, date(2025, 2, 28)),
        (date(2025, 1, 10), -13, date(2023, 12, 10)),
    ],
)
def test_months_are_calendar_months_and_a_long_month_end_becomes_the_shorter_months_last_day(
    start, months, expected
):
    assert add_months_to_date(start, months) == expected


def test_a_29_february_birthday_falls_on_28_february_in_other_years():
    assert birthday_in_year(2, 29, 2025) == date(2025, 2, 28)
    assert birthday_in_year(2, 29, 2028) == date(2028, 2, 29)


def test_expiry_is_off_by_default():
    moves = [credit(100, at(2020, 1, 1))]
    assert points_expiring(moves, ExpiryPolicy(), at=at(2026, 1, 1), balance=100) == (0, None)


def test_each_earning_expires_twelve_months_after_it_was_credited_less_what_was_spent_first():
    # Given 100 points in January, 30 spent in March, 50 more in June
    moves = [
        credit(100, at(2025, 1, 10)),
        credit(-30, at(2025, 3, 1), kind="redemption"),
        credit(50, at(2025, 6, 10)),
    ]
    # Then in February 2026 the 70 left of January's earning expire, not June's
    assert points_expiring(moves, PER_EARNING, at=at(2026, 2, 1), balance=120) == (
        70,
        at(2026, 1, 10),
    )
    # And once written off, nothing more is due until June's earning is a year old
    moves.append(PointsMove(points=-70, at=at(2026, 2, 1), kind="expiry"))
    assert points_expiring(moves, PER_EARNING, at=at(2026, 2, 2), balance=50) == (0, None)
    assert points_expiring(moves, PER_EARNING, at=at(2026, 6, 11), balance=50) == (
        50,
        at(2026, 6, 10),
    )


def test_a_refund_cancels_its_own_orders_points_not_older_ones():
    # Given an old order's 100 points and a newer order of 40 later refunded in full
    moves = [
        order(100, at(2025, 1, 10), "1"),
        order(40, at(2025, 8, 1), "2"),
        order(-40, at(2025, 8, 20), "2"),
    ]
    # Then all 100 of the old order expire (the refund took back order 2, not order 1)
    assert points_expiring(moves, PER_EARNING, at=at(2026, 1, 11), balance=100)[0] == 100


def test_the_next_expiry_says_how_many_points_go_and_when():
    moves = [credit(100, at(2025, 1, 10)), credit(50, at(2025, 6, 10))]
    assert next_expiry(moves, PER_EARNING, at=at(2025, 12, 20), balance=150) == (
        100,
        at(2026, 1, 10),
    )


def test_the_whole_balance_expires_after_months_without_activity():
    moves = [credit(80, at(2025, 1, 10)), credit(-20, at(2025, 2, 10), kind="redemption")]
    assert last_activity(moves) == at(2025, 2, 10)
    assert points_expiring(moves, INACTIVITY, at=at(2025, 8, 9), balance=60) == (0, None)
    assert points_expiring(moves, INACTIVITY, at=at(2025, 8, 10), balance=60) == (
        60,
        at(2025, 8, 10),
    )


def test_a_refund_or_an_expiry_is_not_activity():
    moves = [
        order(80, at(2025, 1, 10), "1"),
        order(-10, at(2025, 5, 1), "1"),
        PointsMove(points=-5, at=at(2025, 6, 1), kind="expiry"),
    ]
    assert last_activity(moves) == at(2025, 1, 10)
    assert next_expiry(moves, INACTIVITY, at=at(2025, 6, 2), balance=65) == (65, at(2025, 7, 10))


moves_strategy = st.lists(
    st.tuples(
        st.integers(min_value=-500, max_value=1000).filter(bool),
        st.integers(min_value=0, max_value=900),
        st.sampled_from(["order", "adjustment", "redemption", "action"]),
        st.integers(min_value=1, max_value=5),
    ),
    max_size=25,
)


def to_moves(raw) -> list[PointsMove]:
    start = at(2024, 1, 1)
    return [
        PointsMove(
            points=points,
            at=start + timedelta(days=day),
            kind=kind,
            source=f"order:{source}" if kind == "order" else "",
        )
        for points, day, kind, source in raw
    ]


@settings(max_examples=300, deadline=None)
@given(moves_strategy, st.integers(min_value=0, max_value=1200), st.sampled_from([1, 6, 12]))
def test_expiring_never_exceeds_the_balance_and_applying_it_leaves_nothing_due(raw, day, months):
    moves = to_moves(raw)
    balance = sum(m.points for m in moves)
    when = at(2024, 1, 1) + timedelta(days=day)
    for policy in (ExpiryPolicy("per_earning", months), ExpiryPolicy("inactivity", months)):
        points, _ = points_expiring(moves, policy, at=when, balance=balance)
        assert 0 <= points <= max(balance, 0)
        if points:
            after = [*moves, PointsMove(points=-points, at=when, kind="expiry")]
            assert points_expiring(after, policy, at=when, balance=balance - points)[0] == 0


@settings(max_examples=300, deadline=None)
@given(moves_strategy, st.sampled_from([1, 6, 12]))
def test_unspent_lots_never_hold_more_than_was_earned(raw, months):
    moves = to_moves(raw)
    lots = unspent_lots(moves, months)
    earned = sum(m.points for m in moves if m.points > 0)
    assert sum(lot.points for lot in lots) <= earned
    assert all(lot.points > 0 for lot in lots)
    assert all(lot.expires_at == add_months(lot.earned_at, months) for lot in lots)
