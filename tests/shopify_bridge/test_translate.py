"""Shopify payloads -> domain values: Shopify's own samples, money sets, and bad payloads."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from loyalty_app.earning.calculation import eligible_amount, order_points, refunded_amount
from loyalty_app.earning.domain import CustomerRef
from shopify_bridge.devstore.payloads import LineSpec, order_payload, refund_payload
from shopify_bridge.translate import (
    PayloadError,
    customer_from_payload,
    purchase_from_payload,
    refund_from_payload,
)
from tests.conftest import sample

D = Decimal


def points_of(purchase) -> int:
    return order_points(
        eligible=eligible_amount(purchase.lines),
        refunded=refunded_amount(purchase.refunds),
        paid=purchase.paid,
        cancelled=purchase.cancelled,
        fully_refunded=purchase.fully_refunded,
        test=purchase.test,
    )


# --- Shopify's samples -----------------------------------------------------------------


def test_shopifys_test_order_is_a_voided_cancelled_test_order_that_earns_nothing():
    # given Shopify's "send test notification" order
    payload = sample("orders_create.json")

    # when it is translated
    purchase = purchase_from_payload(payload)

    # then every one of its three reasons to earn nothing is seen
    assert purchase.external_id == "820982911946154508"
    assert purchase.test is True
    assert purchase.cancelled is True
    assert purchase.paid is False
    assert purchase.name == "#9999"
    assert purchase.currency == "USD"
    assert purchase.customer == CustomerRef(
        external_id="115310627314723954",
        email="john@test.com",
        first_name="John",
        last_name="Smith",
    )
    assert [(x.line_id, x.amount, x.gift_card) for x in purchase.lines] == [
        ("866550311766439020", D("199.00"), False),
        ("141249953214522974", D("194.00"), False),
    ]
    assert purchase.shipping == D("10.00")
    assert purchase.tax == D("0.00")
    assert purchase.updated_at == datetime(
        2022, 4, 6, 8, 9, 3, tzinfo=timezone(timedelta(hours=-4))
    )
    assert points_of(purchase) == 0


def test_shopifys_test_order_would_earn_its_subtotal_if_it_were_live_and_paid():
    # given the same order, made live and paid (proves the zero above comes from its flags)
    payload = sample("orders_create.json")
    payload.update(test=False, financial_status="paid", cancelled_at=None)

    purchase = purchase_from_payload(payload)

    # then 199 + (199 - 5) = 393, shipping excluded
    assert points_of(purchase) == 393


def test_shopifys_refund_sample_reads_amounts_sent_as_json_numbers():
    # given the 2017 refunds/create body, where subtotal is the number 35, not "35.00"
    payload = sample("refunds_create.json")
    assert payload["refund_line_items"][0]["subtotal"] == 35

    refund = refund_from_payload(payload)

    assert refund.external_id == "4169236486"
    assert refund.order_external_id == "9161736198"
    assert len(refund.lines) == 1
    assert refund.lines[0].line_id == "17308254214"
    assert refund.lines[0].amount == D("35")
    assert refund.lines[0].quantity == 1
    assert refund.lines[0].gift_card is False
    # Lines were given, so the transaction is not counted a second time.
    assert refund.extra_amount == D("0")
    assert refunded_amount([refund]) == D("35")


def test_shopifys_customer_sample_becomes_a_customer_ref():
    customer = customer_from_payload(sample("customers_create.json"))

    assert customer == CustomerRef(
        external_id="5927087964342", email="tes3@aaa.com", first_name="", last_name=""
    )


# --- money ------------------------------------------------------------------------------


def test_points_are_computed_on_shop_money_not_presentment_money():
    # given a USD shop and an order the shopper paid in EUR at 0.92 EUR per USD
    payload = order_payload(
        order_id=5001,
        customer_id=77,
        currency="USD",
        presentment_currency="EUR",
        rate=D("0.92"),
        lines=[LineSpec(price=D("50.00"), quantity=2, discount=D("10.00"))],
        shipping=D("7.00"),
        tax_rate=D("0.1"),
    )
    line = payload["line_items"][0]
    assert line["price_set"]["presentment_money"] == {"amount": "46.00", "currency_code": "EUR"}
    # A legacy top-level price in presentment money must lose against shop money.
    line["price"] = "46.00"

    purchase = purchase_from_payload(payload)

    assert purchase.currency == "USD"
    assert purchase.lines[0].amount == D("90.00")
    assert purchase.shipping == D("7.00")
    assert purchase.tax == D("9.00")
    assert points_of(purchase) == 90


def test_a_refund_in_another_presentment_currency_counts_shop_money():
    spec = LineSpec(price=D("50.00"), quantity=2)
    payload = refund_payload(
        refund_id=9,
        order_id=5001,
        lines=[(500101, spec, 1)],
        currency="USD",
        presentment_currency="EUR",
        rate=D("0.92"),
    )
    payload["refund_line_items"][0]["subtotal"] = 46.0  # presentment, in an old field

    refund = refund_from_payload(payload)

    assert refund.lines[0].amount == D("50.00")


def test_a_line_without_a_price_set_falls_back_to_its_price():
    payload = order_payload(order_id=1, lines=[LineSpec(price=D("12.50"), quantity=2)])
    del payload["line_items"][0]["price_set"]

    purchase = purchase_from_payload(payload)

    assert purchase.lines[0].amount == D("25.00")


def test_discount_allocations_are_preferred_over_total_discount():
    # given a line whose order-level discount is only in its allocations (total_discount 0)
    payload = order_payload(
        order_id=1, lines=[LineSpec(price=D("40.00"), quantity=1, discount=D("6.00"))]
    )
    item = payload["line_items"][0]
    item["total_discount"] = "0.00"
    item["total_discount_set"]["shop_money"]["amount"] = "0.00"

    purchase = purchase_from_payload(payload)

    assert purchase.lines[0].amount == D("34.00")


def test_several_discount_allocations_on_one_line_add_up():
    payload = order_payload(
        order_id=1, lines=[LineSpec(price=D("40.00"), quantity=1, discount=D("6.00"))]
    )
    item = payload["line_items"][0]
    second = copy.deepcopy(item["discount_allocations"][0])
    second["amount_set"]["shop_money"]["amount"] = "4.00"
    item["discount_allocations"].append(second)

    purchase = purchase_from_payload(payload)

    assert purchase.lines[0].amount == D("30.00")


def test_total_discount_is_used_when_a_line_has_no_allocations_field():
    payload = order_payload(
        order_id=1, lines=[LineSpec(price=D("40.00"), quantity=2, discount=D("8.00"))]
    )
    del payload["line_items"][0]["discount_allocations"]

    purchase = purchase_from_payload(payload)

    assert purchase.lines[0].amount == D("72.00")


def test_a_discount_larger_than_its_line_makes_the_line_worth_zero_not_negative():
    payload = order_payload(
        order_id=1, lines=[LineSpec(price=D("10.00"), quantity=1, discount=D("15.00"))]
    )

    purchase = purchase_from_payload(payload)

    assert purchase.lines[0].amount == D("0")


def test_gift_card_lines_are_marked_and_earn_nothing():
    payload = order_payload(
        order_id=1,
        customer_id=5,
        lines=[LineSpec(price=D("30.00")), LineSpec(price=D("25.00"), gift_card=True)],
    )

    purchase = purchase_from_payload(payload)

    assert [x.gift_card for x in purchase.lines] == [False, True]
    assert points_of(purchase) == 30


@pytest.mark.parametrize(
    ("status", "paid", "fully_refunded"),
    [
        ("pending", False, False),
        ("authorized", False, False),
        ("partially_paid", False, False),
        ("paid", True, False),
        ("partially_refunded", True, False),
        ("refunded", True, True),
        ("voided", False, False),
        (None, False, False),
    ],
)
def test_the_financial_status_decides_paid_and_fully_refunded(status, paid, fully_refunded):
    payload = order_payload(order_id=1, lines=[LineSpec(price=D("10"))], financial_status="paid")
    payload["financial_status"] = status

    purchase = purchase_from_payload(payload)

    assert (purchase.paid, purchase.fully_refunded) == (paid, fully_refunded)


def test_refunds_inside_an_order_belong_to_that_order():
    spec = LineSpec(price=D("20.00"), quantity=2)
    refund = refund_payload(refund_id=31, order_id=999, lines=[(101, spec, 1)])
    payload = order_payload(order_id=4242, lines=[spec], refunds=[refund])

    purchase = purchase_from_payload(payload)

    assert len(purchase.refunds) == 1
    assert purchase.refunds[0].external_id == "31"
    assert purchase.refunds[0].order_external_id == "4242"
    assert purchase.refunds[0].lines[0].amount == D("20.00")


def test_an_amount_only_refund_counts_the_refund_transactions_less_shipping():
    payload = refund_payload(refund_id=5, order_id=1, lines=[], amount_only=D("30.00"))
    payload["transactions"].append(
        {"amount": "99.00", "kind": "refund", "status": "failure"}  # did not go through
    )
    payload["order_adjustments"] = [
        {"kind": "shipping_refund", "amount": "-5.00", "tax_amount": "-0.50"}
    ]

    refund = refund_from_payload(payload)

    assert refund.lines == ()
    assert refund.extra_amount == D("24.50")


def test_a_guest_checkout_has_no_customer():
    payload = order_payload(order_id=1, lines=[LineSpec(price=D("10"))])
    assert payload["customer"] is None

    assert purchase_from_payload(payload).customer is None


def test_a_customer_email_without_an_at_sign_is_dropped():
    customer = customer_from_payload({"id": 5, "email": "not-an-email"})

    assert customer == CustomerRef(external_id="5")


def test_string_ids_are_accepted():
    customer = customer_from_payload({"id": " 12345 "})

    assert customer.external_id == "12345"


def test_times_keep_their_zone():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    payload = order_payload(order_id=1, lines=[LineSpec(price=D("10"))], updated_at=when)
    payload["updated_at"] = "2026-01-02T03:04:05Z"

    assert purchase_from_payload(payload).updated_at == when


# --- payloads that cannot be understood ----------------------------------------------------


def valid_order() -> dict:
    return order_payload(
        order_id=1001, customer_id=7, lines=[LineSpec(price=D("10.00"), quantity=2)]
    )


def with_change(path: tuple, value):
    payload = valid_order()
    target = payload
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (["not", "an", "object"], "order must be a JSON object"),
        (with_change(("id",), KeyError), "id is missing"),
        (with_change(("id",), None), "id is missing"),
        (with_change(("id",), True), "id is missing"),
        (with_change(("id",), "abc"), "id must be a positive integer, got 'abc'"),
        (with_change(("id",), 1.5), "id must be a positive integer, got 1.5"),
        (with_change(("id",), -3), "id must be a positive integer, got -3"),
        (with_change(("id",), 0), "id must be a positive integer"),
        (with_change(("id",), 10**70), "id must be a positive integer, got 1000"),
        (with_change(("line_items",), "socks"), "line_items must be a JSON array"),
        (with_change(("line_items",), {"id": 1}), "line_items must be a JSON array"),
        (with_change(("line_items", 0), "socks"), "line_items[0] must be a JSON object"),
        (with_change(("line_items", 0, "id"), KeyError), "line_items[0].id is missing"),
        (
            with_change(("line_items", 0, "price_set", "shop_money", "amount"), "ten"),
            "line_items[0].price_set.shop_money.amount is not a decimal amount: 'ten'",
        ),
        (
            with_change(("line_items", 0, "price_set", "shop_money", "amount"), {"x": 1}),
            "line_items[0].price_set.shop_money.amount must be a decimal amount",
        ),
        (
            with_change(("line_items", 0, "price_set", "shop_money", "amount"), True),
            "line_items[0].price_set.shop_money.amount must be a decimal amount",
        ),
        (
            with_change(("line_items", 0, "price_set", "shop_money", "amount"), "-10.00"),
            "line_items[0].price is negative",
        ),
        (
            with_change(("line_items", 0, "price_set", "shop_money", "amount"), "1e20"),
            "line_items[0].price_set.shop_money.amount is out of range: '1e20'",
        ),
        (
            with_change(("line_items", 0, "price_set", "shop_money", "amount"), "NaN"),
            "line_items[0].price_set.shop_money.amount is out of range: 'NaN'",
        ),
        (
            with_change(("line_items", 0, "price_set", "shop_money", "amount"), "Infinity"),
            "line_items[0].price_set.shop_money.amount is out of range: 'Infinity'",
        ),
        (with_change(("line_items", 0, "quantity"), "2"), "line_items[0].quantity must be an"),
        (with_change(("line_items", 0, "quantity"), -1), "line_items[0].quantity is out of range"),
        (
            with_change(("line_items", 0, "quantity"), 10**12),
            "line_items[0].quantity is out of range",
        ),
        (
            with_change(("line_items", 0, "discount_allocations"), ["x"]),
            "line_items[0].discount_allocations[] must be a JSON object",
        ),
        (with_change(("customer",), "ada"), "customer must be a JSON object"),
        (with_change(("customer", "id"), KeyError), "customer.id is missing"),
        (with_change(("refunds",), "all"), "refunds must be a JSON array"),
        (with_change(("updated_at",), 12345), "updated_at must be an ISO 8601 timestamp"),
        (
            with_change(("updated_at",), "yesterday"),
            "updated_at is not an ISO 8601 timestamp: 'yesterday'",
        ),
        (with_change(("updated_at",), "2026-01-02T03:04:05"), "updated_at has no time zone"),
    ],
)
def test_a_malformed_order_raises_a_readable_payload_error(payload, message):
    with pytest.raises(PayloadError) as error:
        purchase_from_payload(payload)

    assert str(error.value).startswith(message)


def test_a_line_total_beyond_any_real_order_is_a_payload_error():
    # given a price and a quantity that are each in range but multiply past the amounts the
    # ledger can hold
    payload = with_change(("line_items", 0, "quantity"), 999_999_999)
    payload["line_items"][0]["price_set"]["shop_money"]["amount"] = "999999999999.00"

    with pytest.raises(PayloadError, match=r"line_items\[0\] amount is out of range"):
        purchase_from_payload(payload)


def test_an_order_total_beyond_any_real_order_is_a_payload_error():
    payload = order_payload(
        order_id=1, lines=[LineSpec(price=D("999999999999.00")) for _ in range(3)]
    )

    with pytest.raises(PayloadError, match="line_items total is out of range"):
        purchase_from_payload(payload)


def test_a_refund_total_beyond_any_real_order_is_a_payload_error():
    payload = sample("refunds_create.json")
    payload["refund_line_items"] = [
        {"line_item_id": i, "subtotal": "999999999999.00"} for i in range(1, 4)
    ]

    with pytest.raises(PayloadError, match="refund total is out of range"):
        refund_from_payload(payload)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "refund.id is missing"),
        ({"order_id": "x1"}, "order_id must be a positive integer"),
        ({"refund_line_items": {}}, "refund_line_items must be a JSON array"),
        ({"refund_line_items": [7]}, "refund_line_items[0] must be a JSON object"),
        (
            {"refund_line_items": [{"line_item_id": 1, "subtotal": -35}]},
            "refund_line_items[0].subtotal is negative",
        ),
        (
            {"refund_line_items": [{"line_item_id": 1, "subtotal": "lots"}]},
            "refund_line_items[0].subtotal is not a decimal amount",
        ),
        ({"refund_line_items": [], "transactions": "x"}, "transactions must be a JSON array"),
        (
            {"refund_line_items": [], "order_adjustments": [None]},
            "order_adjustments[0] must be a JSON object",
        ),
    ],
)
def test_a_malformed_refund_raises_a_readable_payload_error(change, message):
    payload = sample("refunds_create.json")
    payload.update(change)

    with pytest.raises(PayloadError) as error:
        refund_from_payload(payload)

    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("ada", "customer must be a JSON object"),
        ({}, "customer.id is missing"),
        ({"id": "12a"}, "customer.id must be a positive integer"),
    ],
)
def test_a_malformed_customer_raises_a_readable_payload_error(payload, message):
    with pytest.raises(PayloadError) as error:
        customer_from_payload(payload)

    assert str(error.value).startswith(message)
