"""The cash-back calculations, as tables of cases."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty_app.cashback.policies import (
    OrderState,
    cashback_amount,
    credit_split,
    currency_exponent,
    money_text,
    net_merchandise,
    order_cashback_target,
)

D = Decimal


@pytest.mark.parametrize(
    "net, rate, currency, expected",
    [
        ("100.00", "2", "USD", "2.00"),
        ("120.00", "5", "USD", "6.00"),
        ("10.25", "2", "USD", "0.20"),  # 0.205: the half goes to the even cent
        ("10.75", "2", "USD", "0.22"),  # 0.215: the half goes to the even cent
        ("10.26", "2", "USD", "0.21"),  # 0.2052: nearest cent
        ("0.24", "2", "USD", "0.00"),  # under half a cent: nothing
        ("1999", "2.5", "JPY", "50"),  # 49.975: whole yen
        ("1980", "2.5", "JPY", "50"),  # 49.5: the even yen
        ("12.345", "10", "KWD", "1.234"),  # 1.2345: thousandths, the even one
        ("100.00", "0", "USD", "0.00"),
        ("0", "5", "USD", "0.00"),
        ("-5.00", "5", "USD", "0.00"),
    ],
)
def test_cashback_is_the_rate_of_the_net_rounded_half_even_to_the_currency_unit(
    net, rate, currency, expected
):
    amount = cashback_amount(net=D(net), rate=D(rate), currency=currency)

    assert amount == D(expected)
    assert money_text(amount, currency) == expected


@pytest.mark.parametrize(
    "currency, exponent",
    [("USD", 2), ("eur", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("", 2), ("XYZ", 2)],
)
def test_the_minor_unit_follows_iso_4217(currency, exponent):
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    "state, net",
    [
        (OrderState(eligible=D("80"), refunded=D("0"), paid=True), "80"),
        (OrderState(eligible=D("80"), refunded=D("30"), paid=True), "50"),
        (OrderState(eligible=D("80"), refunded=D("95"), paid=True), "0"),
        (OrderState(eligible=D("80"), refunded=D("-5"), paid=True), "80"),
        (OrderState(eligible=D("80"), refunded=D("0"), paid=False), "0"),
        (OrderState(eligible=D("80"), refunded=D("0"), paid=True, cancelled=True), "0"),
        (OrderState(eligible=D("80"), refunded=D("0"), paid=True, fully_refunded=True), "0"),
        (OrderState(eligible=D("80"), refunded=D("0"), paid=True, test=True), "0"),
    ],
)
def test_the_net_merchandise_is_what_a_paid_live_order_kept(state, net):
    assert net_merchandise(state) == D(net)


def test_nothing_is_owed_inside_the_return_window_and_all_of_it_after():
    pending = OrderState(eligible=D("150"), refunded=D("0"), paid=True, confirmed=False)
    confirmed = OrderState(eligible=D("150"), refunded=D("0"), paid=True, confirmed=True)

    assert order_cashback_target(state=pending, rate=D("2"), currency="USD") == D("0")
    assert order_cashback_target(state=confirmed, rate=D("2"), currency="USD") == D("3.00")


def test_refunds_one_by_one_reverse_exactly_what_the_whole_refund_would():
    # given an order of 40 units at 3.33 at 2%, refunded one unit at a time
    credited = order_cashback_target(
        state=OrderState(eligible=D("133.20"), refunded=D("0"), paid=True),
        rate=D("2"),
        currency="USD",
    )
    written = [credited]
    for refunded in range(1, 21):
        target = order_cashback_target(
            state=OrderState(eligible=D("133.20"), refunded=D("3.33") * refunded, paid=True),
            rate=D("2"),
            currency="USD",
        )
        written.append(target - sum(written))

    # then the differences add up to the cash-back of what was kept: no rounding drift
    assert sum(written) == cashback_amount(net=D("66.60"), rate=D("2"), currency="USD")


@pytest.mark.parametrize(
    "amount, debt, repaid, sent",
    [
        ("5.00", "0", "0", "5.00"),
        ("5.00", "2.00", "2.00", "3.00"),
        ("5.00", "5.00", "5.00", "0.00"),
        ("5.00", "9.00", "5.00", "0.00"),
    ],
)
def test_a_credit_repays_the_debt_first_and_sends_the_rest(amount, debt, repaid, sent):
    split = credit_split(amount=D(amount), debt=D(debt))

    assert (split.repaid, split.sent) == (D(repaid), D(sent))


def test_a_credit_is_positive():
    with pytest.raises(ValueError):
        credit_split(amount=D("0"), debt=D("1"))
