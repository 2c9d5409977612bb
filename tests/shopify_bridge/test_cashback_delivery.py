"""Cash-back delivered to the simulated shop over HTTP through the outbox: a single-use
discount code, a credit the shop refuses (failed, visible, retried by hand), a debit given
up (debt) that a retry by hand later takes after all, and the result hook's translation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty_app.cashback.models import CashbackAccount, CashbackDelivery, CashbackEntry
from loyalty_app.earning.services import orders_confirm_due
from shopify_bridge.cashback_delivery import cashback_call_result, cashback_deliver
from shopify_bridge.devstore.models import DevStoreDiscountCode, DevStoreMutation
from shopify_bridge.models import AdminApiCall
from shopify_bridge.outbox import admin_call_retry, admin_calls_failed_count
from tests.cashback.conftest import (
    PENDING_DAYS,
    definition,
    ledger_net,
    line,
    put_json,
    store,  # noqa: F401 - the fixture
    store_credit,
)

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def confirm(clock) -> None:
    clock.advance(days=PENDING_DAYS, hours=1)
    orders_confirm_due()


def debt(shop) -> Decimal:
    account = CashbackAccount.objects.filter(shop=shop).first()
    return account.debt if account else D("0")


def test_cash_back_as_a_discount_code_is_a_single_use_code_of_that_amount_for_that_customer(
    store,  # noqa: F811
    api,
    clock,
):
    # given a shop that gives cash-back as discount codes
    put_json(api, "/api/v1/tiers", definition(delivery="discount_code"))

    # when an order of 150.00 is confirmed
    kept = line("50.00", 3)
    order = store.order(1001, [kept])
    confirm(clock)

    # then the shop holds one code worth 3.00, usable once, by that customer only
    delivery = CashbackDelivery.objects.get()
    assert (delivery.operation, delivery.status, delivery.amount) == (
        "discount_code",
        "delivered",
        D("3.00"),
    )
    assert delivery.reference.startswith("gid://shopify/DiscountCodeNode/")
    code = DevStoreDiscountCode.objects.get(store__domain=store.domain)
    assert code.code == delivery.code and code.code.startswith("CASHBACK-")
    assert code.usage_limit == 1
    given = code.definition
    assert given["customerGets"]["value"]["discountAmount"]["amount"] == "3.00"
    assert given["context"] == {"customers": {"add": ["gid://shopify/Customer/7001"]}}
    assert given["appliesOncePerCustomer"] is True

    # when a third of it is refunded
    store.refund(9001, order, 0, kept, 1)

    # then a code cannot be taken back: the 1.00 is kept as debt, and nothing is sent
    reversal = CashbackDelivery.objects.get(operation="debt")
    assert (reversal.status, reversal.outstanding) == ("debt", D("1.00"))
    assert debt(store.shop) == D("1.00")
    assert DevStoreMutation.objects.exclude(name="discountCodeBasicCreate").count() == 0

    # when the next order earns 2.00
    store.order(1002, [line("100.00")])
    confirm(clock)

    # then its code is worth what is left after repaying the debt
    latest = CashbackDelivery.objects.filter(operation="discount_code").latest("pk")
    assert (latest.repaid, latest.amount, latest.status) == (D("1.00"), D("1.00"), "delivered")
    assert debt(store.shop) == D("0")
    codes = DevStoreDiscountCode.objects.filter(store__domain=store.domain).order_by("pk")
    amounts = [c.definition["customerGets"]["value"]["discountAmount"]["amount"] for c in codes]
    assert amounts == ["3.00", "1.00"]


def test_a_credit_the_shop_refuses_stays_failed_and_visible_until_the_merchant_retries_it(
    store,  # noqa: F811
    api,
    clock,
    simulator,
    settings,
):
    # given a shop whose Admin API fails, and an outbox that gives up at the first failure
    settings.ADMIN_CALL_MAX_ATTEMPTS = 1
    simulator.fail(store.shop, "http_500")

    # when an order's cash-back is credited
    store.order(1001, [line("100.00")])
    confirm(clock)

    # then the entry stands, its delivery failed with the reason, and the call is listed
    # with the failed ones for the admin's Activity page
    assert ledger_net(store.shop) == D("2.00")
    delivery = CashbackDelivery.objects.get()
    assert delivery.status == "failed"
    assert "500" in delivery.last_error
    assert admin_calls_failed_count(shop=store.shop) == 1
    assert api.get("/api/v1/customers/7001/cashback").json()["deliveries_failed"] == 1
    assert store_credit(store.shop) == D("0")

    # when the shop answers again and the merchant presses retry
    simulator.heal(store.shop)
    call = AdminApiCall.objects.get(idempotency_key=delivery.key)
    admin_call_retry(shop=store.shop, call_id=call.pk, actor="merchant@example.com")

    # then the credit is delivered, and the shop's store credit equals the ledger
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("delivered", "")
    assert store_credit(store.shop) == D("2.00") == ledger_net(store.shop)
    assert admin_calls_failed_count(shop=store.shop) == 0


def test_a_debit_given_up_is_debt_and_a_later_retry_that_succeeds_gives_back_what_was_taken_twice(
    store,  # noqa: F811
    clock,
    simulator,
    settings,
):
    # given 2.40 credited, then a refund of a third while the shop fails: the debit is
    # given up and its 0.80 becomes debt
    settings.ADMIN_CALL_MAX_ATTEMPTS = 1
    kept = line("40.00", 3)
    order = store.order(1001, [kept])
    confirm(clock)
    simulator.fail(store.shop, "http_500")
    store.refund(9001, order, 0, kept, 1)
    simulator.heal(store.shop)
    debit = CashbackDelivery.objects.get(operation="debit")
    assert (debit.status, debit.outstanding) == ("debt", D("0.80"))
    assert debt(store.shop) == D("0.80")

    # when the next order's 0.80 of cash-back repays that debt (nothing is sent)
    store.order(1002, [line("40.00")])
    confirm(clock)
    repaying = CashbackDelivery.objects.filter(operation="credit").latest("pk")
    assert (repaying.status, repaying.repaid, repaying.amount) == ("settled", D("0.80"), D("0"))
    assert debt(store.shop) == D("0")
    assert store_credit(store.shop) == D("2.40")

    # and the merchant then retries the given-up debit, which goes through
    call = AdminApiCall.objects.get(idempotency_key=debit.key)
    admin_call_retry(shop=store.shop, call_id=call.pk, actor="merchant@example.com")

    # then the debit is delivered, the 0.80 taken twice goes back as store credit, and the
    # shop's store credit equals the ledger again
    debit.refresh_from_db()
    assert debit.status == "delivered"
    returned = CashbackDelivery.objects.get(operation="return")
    assert (returned.amount, returned.status) == (D("0.80"), "delivered")
    assert store_credit(store.shop) == D("2.40") == ledger_net(store.shop)
    assert debt(store.shop) == D("0")


def test_the_result_hook_records_an_outcome_once_and_only_for_its_own_shop(
    store,  # noqa: F811
    other_shop,
    clock,
):
    # given a delivered credit
    store.order(1001, [line("100.00")])
    confirm(clock)
    delivery = CashbackDelivery.objects.get()

    # when the hook is called again with a failure, and another shop names the same key
    cashback_call_result(
        shop=store.shop,
        kind="store_credit_credit",
        key=delivery.key,
        ok=False,
        data=None,
        reason="late noise",
    )
    cashback_call_result(
        shop=other_shop.shop,
        kind="store_credit_credit",
        key=delivery.key,
        ok=False,
        data=None,
        reason="not yours",
    )

    # then nothing changed
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("delivered", "")
    assert CashbackEntry.objects.count() == 1


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"operation": "refund"}, "operation"),
        ({"amount": D("0")}, "positive"),
        ({"customer_id": "abc"}, "customer id"),
        ({"operation": "discount_code", "code": ""}, "code"),
    ],
)
def test_a_delivery_that_cannot_be_sent_is_refused_when_recorded(shop, changes, message):
    arguments = {
        "shop": shop.shop,
        "key": "cashback:1001:r1",
        "customer_id": "7001",
        "operation": "credit",
        "amount": D("2.00"),
        "currency": "USD",
        **changes,
    }

    with pytest.raises(ValueError, match=message):
        cashback_deliver(**arguments)
    assert not AdminApiCall.objects.exists()
