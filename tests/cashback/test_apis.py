"""The merchant API's cash-back routes: a customer's account and the shop's summary."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client

from loyalty_app.earning.services import orders_confirm_due
from shopify_bridge.admin_api import admin_graphql
from shopify_bridge.cashback_delivery import DEBIT
from shopify_bridge.devstore.payloads import customer_payload

from .conftest import PENDING_DAYS, hold_tier, line

pytestmark = pytest.mark.django_db(transaction=True)


def confirm(clock) -> None:
    clock.advance(days=PENDING_DAYS, hours=1)
    orders_confirm_due()


@pytest.fixture
def history(store, clock):
    """Customer 7001 (no tier) earned 2.40 and had 0.80 reversed after spending it all;
    customer 7002 (Gold) earned 10.00."""
    kept = line("40.00", 3)
    order = store.order(1001, [kept], customer_id=7001)
    store.post("customers/create", customer_payload(customer_id=7002, email="g@example.com"))
    hold_tier(store.shop, 7002, "Gold")
    store.order(1002, [line("200.00")], customer_id=7002)
    confirm(clock)
    admin_graphql(
        shop=store.shop,
        query=DEBIT,
        variables={
            "id": "gid://shopify/Customer/7001",
            "debitInput": {"debitAmount": {"amount": "2.40", "currencyCode": "USD"}},
        },
    )
    store.refund(9001, order, 0, kept, 1)
    return store


def test_a_customers_cash_back_shows_totals_debt_and_entries_with_their_delivery(history, api):
    # when the merchant reads the customer's cash-back
    response = api.get("/api/v1/customers/7001/cashback")

    # then the totals, the debt left by the reversal and each entry are there, newest first
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("customer_id", "currency", "credited", "reversed", "net")} == {
        "customer_id": "7001",
        "currency": "USD",
        "credited": "2.40",
        "reversed": "0.80",
        "net": "1.60",
    }
    assert body["outstanding_debt"] == "0.80"
    assert body["deliveries_failed"] == 0
    reversal, credit = body["entries"]
    assert (reversal["kind"], reversal["amount"], reversal["order_id"]) == (
        "reversal",
        "-0.80",
        "1001",
    )
    assert reversal["delivery"]["status"] == "debt"
    assert reversal["delivery"]["outstanding"] == "0.80"
    assert (credit["kind"], credit["amount"], credit["rate"], credit["tier"]) == (
        "credit",
        "2.40",
        "2.0000",
        "",
    )
    assert credit["delivery"] == {
        "operation": "credit",
        "status": "delivered",
        "amount": "2.40",
        "repaid": "0.00",
        "outstanding": "0.00",
        "code": "",
        "last_error": "",
    }


def test_the_summary_gives_credited_and_reversed_in_total_and_per_tier(history, api):
    # when the merchant asks for the summary with no period
    body = api.get("/api/v1/cashback/summary").json()

    # then both customers' cash-back is counted, split by the tier whose rate applied
    assert (body["credited"], body["reversed"], body["net"]) == ("12.40", "0.80", "11.60")
    assert body["outstanding_debt"] == "0.80"
    assert body["tiers"] == [
        {"tier": None, "credited": "2.40", "reversed": "0.80", "net": "1.60", "orders": 1},
        {"tier": "Gold", "credited": "10.00", "reversed": "0.00", "net": "10.00", "orders": 1},
    ]


def test_the_summary_counts_only_entries_written_in_the_period(history, api, clock):
    # given the period of the credits only (the reversal came at the same clock time, so
    # a period ending before it is taken from the clock's moments)
    day = clock.current.date()

    # when the merchant asks for a day with no cash-back, then for the day of it
    before = api.get(f"/api/v1/cashback/summary?from={day - timedelta(days=40)}&to={day}")
    during = api.get(f"/api/v1/cashback/summary?from={day}&to={day + timedelta(days=1)}")

    # then the empty period sums to zero and the day holds everything
    assert before.status_code == during.status_code == 200
    assert (before.json()["credited"], before.json()["tiers"]) == ("0.00", [])
    assert before.json()["from"].startswith(str(day - timedelta(days=40)))
    assert during.json()["credited"] == "12.40"


@pytest.mark.parametrize(
    "query, field",
    [("from=yesterday", "from"), ("to=2025-13-01", "to"), ("from=2025-02-01&to=2025-01-01", "to")],
)
def test_a_summary_period_that_cannot_be_read_is_a_400_naming_it(store, api, query, field):
    response = api.get(f"/api/v1/cashback/summary?{query}")

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_another_shops_token_sees_neither_the_customer_nor_the_cash_back(history, other_shop, api):
    # given another shop's token
    other = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    # then the customer is not found there, and its summary holds nothing of the first shop
    assert other.get("/api/v1/customers/7001/cashback").status_code == 404
    body = other.get("/api/v1/cashback/summary").json()
    assert (body["credited"], body["reversed"], body["outstanding_debt"], body["tiers"]) == (
        "0.00",
        "0.00",
        "0.00",
        [],
    )
    # while the first shop still reads its own
    assert api.get("/api/v1/customers/7001/cashback").status_code == 200


def test_an_unknown_customer_is_a_404_and_a_member_without_cash_back_reads_zero(store, api):
    store.post("customers/create", customer_payload(customer_id=7003, email="n@example.com"))

    assert api.get("/api/v1/customers/999/cashback").status_code == 404
    body = api.get("/api/v1/customers/7003/cashback").json()
    assert (body["credited"], body["outstanding_debt"], body["entries"]) == ("0.00", "0.00", [])


def test_the_routes_need_a_token(store):
    assert Client().get("/api/v1/cashback/summary").status_code in (401, 403)
    assert Client().get("/api/v1/customers/7001/cashback").status_code in (401, 403)


def test_amounts_are_decimal_text(history, api):
    body = api.get("/api/v1/customers/7002/cashback").json()

    assert Decimal(body["credited"]) == Decimal("10.00")
    assert body["entries"][0]["tier"] == "Gold"
    assert body["entries"][0]["rate"] == "5.0000"
