"""The points ledger: append-only, idempotent, and the cached balance always equals its sum."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, ProgrammingError, connection, transaction

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.earning.models import Order
from loyalty_app.ledger.models import AppendOnlyError, LedgerEntry
from loyalty_app.ledger.selectors import ledger_balance, ledger_entries_for_member
from loyalty_app.ledger.services import (
    IdempotencyConflict,
    InsufficientPoints,
    ledger_entry_add,
    points_adjust,
)
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_upsert
from loyalty_app.shops.services import shop_create
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload
from shopify_bridge.handlers import webhook_handle
from tests.concurrency import run_concurrently as shared_run_concurrently


def new_member(shop, external_id: str = "501") -> Member:
    return member_upsert(shop=shop, customer=CustomerRef(external_id=external_id))


def add(member: Member, points: int, key: str, **kw: Any):
    return ledger_entry_add(
        member=member, kind="adjustment", points=points, idempotency_key=key, **kw
    )


@pytest.fixture
def member(shop) -> Member:
    return new_member(shop.shop)


# --- append-only ---------------------------------------------------------------------------


def test_an_entry_cannot_be_saved_again(member):
    entry = add(member, 10, "k1").entry
    entry.points = 1000

    with pytest.raises(AppendOnlyError, match="append-only"):
        entry.save()

    assert LedgerEntry.objects.get(pk=entry.pk).points == 10


def test_an_entry_cannot_be_deleted(member):
    entry = add(member, 10, "k1").entry

    with pytest.raises(AppendOnlyError):
        entry.delete()

    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_a_queryset_cannot_update_entries(member):
    add(member, 10, "k1")

    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.filter(member=member).update(points=1000)

    assert ledger_balance(member=member) == 10


def test_a_queryset_cannot_delete_entries(member):
    add(member, 10, "k1")

    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.all().delete()

    assert LedgerEntry.objects.count() == 1


def test_postgresql_refuses_a_raw_update_of_an_entry(member):
    # given an entry, and someone who goes around the model with raw SQL
    entry = add(member, 10, "k1").entry
    assert connection.vendor == "postgresql"

    # when they UPDATE it / then the database's trigger refuses
    with pytest.raises(
        ProgrammingError, match=f"ledger entries are append-only \\(entry {entry.pk}\\)"
    ):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE ledger_ledgerentry SET points = 1000 WHERE id = %s", [entry.pk])

    assert LedgerEntry.objects.get(pk=entry.pk).points == 10


def test_the_database_refuses_a_zero_entry(member):
    with pytest.raises(IntegrityError, match="ledger_points_nonzero"), transaction.atomic():
        LedgerEntry.objects.create(
            shop_id=member.shop_id,
            member=member,
            kind="adjustment",
            points=0,
            balance_after=0,
            idempotency_key="zero",
        )


@pytest.mark.parametrize("points", [0, 1.5, True, Decimal("3")])
def test_points_must_be_a_non_zero_integer(member, points):
    with pytest.raises(ValueError, match="points must be a non-zero integer"):
        add(member, points, "k")

    assert LedgerEntry.objects.count() == 0


# --- idempotency ---------------------------------------------------------------------------


def test_the_idempotency_key_is_unique_per_shop_in_the_database(member):
    add(member, 10, "dup")

    with pytest.raises(IntegrityError, match="ledger_idempotency_key"), transaction.atomic():
        LedgerEntry.objects.create(
            shop_id=member.shop_id,
            member=member,
            kind="adjustment",
            points=5,
            balance_after=15,
            idempotency_key="dup",
        )


def test_a_second_write_with_the_same_key_writes_nothing_and_returns_the_first(member):
    first = add(member, 10, "same")

    second = add(member, 10, "same")
    third = add(member, 99, "same")

    assert first.created is True
    assert (second.created, second.entry.pk) == (False, first.entry.pk)
    assert (third.created, third.entry.points) == (False, 10)
    assert LedgerEntry.objects.count() == 1
    member.refresh_from_db()
    assert member.points_balance == 10


def test_the_same_key_in_another_shop_is_another_entry(shop, other_shop):
    ours, theirs = new_member(shop.shop), new_member(other_shop.shop)

    add(ours, 10, "k")
    add(theirs, 20, "k")

    assert ledger_balance(member=ours) == 10
    assert ledger_balance(member=theirs) == 20


def test_an_adjustment_replayed_with_other_points_is_a_conflict(member):
    points_adjust(member=member, points=10, reason="r", idempotency_key="k", actor="a")

    with pytest.raises(IdempotencyConflict):
        points_adjust(member=member, points=11, reason="r", idempotency_key="k", actor="a")

    assert ledger_balance(member=member) == 10


def test_an_adjustment_key_reused_for_another_member_is_a_conflict(shop, member):
    other = new_member(shop.shop, "502")
    points_adjust(member=member, points=10, reason="r", idempotency_key="k", actor="a")

    with pytest.raises(IdempotencyConflict):
        points_adjust(member=other, points=10, reason="r", idempotency_key="k", actor="a")

    assert ledger_balance(member=other) == 0


def test_an_adjustment_may_not_take_the_balance_below_zero(member):
    points_adjust(member=member, points=10, reason="r", idempotency_key="k1", actor="a")

    with pytest.raises(InsufficientPoints) as error:
        points_adjust(member=member, points=-11, reason="r", idempotency_key="k2", actor="a")

    assert (error.value.balance, error.value.requested) == (10, 11)
    assert ledger_balance(member=member) == 10
    assert LedgerEntry.objects.count() == 1


def test_an_adjustment_needs_a_reason(member):
    with pytest.raises(ValueError, match="a reason is required"):
        points_adjust(member=member, points=10, reason="  ", idempotency_key="k", actor="a")


# --- the balance -------------------------------------------------------------------------


def test_the_cached_balance_equals_the_ledger_sum_after_many_writes(member):
    # given a mix of gains, losses (allowed below zero) and replays
    writes = [50, -20, 7, -100, 3, 1000, -1, 42, -42, 5]
    for n, points in enumerate(writes):
        add(member, points, f"k{n}")
        add(member, points, f"k{n}")  # a replay changes nothing

    # then the cached balance and each entry's balance_after follow the running sum
    member.refresh_from_db()
    assert member.points_balance == sum(writes) == 944
    assert ledger_balance(member=member) == 944
    running = [sum(writes[: i + 1]) for i in range(len(writes))]
    assert [e.balance_after for e in LedgerEntry.objects.order_by("id")] == running
    assert [e.points for e in ledger_entries_for_member(member=member)] == writes[::-1]


def test_a_stale_member_object_does_not_lose_points(member):
    # given two copies of one member loaded before either writes
    stale = Member.objects.get(pk=member.pk)

    add(member, 10, "a")
    add(stale, 5, "b")  # the stale copy still thinks the balance is 0

    member.refresh_from_db()
    assert member.points_balance == 15
    assert [e.balance_after for e in LedgerEntry.objects.order_by("id")] == [10, 15]


# --- concurrency (real PostgreSQL, one connection per thread) ------------------------------

THREADS = 10


def run_concurrently(
    work: Callable[[int], Any], n: int = THREADS
) -> tuple[list[Any], list[BaseException]]:
    return shared_run_concurrently(work, n, timeout=60)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_with_one_key_write_one_entry():
    shop = shop_create(domain="race-a.myshopify.com").shop
    member = new_member(shop)

    results, errors = run_concurrently(
        lambda i: add(Member.objects.get(pk=member.pk), 25, "the-same-key").created
    )

    assert errors == []
    assert sorted(results) == [False] * (THREADS - 1) + [True]
    assert LedgerEntry.objects.count() == 1
    member.refresh_from_db()
    assert member.points_balance == 25 == ledger_balance(member=member)


@pytest.mark.django_db(transaction=True)
def test_concurrent_adjustments_with_one_idempotency_key_adjust_once():
    shop = shop_create(domain="race-b.myshopify.com").shop
    member = new_member(shop)

    results, errors = run_concurrently(
        lambda i: (
            points_adjust(
                member=Member.objects.get(pk=member.pk),
                points=40,
                reason="goodwill",
                idempotency_key="retry-me",
                actor=f"thread-{i}",
            ).entry.pk
        )
    )

    assert errors == []
    assert len(set(results)) == 1  # every caller got the same entry back
    member.refresh_from_db()
    assert member.points_balance == 40 == ledger_balance(member=member)


@pytest.mark.django_db(transaction=True)
def test_concurrent_deductions_never_lose_an_update_nor_overdraw():
    # given 100 points, and 10 callers each taking 15 at the same moment
    shop = shop_create(domain="race-c.myshopify.com").shop
    member = new_member(shop)
    points_adjust(member=member, points=100, reason="start", idempotency_key="start", actor="t")

    def deduct(i: int) -> str:
        try:
            points_adjust(
                member=Member.objects.get(pk=member.pk),
                points=-15,
                reason="redeem",
                idempotency_key=f"redeem-{i}",
                actor="t",
            )
        except InsufficientPoints:
            return "refused"
        return "ok"

    results, errors = run_concurrently(deduct)

    # then exactly six fit, and the balance is exactly what is left
    assert errors == []
    assert sorted(results) == ["ok"] * 6 + ["refused"] * 4
    member.refresh_from_db()
    assert member.points_balance == 10 == ledger_balance(member=member)
    balances = list(
        LedgerEntry.objects.filter(member=member)
        .order_by("id")
        .values_list("balance_after", flat=True)
    )
    assert balances == [100, 85, 70, 55, 40, 25, 10]


@pytest.mark.django_db(transaction=True)
def test_concurrent_gains_for_one_member_are_all_counted():
    shop = shop_create(domain="race-d.myshopify.com").shop
    member = new_member(shop)

    _, errors = run_concurrently(
        lambda i: add(Member.objects.get(pk=member.pk), i + 1, f"gain-{i}")
    )

    assert errors == []
    member.refresh_from_db()
    assert member.points_balance == sum(range(1, THREADS + 1)) == ledger_balance(member=member)


def order_race_events(order_id: int) -> list[tuple[str, dict[str, Any]]]:
    """One order's events, each delivered more than once: a paid order worth 102 points, then
    a refund of 59 (as refunds/create and inside orders/updated)."""
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    basket = [
        LineSpec(price=Decimal("24.00"), quantity=2, discount=Decimal("4.80")),
        LineSpec(price=Decimal("59.00")),
    ]

    def snapshot(minutes: int, **kw: Any) -> dict[str, Any]:
        return order_payload(
            order_id=order_id,
            customer_id=501,
            lines=basket,
            created_at=t0,
            updated_at=t0 + timedelta(minutes=minutes),
            **kw,
        )

    refund = refund_payload(
        refund_id=order_id, order_id=order_id, lines=[(line_id_for(order_id, 1), basket[1], 1)]
    )
    refunded = snapshot(2, financial_status="partially_refunded", refunds=[refund])
    return [
        ("orders/create", snapshot(0, financial_status="pending")),
        ("orders/create", snapshot(0, financial_status="pending")),
        ("orders/paid", snapshot(1)),
        ("orders/paid", snapshot(1)),
        ("orders/paid", snapshot(1)),
        ("refunds/create", refund),
        ("refunds/create", refund),
        ("orders/updated", refunded),
        ("orders/updated", refunded),
        ("orders/fulfilled", refunded),
    ]


@pytest.mark.django_db(transaction=True)
def test_one_orders_events_delivered_concurrently_award_exactly_its_worth():
    # given a shop; each round, 10 workers handle one order's events at the same moment
    shop = shop_create(domain="race-e.myshopify.com").shop
    rounds = 5

    for order_id in range(7001, 7001 + rounds):
        events = order_race_events(order_id)

        def deliver(i: int, events=events) -> None:
            topic, payload = events[i]
            webhook_handle(shop=shop, topic=topic, payload=payload, actor=f"worker-{i}")

        _, errors = run_concurrently(deliver, n=len(events))
        assert errors == []

        # then each order holds exactly 102 - 59 = 43 points: nothing twice, nothing lost
        row = Order.objects.get(shop=shop, external_id=str(order_id))
        assert (row.points_awarded, row.refunded_amount, row.paid) == (43, Decimal("59"), True)
        entries = LedgerEntry.objects.filter(shop=shop, source_id=str(order_id))
        assert sum(entries.values_list("points", flat=True)) == 43

    member = Member.objects.get(shop=shop, external_id="501")
    assert member.points_balance == 43 * rounds == ledger_balance(member=member)


@pytest.mark.django_db(transaction=True)
def test_orders_and_adjustments_for_one_member_concurrently_keep_the_balance_exact():
    # given a member with 30 points
    shop = shop_create(domain="race-f.myshopify.com").shop
    member = new_member(shop)
    points_adjust(member=member, points=30, reason="start", idempotency_key="start", actor="t")

    def work(i: int) -> None:
        if i % 2:
            payload = order_payload(
                order_id=8000 + i, customer_id=501, lines=[LineSpec(price=Decimal("10.00"))]
            )
            webhook_handle(shop=shop, topic="orders/create", payload=payload, actor="w")
        else:
            points_adjust(
                member=Member.objects.get(pk=member.pk),
                points=-5,
                reason="redeem",
                idempotency_key=f"redeem-{i}",
                actor="t",
            )

    # when 5 orders of 10 points and 5 deductions of 5 run at once
    _, errors = run_concurrently(work)

    # then 30 + 50 - 25
    assert errors == []
    member.refresh_from_db()
    assert member.points_balance == 55 == ledger_balance(member=member)
