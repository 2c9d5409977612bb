"""The pure points calculation: tables of cases, then properties that hold for any order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_app.earning.calculation import (
    EarnRule,
    eligible_amount,
    order_points,
    refunded_amount,
)
from loyalty_app.earning.domain import PurchaseLine, Refund, RefundLine

D = Decimal


def line(amount: str, *, gift_card: bool = False, line_id: str = "1") -> PurchaseLine:
    return PurchaseLine(line_id=line_id, amount=D(amount), gift_card=gift_card)


def refund(*amounts: str, gift_card: bool = False, extra: str = "0") -> Refund:
    return Refund(
        external_id="r1",
        order_external_id="o1",
        lines=tuple(
            RefundLine(line_id=str(i), amount=D(a), gift_card=gift_card)
            for i, a in enumerate(amounts)
        ),
        extra_amount=D(extra),
    )


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], D("0")),
        ([line("10.00"), line("5.50")], D("15.50")),
        ([line("10.00"), line("25.00", gift_card=True)], D("10.00")),
        ([line("25.00", gift_card=True)], D("0")),
    ],
    ids=["no lines", "all lines", "gift card excluded", "only a gift card"],
)
def test_the_eligible_amount_is_merchandise_without_gift_cards(lines, expected):
    # given lines of an order / when summed / then gift-card lines are left out
    assert eligible_amount(lines) == expected


@pytest.mark.parametrize(
    ("refunds", "expected"),
    [
        ([], D("0")),
        ([refund("10.00", "2.50")], D("12.50")),
        ([refund("10.00"), refund("3.00")], D("13.00")),
        ([refund("25.00", gift_card=True)], D("0")),
        ([refund(extra="7.25")], D("7.25")),
        ([refund("4.00", extra="1.00")], D("5.00")),
    ],
    ids=["none", "two lines", "two refunds", "gift card line", "amount only", "lines and amount"],
)
def test_the_refunded_amount_counts_merchandise_only(refunds, expected):
    assert refunded_amount(refunds) == expected


@pytest.mark.parametrize(
    ("kwargs", "points"),
    [
        ({"eligible": D("100.00"), "refunded": D("0"), "paid": True}, 100),
        ({"eligible": D("99.99"), "refunded": D("0"), "paid": True}, 99),
        ({"eligible": D("0.99"), "refunded": D("0"), "paid": True}, 0),
        ({"eligible": D("43.20"), "refunded": D("0"), "paid": True}, 43),
        ({"eligible": D("100.00"), "refunded": D("30.50"), "paid": True}, 69),
        ({"eligible": D("100.00"), "refunded": D("100.00"), "paid": True}, 0),
        ({"eligible": D("100.00"), "refunded": D("250.00"), "paid": True}, 0),
        ({"eligible": D("100.00"), "refunded": D("-20.00"), "paid": True}, 100),
        ({"eligible": D("100.00"), "refunded": D("0"), "paid": False}, 0),
        ({"eligible": D("100.00"), "refunded": D("0"), "paid": True, "cancelled": True}, 0),
        ({"eligible": D("100.00"), "refunded": D("0"), "paid": True, "test": True}, 0),
        (
            {"eligible": D("100.00"), "refunded": D("10"), "paid": True, "fully_refunded": True},
            0,
        ),
        ({"eligible": D("-5.00"), "refunded": D("0"), "paid": True}, 0),
        (
            {
                "eligible": D("10.00"),
                "refunded": D("0"),
                "paid": True,
                "rule": EarnRule(points_per_unit=D("1.5")),
            },
            15,
        ),
        (
            {
                "eligible": D("10.99"),
                "refunded": D("0"),
                "paid": True,
                "rule": EarnRule(points_per_unit=D("2")),
            },
            21,
        ),
    ],
    ids=[
        "whole amount",
        "rounds down 99.99",
        "less than one unit",
        "rounds down 43.20",
        "partial refund rounds down",
        "refund of everything",
        "refund larger than the order is never negative",
        "a negative refund never adds points",
        "unpaid",
        "cancelled",
        "test order",
        "fully refunded",
        "negative eligible amount",
        "another rate",
        "rate applied before rounding",
    ],
)
def test_an_orders_points(kwargs, points):
    assert order_points(**kwargs) == points


def test_points_are_an_int_not_a_decimal():
    result = order_points(eligible=D("12.34"), refunded=D("0"), paid=True)
    assert type(result) is int
    assert result == 12


# --- properties -------------------------------------------------------------------

amounts = st.decimals(min_value=D("0"), max_value=D("100000"), places=2)
lines_strategy = st.lists(
    st.builds(
        PurchaseLine,
        line_id=st.text(alphabet="0123456789", min_size=1, max_size=6),
        amount=amounts,
        gift_card=st.booleans(),
    ),
    max_size=8,
)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@PROPERTY_SETTINGS
@given(lines=lines_strategy)
def test_refunding_every_line_leaves_zero_points(lines):
    # given any paid order / when every line is refunded in full / then it is worth nothing
    everything = Refund(
        external_id="r",
        order_external_id="o",
        lines=tuple(
            RefundLine(line_id=x.line_id, amount=x.amount, gift_card=x.gift_card) for x in lines
        ),
    )
    points = order_points(
        eligible=eligible_amount(lines), refunded=refunded_amount([everything]), paid=True
    )
    assert points == 0


@PROPERTY_SETTINGS
@given(
    eligible=st.decimals(min_value=D("-1000"), max_value=D("1000000"), places=4),
    refunded=st.decimals(min_value=D("-1000"), max_value=D("2000000"), places=4),
    paid=st.booleans(),
    cancelled=st.booleans(),
    fully_refunded=st.booleans(),
    test=st.booleans(),
)
def test_points_are_never_negative(eligible, refunded, paid, cancelled, fully_refunded, test):
    points = order_points(
        eligible=eligible,
        refunded=refunded,
        paid=paid,
        cancelled=cancelled,
        fully_refunded=fully_refunded,
        test=test,
    )
    assert points >= 0
    assert points <= max(0, int(eligible // 1))


@PROPERTY_SETTINGS
@given(lines=lines_strategy, data=st.data())
def test_splitting_an_order_in_two_never_earns_more_than_the_whole(lines, data):
    # given an order / when its lines are split between two orders / then the two earn at most
    # what the one would have
    in_first = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    first = [x for x, keep in zip(lines, in_first, strict=True) if keep]
    second = [x for x, keep in zip(lines, in_first, strict=True) if not keep]

    def points(part: list[PurchaseLine]) -> int:
        return order_points(eligible=eligible_amount(part), refunded=D("0"), paid=True)

    assert points(first) + points(second) <= points(lines)


@PROPERTY_SETTINGS
@given(eligible=amounts, first=amounts, second=amounts)
def test_a_further_refund_never_adds_points(eligible, first, second):
    before = order_points(eligible=eligible, refunded=first, paid=True)
    after = order_points(eligible=eligible, refunded=first + second, paid=True)
    assert after <= before
