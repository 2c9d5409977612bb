"""Cash-back through real signed webhooks, delivered as store credit to the simulated shop
over HTTP: the rate, the return window, refunds, cancellations, replays and debt."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from loyalty_app.cashback.models import (
    AppendOnlyError,
    CashbackDelivery,
    CashbackEntry,
    CashbackOrder,
)
from loyalty_app.earning.services import orders_confirm_due
from shopify_bridge.admin_api import admin_graphql
from shopify_bridge.cashback_delivery import DEBIT
from shopify_bridge.devstore.models import DevStoreMutation
from shopify_bridge.devstore.payloads import customer_payload, order_payload
from shopify_bridge.models import WebhookEvent

from .conftest import (
    PENDING_DAYS,
    definition,
    hold_tier,
    ledger_net,
    line,
    put_json,
    store_credit,
    tiers_put,
)

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def window_passes(clock) -> int:
    clock.advance(days=PENDING_DAYS, hours=1)
    return orders_confirm_due()


def entries(shop) -> list[tuple[str, Decimal]]:
    return [
        (e.kind, e.amount.quantize(D("0.01")))
        for e in CashbackEntry.objects.filter(shop=shop).order_by("pk")
    ]


def mutations(shop, name: str) -> int:
    return DevStoreMutation.objects.filter(store__domain=shop.domain, name=name).count()


def test_an_order_earns_its_cash_back_as_store_credit_only_once_its_return_window_has_passed(
    store, clock
):
    # given a paid order of 150.00 in merchandise, a 50.00 gift card and 10.00 of shipping
    store.order(1001, [line("50.00", 3), line("50.00", gift_card=True)], shipping=D("10.00"))

    # then nothing is owed yet, but the rate is recorded: 2%, the program's
    assert entries(store.shop) == []
    assert store_credit(store.shop) == D("0")
    recorded = CashbackOrder.objects.get()
    assert (recorded.rate, recorded.tier_name, recorded.delivery) == (D("2"), "", "store_credit")

    # when the return window has passed
    assert window_passes(clock) == 1

    # then 2% of the merchandise (gift card and shipping excluded) is credited in the shop
    assert entries(store.shop) == [("credit", D("3.00"))]
    assert store_credit(store.shop) == D("3.00") == ledger_net(store.shop)
    delivery = CashbackDelivery.objects.get()
    assert (delivery.operation, delivery.status) == ("credit", "delivered")
    assert delivery.reference.startswith("gid://shopify/StoreCreditAccountCreditTransaction/")


def test_a_gold_member_earns_the_gold_rate_and_keeps_it_for_that_order_after_leaving_gold(
    store, api, clock
):
    # given a customer who holds Gold (5%) when placing an order of 200.00
    store.post("customers/create", customer_payload(customer_id=7001, email="c7001@example.com"))
    hold_tier(store.shop, 7001, "Gold")
    store.order(1001, [line("100.00", 2)])

    # when they lose Gold and the program's rate changes before the window passes
    hold_tier(store.shop, 7001, None)
    put_json(api, "/api/v1/tiers", definition(rate="1"))
    window_passes(clock)

    # then the order earned the rate in force when it was placed: Gold's 5%
    assert entries(store.shop) == [("credit", D("10.00"))]
    entry = CashbackEntry.objects.get()
    assert (entry.rate, entry.tier_name) == (D("5"), "Gold")
    assert store_credit(store.shop) == D("10.00")


def test_a_partial_refund_reverses_its_share_and_takes_it_back_from_the_store_credit(store, clock):
    # given an order of 3 x 40.00 credited 2.40 after its window
    kept = line("40.00", 3)
    order = store.order(1001, [kept])
    window_passes(clock)

    # when one of the three is refunded
    store.refund(9001, order, 0, kept, 1)

    # then a third of the cash-back is reversed and debited from the shop's store credit
    assert entries(store.shop) == [("credit", D("2.40")), ("reversal", D("-0.80"))]
    assert store_credit(store.shop) == D("1.60") == ledger_net(store.shop)
    debit = CashbackDelivery.objects.get(operation="debit")
    assert (debit.amount, debit.status) == (D("0.80"), "delivered")


def test_a_refund_inside_the_return_window_only_lowers_what_will_be_credited(store, clock):
    # given an order of 2 x 50.00 of which one is refunded while it is still pending
    kept = line("50.00", 2)
    order = store.order(1001, [kept])
    store.refund(9001, order, 0, kept, 1)
    assert entries(store.shop) == []

    # when the window passes
    window_passes(clock)

    # then only the cash-back of what was kept is credited, in one entry, one call
    assert entries(store.shop) == [("credit", D("1.00"))]
    assert store_credit(store.shop) == D("1.00")
    assert mutations(store.shop, "storeCreditAccountDebit") == 0


def test_a_cancellation_after_the_credit_reverses_all_of_it(store, clock):
    # given a credited order
    order = store.order(1001, [line("75.00")])
    window_passes(clock)

    # when it is cancelled (and refunded) later
    moment = clock.current.replace(microsecond=0).isoformat()
    cancelled = {**order, "cancelled_at": moment, "updated_at": moment}
    store.post(
        "orders/cancelled", {**cancelled, "financial_status": "refunded"}, shop_domain=store.domain
    )

    # then the credit is reversed in full and taken back from the shop
    assert entries(store.shop) == [("credit", D("1.50")), ("reversal", D("-1.50"))]
    assert store_credit(store.shop) == D("0.00") == ledger_net(store.shop)


def test_replayed_and_duplicated_webhooks_change_nothing(store, clock):
    # given an order credited and partly refunded
    kept = line("40.00", 3)
    order_id, refund_id = str(uuid.uuid4()), str(uuid.uuid4())
    order = store.order(1001, [kept], webhook_id=order_id)
    window_passes(clock)
    refund = store.refund(9001, order, 0, kept, 1, webhook_id=refund_id)
    before = (entries(store.shop), store_credit(store.shop), DevStoreMutation.objects.count())

    # when every webhook comes again: the same deliveries, retries under new ids, the old
    # order snapshot after the refund, and the confirmation job again
    store.post("orders/paid", order, shop_domain=store.domain, webhook_id=order_id)
    store.post("orders/paid", order, shop_domain=store.domain)
    store.post("orders/updated", order, shop_domain=store.domain)
    store.post("refunds/create", refund, shop_domain=store.domain, webhook_id=refund_id)
    store.post("refunds/create", refund, shop_domain=store.domain)
    orders_confirm_due()

    # then nothing more is written or sent
    after = (entries(store.shop), store_credit(store.shop), DevStoreMutation.objects.count())
    assert after == before
    assert ledger_net(store.shop) == D("1.60")


def test_a_refund_that_arrives_before_its_order_is_netted_when_the_order_comes(store, clock):
    # given a refund of one of two units, delivered before the order itself
    kept = line("30.00", 2)
    order = order_payload(
        order_id=1001,
        customer_id=7001,
        email="c7001@example.com",
        lines=[kept],
        created_at=clock.current.replace(microsecond=0),
    )
    store.refund(9001, order, 0, kept, 1)

    # when the order arrives and its window passes
    store.post("orders/paid", order, shop_domain=store.domain)
    window_passes(clock)

    # then only what was kept earns, in one credit
    assert entries(store.shop) == [("credit", D("0.60"))]
    assert store_credit(store.shop) == D("0.60")


def test_a_late_refund_after_the_credit_was_spent_becomes_debt_that_the_next_credit_repays(
    store, clock
):
    # given 2.40 credited for an order of 3 x 40.00, all of it spent at the shop's checkout
    kept = line("40.00", 3)
    order = store.order(1001, [kept])
    window_passes(clock)
    spent = admin_graphql(
        shop=store.shop,
        query=DEBIT,
        variables={
            "id": "gid://shopify/Customer/7001",
            "debitInput": {"debitAmount": {"amount": "2.40", "currencyCode": "USD"}},
        },
    )
    assert spent.data["storeCreditAccountDebit"]["userErrors"] == []

    # when a late refund of one unit comes: the shop cannot take 0.80 back
    store.refund(9001, order, 0, kept, 1)

    # then the reversal is kept as debt
    debit = CashbackDelivery.objects.get(operation="debit")
    assert (debit.status, debit.outstanding) == ("debt", D("0.80"))
    assert "sufficient funds" in debit.last_error
    assert store_credit(store.shop) == D("0.00")

    # when the customer's next order earns 2.40
    store.order(1002, [line("40.00", 3)])
    window_passes(clock)

    # then 0.80 of it repays the debt and 1.60 reaches the store credit
    credit = CashbackDelivery.objects.filter(operation="credit").latest("pk")
    assert (credit.repaid, credit.amount, credit.status) == (D("0.80"), D("1.60"), "delivered")
    debit.refresh_from_db()
    assert debit.outstanding == D("0")
    assert store_credit(store.shop) == D("1.60")
    # what the customer is owed (4.00) = what they spent (2.40) + what they hold (1.60)
    assert ledger_net(store.shop) == D("4.00")


def test_a_shop_without_cash_back_writes_nothing(store, api, clock):
    # given cash-back switched off
    tiers_put(api, definition(enabled=False))

    # when an order is placed and confirmed
    store.order(1001, [line("100.00")])
    window_passes(clock)

    # then no cash-back is recorded or sent
    assert not CashbackOrder.objects.exists()
    assert entries(store.shop) == []
    assert mutations(store.shop, "storeCreditAccountCredit") == 0


def test_the_cash_back_ledger_is_append_only(store, clock):
    # given a credited order
    store.order(1001, [line("100.00")])
    window_passes(clock)
    entry = CashbackEntry.objects.get()

    # then the entry cannot be changed or removed by the model, the queryset or SQL
    entry.amount = D("99")
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        CashbackEntry.objects.filter(pk=entry.pk).update(amount=D("99"))
    with pytest.raises(AppendOnlyError):
        CashbackEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE cashback_cashbackentry SET amount = 99 WHERE id = %s", [entry.pk]
            )
    assert CashbackEntry.objects.get().amount == D("2.00")


def test_an_order_moved_to_another_customer_moves_its_cash_back_with_it(store, clock):
    # given an order credited to customer 7001
    order = store.order(1001, [line("100.00")], customer_id=7001)
    window_passes(clock)
    assert store_credit(store.shop, 7001) == D("2.00")

    # when a newer snapshot names customer 7002 (the merchant reassigned the order)
    later = clock.current.replace(microsecond=0).isoformat()
    moved = order_payload(
        order_id=1001,
        customer_id=7002,
        email="c7002@example.com",
        lines=[line("100.00")],
        created_at=clock.current.replace(microsecond=0),
    )
    moved.update(created_at=order["created_at"], updated_at=later)
    store.post("orders/updated", moved, shop_domain=store.domain)

    # then the first customer gives all of it back and the second one earns it
    assert entries(store.shop) == [
        ("credit", D("2.00")),
        ("reversal", D("-2.00")),
        ("credit", D("2.00")),
    ]
    assert store_credit(store.shop, 7001) == D("0.00") == ledger_net(store.shop, 7001)
    assert store_credit(store.shop, 7002) == D("2.00") == ledger_net(store.shop, 7002)


def test_a_late_refund_for_a_redacted_customer_is_recorded_and_its_delivery_marked_failed(
    store, clock
):
    # given a credited order whose customer was then redacted (customers/redact)
    kept = line("40.00", 3)
    order = store.order(1001, [kept])
    window_passes(clock)
    store.post(
        "customers/redact",
        {
            "shop_id": 1,
            "shop_domain": store.domain,
            "customer": {"id": 7001, "email": "c7001@example.com", "phone": None},
            "orders_to_redact": [1001],
        },
        shop_domain=store.domain,
    )

    # when a refund of that order arrives later
    store.refund(9001, order, 0, kept, 1)

    # then the reversal is in the ledger, its delivery failed visibly, and the event is done
    assert entries(store.shop)[-1] == ("reversal", D("-0.80"))
    failed = CashbackDelivery.objects.get(operation="debit")
    assert failed.status == "failed"
    assert "cannot take this delivery" in failed.last_error
    assert WebhookEvent.objects.get(topic="refunds/create").status == "done"
