"""Orders and refunds become ledger entries: realistic Shopify lifecycles, in any order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty_app.earning.models import Order, OrderRefund
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.selectors import ledger_balance
from loyalty_app.ledger.services import points_adjust
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import shop_create
from shopify_bridge.devstore.payloads import (
    LineSpec,
    expected_points,
    line_id_for,
    order_payload,
    refund_payload,
)
from shopify_bridge.handlers import webhook_handle

D = Decimal
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CUSTOMER = 501

COFFEE = LineSpec(price=D("24.00"), quantity=2, discount=D("4.80"), title="Coffee")  # 43.20
KETTLE = LineSpec(price=D("59.00"), title="Kettle")  # 59.00
GIFT = LineSpec(price=D("25.00"), gift_card=True, title="Gift card")  # excluded
BASKET = [COFFEE, KETTLE, GIFT]  # 102.20 eligible -> 102 points
ORDER_ID = 7001


def deliver(shop: Shop, topic: str, payload: dict[str, Any]) -> None:
    """What a worker does with a stored event: translate it and apply it to the engine."""
    webhook_handle(shop=shop, topic=topic, payload=payload, actor=f"test:{topic}")


def order(
    *, minutes: int = 0, order_id: int = ORDER_ID, lines: list[LineSpec] | None = None, **kw: Any
) -> dict[str, Any]:
    kw.setdefault("customer_id", CUSTOMER)
    kw.setdefault("email", "ada@example.com")
    return order_payload(
        order_id=order_id,
        lines=BASKET if lines is None else lines,
        created_at=T0,
        updated_at=T0 + timedelta(minutes=minutes),
        shipping=kw.pop("shipping", D("5.00")),
        tax_rate=kw.pop("tax_rate", D("0.08")),
        **kw,
    )


def refund_of(
    refund_id: int, *items: tuple[int, int], order_id: int = ORDER_ID, lines=BASKET
) -> dict[str, Any]:
    """A refund of (line index, quantity) pairs of the basket."""
    return refund_payload(
        refund_id=refund_id,
        order_id=order_id,
        lines=[(line_id_for(order_id, i), lines[i], qty) for i, qty in items],
    )


def member(shop: Shop, customer_id: int = CUSTOMER) -> Member:
    return Member.objects.get(shop=shop, external_id=str(customer_id))


def entries(shop: Shop) -> list[int]:
    return list(
        LedgerEntry.objects.filter(shop=shop).order_by("id").values_list("points", flat=True)
    )


def assert_balance(shop: Shop, points: int, customer_id: int = CUSTOMER) -> None:
    held = member(shop, customer_id)
    assert held.points_balance == points
    assert ledger_balance(member=held) == points


@pytest.fixture
def store(shop) -> Shop:
    return shop.shop


# --- one order ---------------------------------------------------------------------------


def test_a_paid_order_earns_its_merchandise_after_discounts_without_gift_cards_shipping_or_tax(
    store,
):
    # given coffee 2 x 24.00 less 4.80, a kettle at 59.00, a 25.00 gift card, 5.00 shipping, 8% tax
    payload = order()

    # when the paid order arrives
    deliver(store, "orders/create", payload)

    # then 43.20 + 59.00 = 102.20 earns 102 points, in one ledger entry
    assert_balance(store, 102)
    entry = LedgerEntry.objects.get(shop=store)
    assert (entry.kind, entry.points, entry.balance_after) == ("order", 102, 102)
    assert (entry.source_type, entry.source_id) == ("order", str(ORDER_ID))
    assert entry.reason == f"Purchase {payload['name']}"
    assert entry.actor == "test:orders/create"
    row = Order.objects.get(shop=store, external_id=str(ORDER_ID))
    assert (row.eligible_amount, row.shipping_amount, row.tax_amount) == (
        D("102.20"),
        D("5.00"),
        D("8.18"),
    )
    assert (row.points_target, row.points_awarded, row.member_id) == (102, 102, member(store).pk)


def test_member_details_come_from_the_orders_customer(store):
    deliver(store, "orders/create", order(first_name="Grace", last_name="Hopper"))

    held = member(store)
    assert (held.email, held.first_name, held.last_name) == ("ada@example.com", "Grace", "Hopper")


def test_an_order_paid_in_another_presentment_currency_earns_on_shop_money(store):
    # given a USD shop; the shopper paid in EUR at 0.92
    payload = order(presentment_currency="EUR", rate=D("0.92"))
    assert payload["line_items"][1]["price_set"]["presentment_money"]["amount"] == "54.28"

    deliver(store, "orders/create", payload)

    assert_balance(store, 102)


def test_an_authorized_order_earns_when_it_is_paid(store):
    # given an order whose payment is only authorized
    deliver(store, "orders/create", order(financial_status="authorized"))
    assert_balance(store, 0)
    assert entries(store) == []

    # when it is paid
    deliver(store, "orders/paid", order(minutes=5, financial_status="paid"))

    # then it earns
    assert_balance(store, 102)
    assert entries(store) == [102]


@pytest.mark.parametrize("status", ["pending", "authorized", "partially_paid", "voided"])
def test_an_unpaid_order_earns_nothing(store, status):
    deliver(store, "orders/create", order(financial_status=status))

    assert_balance(store, 0)
    assert entries(store) == []


def test_a_test_order_earns_nothing_and_makes_nobody_a_member(store):
    # given Shopify's "send test notification", which looks like a paid order
    deliver(store, "orders/create", order(test=True))

    assert Member.objects.filter(shop=store).count() == 0
    assert LedgerEntry.objects.count() == 0
    assert Order.objects.get(shop=store).test is True


def test_a_later_snapshot_cannot_make_a_test_order_live(store):
    deliver(store, "orders/create", order(test=True))

    deliver(store, "orders/updated", order(minutes=5, test=False))

    assert Order.objects.get(shop=store).points_target == 0
    assert LedgerEntry.objects.count() == 0


def test_a_guest_checkout_earns_nothing_and_creates_no_member(store):
    deliver(store, "orders/create", order(customer_id=None))

    assert Member.objects.filter(shop=store).count() == 0
    assert LedgerEntry.objects.count() == 0
    row = Order.objects.get(shop=store)
    assert (row.member_id, row.points_target, row.points_awarded) == (None, 0, 0)


def test_the_same_order_event_twice_awards_once(store):
    deliver(store, "orders/create", order())
    deliver(store, "orders/create", order())
    deliver(store, "orders/paid", order())

    assert_balance(store, 102)
    assert entries(store) == [102]


# --- refunds -----------------------------------------------------------------------------


def test_a_partial_refund_takes_back_the_refunded_merchandise(store):
    # given the paid order
    deliver(store, "orders/create", order())

    # when one of the two coffees is refunded (21.60 of merchandise)
    deliver(store, "refunds/create", refund_of(1, (0, 1)))

    # then 102.20 - 21.60 = 80.60 is worth 80 points
    assert_balance(store, 80)
    assert entries(store) == [102, -22]
    last = LedgerEntry.objects.filter(shop=store).latest("id")
    assert last.reason == "Refund on order #8001"
    assert last.balance_after == 80


def test_a_refund_inside_orders_updated_counts_once_with_its_own_refunds_create(store):
    # given the paid order, then an orders/updated carrying the refund in refunds[]
    refund = refund_of(1, (1, 1))  # the kettle
    deliver(store, "orders/create", order())
    deliver(
        store,
        "orders/updated",
        order(minutes=5, financial_status="partially_refunded", refunds=[refund]),
    )
    assert_balance(store, 43)

    # when refunds/create for the same refund arrives too
    deliver(store, "refunds/create", refund)

    # then it is not taken back twice
    assert_balance(store, 43)
    assert entries(store) == [102, -59]
    assert OrderRefund.objects.count() == 1


def test_two_partial_refunds_add_up(store):
    deliver(store, "orders/create", order())

    deliver(store, "refunds/create", refund_of(1, (0, 1)))
    deliver(store, "refunds/create", refund_of(2, (1, 1)))

    # 102.20 - 21.60 - 59.00 = 21.60
    assert_balance(store, 21)
    assert entries(store) == [102, -22, -59]


def test_a_refunded_gift_card_takes_back_nothing(store):
    deliver(store, "orders/create", order())

    deliver(store, "refunds/create", refund_of(1, (2, 1)))

    assert_balance(store, 102)
    assert entries(store) == [102]


def test_an_amount_only_refund_takes_back_that_amount(store):
    deliver(store, "orders/create", order())

    deliver(
        store,
        "refunds/create",
        refund_payload(refund_id=1, order_id=ORDER_ID, lines=[], amount_only=D("30.00")),
    )

    assert_balance(store, 72)


def test_an_order_marked_refunded_is_worth_nothing(store):
    deliver(store, "orders/create", order())

    deliver(store, "orders/updated", order(minutes=5, financial_status="refunded"))

    assert_balance(store, 0)
    assert entries(store) == [102, -102]


def test_refunds_larger_than_the_order_never_take_more_than_it_gave(store):
    deliver(store, "orders/create", order())
    deliver(store, "refunds/create", refund_of(1, (0, 2), (1, 1)))
    assert_balance(store, 0)

    deliver(store, "refunds/create", refund_of(2, (1, 1)))

    assert_balance(store, 0)
    assert entries(store) == [102, -102]


def test_a_refund_after_the_points_were_spent_leaves_a_negative_balance(store):
    # given a member who earned 102 points and spent them
    deliver(store, "orders/create", order())
    points_adjust(
        member=member(store), points=-102, reason="redeemed", idempotency_key="k", actor="t"
    )

    # when the kettle is refunded
    deliver(store, "refunds/create", refund_of(1, (1, 1)))

    # then the balance owes the refunded points
    assert_balance(store, -59)


def test_a_refund_that_arrives_before_its_order_is_netted_when_the_order_arrives(store):
    # given a refund for an order not seen yet
    deliver(store, "refunds/create", refund_of(1, (0, 1)))
    assert LedgerEntry.objects.count() == 0
    assert Order.objects.get(shop=store).has_snapshot is False

    # when the order arrives
    deliver(store, "orders/create", order())

    # then it earns what is left after the refund, in one entry
    assert_balance(store, 80)
    assert entries(store) == [80]


# --- cancellation and stale snapshots ----------------------------------------------------


def test_a_cancelled_order_gives_back_its_points(store):
    deliver(store, "orders/create", order())

    deliver(
        store, "orders/cancelled", order(minutes=10, cancelled=True, financial_status="refunded")
    )

    assert_balance(store, 0)
    assert entries(store) == [102, -102]
    last = LedgerEntry.objects.filter(shop=store).latest("id")
    assert last.reason == "Order #8001 cancelled"


def test_orders_updated_after_a_cancellation_keeps_the_order_at_zero(store):
    # given a cancelled order
    deliver(store, "orders/create", order())
    deliver(store, "orders/cancelled", order(minutes=10, cancelled=True, financial_status="voided"))

    # when a later orders/updated arrives that does not repeat the cancellation
    deliver(store, "orders/updated", order(minutes=20, financial_status="paid"))

    # then a cancellation is never undone
    assert_balance(store, 0)
    assert entries(store) == [102, -102]


def test_an_orders_updated_older_than_the_last_snapshot_is_ignored(store):
    # given an order edited down to the kettle alone, seen at minute 20
    deliver(store, "orders/create", order(minutes=0))
    deliver(store, "orders/updated", order(minutes=20, lines=[KETTLE]))
    assert_balance(store, 59)

    # when a retry of the minute-10 snapshot (the full basket) arrives late
    deliver(store, "orders/updated", order(minutes=10))

    # then it does not bring the old basket back
    assert_balance(store, 59)
    assert entries(store) == [102, -43]


def test_an_order_moved_to_another_customer_moves_its_points(store):
    deliver(store, "orders/create", order(customer_id=501))

    deliver(store, "orders/updated", order(minutes=5, customer_id=502, email="bob@example.com"))

    assert_balance(store, 0, customer_id=501)
    assert_balance(store, 102, customer_id=502)


def test_one_shops_order_never_touches_another_shops_member(store, other_shop):
    deliver(store, "orders/create", order())
    deliver(other_shop.shop, "orders/create", order(lines=[KETTLE]))

    assert_balance(store, 102)
    assert_balance(other_shop.shop, 59)


# --- any delivery order --------------------------------------------------------------------

_counter = itertools.count(1)
PRICES = [D("6.49"), D("13.50"), D("24.00"), D("59.00"), D("129.99")]


@st.composite
def lifecycles(draw: st.DrawFn) -> dict[str, Any]:
    """One order's events, oldest first, and what the order is worth at the end."""
    n = next(_counter)
    order_id = 900_000 + n
    lines = draw(
        st.lists(
            st.builds(
                LineSpec,
                price=st.sampled_from(PRICES),
                quantity=st.integers(1, 3),
                gift_card=st.booleans(),
            ),
            min_size=1,
            max_size=4,
        )
    )
    lines = [
        LineSpec(
            price=x.price,
            quantity=x.quantity,
            gift_card=x.gift_card,
            discount=draw(st.sampled_from([D("0"), D("1.25"), D("3.00")]))
            if not x.gift_card
            else D("0"),
        )
        for x in lines
    ]
    edited = len(lines) > 1 and draw(st.booleans())
    if edited:
        # The line the edit removes earns, so a stale snapshot applied last would show.
        lines[-1] = LineSpec(price=D("59.00"))
    minute = itertools.count(0, 7)
    current = list(lines)

    def snapshot(status: str, refunds: list[dict[str, Any]], cancelled: bool = False):
        return order_payload(
            order_id=order_id,
            customer_id=CUSTOMER,
            lines=current,
            financial_status=status,
            cancelled=cancelled,
            refunds=list(refunds),
            shipping=D("4.99"),
            tax_rate=D("0.2"),
            created_at=T0,
            updated_at=T0 + timedelta(minutes=next(minute)),
        )

    create_status = draw(st.sampled_from(["pending", "authorized", "paid"]))
    events = [("orders/create", snapshot(create_status, []))]
    paid = create_status == "paid"
    if not paid and draw(st.booleans()):
        events.append(("orders/paid", snapshot("paid", [])))
        paid = True
    status = "paid" if paid else create_status
    if edited:
        # An edit removes the last line: only snapshots from now on have the shorter basket.
        current.pop()
        events.append(("orders/updated", snapshot(status, [])))
    lines = current
    refunds: list[dict[str, Any]] = []
    refunded = D("0")
    remaining = [x.quantity for x in lines]
    for refund_no in range(draw(st.integers(0, 2)) if paid else 0):
        index = draw(st.integers(0, len(lines) - 1))
        if remaining[index] == 0:
            continue
        qty = draw(st.integers(1, remaining[index]))
        remaining[index] -= qty
        refund = refund_payload(
            refund_id=order_id * 10 + refund_no,
            order_id=order_id,
            lines=[(line_id_for(order_id, index), lines[index], qty)],
        )
        refunds.append(refund)
        if not lines[index].gift_card:
            refunded += D(str(refund["refund_line_items"][0]["subtotal"]))
        status = "refunded" if not any(remaining) else "partially_refunded"
        events.append(("refunds/create", refund))
        if draw(st.booleans()):
            events.append(("orders/updated", snapshot(status, refunds)))
    cancelled = draw(st.booleans())
    if cancelled:
        events.append(("orders/cancelled", snapshot(status, refunds, cancelled=True)))
    worth = expected_points(lines, refunded) if paid and not cancelled else 0
    if status == "refunded":
        worth = 0
    return {"order_id": order_id, "events": events, "worth": worth}


def fresh_shop() -> Shop:
    return shop_create(domain=f"prop-{next(_counter)}.myshopify.com").shop


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lifecycle=lifecycles(), data=st.data())
def test_any_delivery_order_with_duplicates_ends_at_the_in_order_balance(db, lifecycle, data):
    # given one order's lifecycle, and the same events shuffled with some delivered twice
    events = lifecycle["events"]
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=4))
    shuffled = data.draw(st.permutations(events + duplicates))
    in_order_shop, shuffled_shop = fresh_shop(), fresh_shop()

    # when one shop receives them in order and the other shuffled
    for topic, payload in events:
        deliver(in_order_shop, topic, payload)
    for topic, payload in shuffled:
        deliver(shuffled_shop, topic, payload)

    # then both end at the order's worth, and each cached balance is the ledger sum
    for shop in (in_order_shop, shuffled_shop):
        held = member(shop)
        assert held.points_balance == lifecycle["worth"]
        assert ledger_balance(member=held) == lifecycle["worth"]
        row = Order.objects.get(shop=shop, external_id=str(lifecycle["order_id"]))
        assert row.points_awarded == row.points_target == lifecycle["worth"]
