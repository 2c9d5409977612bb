"""Real concurrency on PostgreSQL: an activation's catch-up racing order webhooks for the
same members ends with the rows the orders say, and each reward given once.

Which write wins: whoever holds the member's row lock last. The catch-up locks a batch's
members before it reads their orders; a webhook locks the order, then the member, and
recomputes from the source. So either the webhook waits for the batch and recomputes
after it, or the batch waits for the webhook and reads what it committed.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction

from loyalty_app.challenges import services
from loyalty_app.challenges.models import Challenge, ChallengeProgress
from loyalty_app.challenges.services import (
    challenge_backfill_run,
    challenge_create,
    member_challenges_evaluate,
)
from loyalty_app.common.time import now
from loyalty_app.earning.domain import CustomerRef, Purchase, PurchaseLine
from loyalty_app.earning.services import order_sync
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.selectors import ledger_balance
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from tests.concurrency import run_concurrently

from .conftest import day

pytestmark = pytest.mark.django_db(transaction=True)


def purchase(order_id: int, customer: str) -> Purchase:
    return Purchase(
        external_id=str(order_id),
        currency="USD",
        customer=CustomerRef(external_id=customer, email=f"{customer}@example.com"),
        placed_at=now() - timedelta(days=2),
        updated_at=now(),
        paid=True,
        lines=(PurchaseLine(line_id=f"{order_id}-1", amount=Decimal("30.00")),),
    )


def two_orders_challenge(shop: Shop) -> int:
    """Active "2 orders" for 10 points, its catch-up not yet run (the test runs it)."""
    made = challenge_create(
        shop=shop,
        data={
            "name": "Two orders",
            "block": "orders_count",
            "orders": 2,
            "reward_points": 10,
            "starts_on": day(-30),
            "ends_on": day(30),
        },
        actor="t",
    )
    Challenge.objects.filter(pk=made.pk).update(status="active", activated_at=now())
    return made.pk


def in_thread(work: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # asserted on by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, errors


def a_session_waits_on_a_lock(timeout: float = 20) -> bool:
    """Whether another session of this database is blocked on a row lock (polled)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


def assert_settled(shop: Shop, customer: str, challenge_id: int) -> None:
    """Two orders, complete, 10 points given once under the first grant's key, and a
    fresh per-member evaluation changes nothing."""
    member = Member.objects.get(shop=shop, external_id=customer)
    row = ChallengeProgress.objects.get(challenge_id=challenge_id, member=member)
    assert (row.value, row.confirmed_value, row.completed, row.completions) == (2, 2, True, 1)
    entries = LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.CHALLENGE)
    assert list(entries.values_list("idempotency_key", "points")) == [
        (f"challenge:{challenge_id}:{member.pk}:c1", 10)
    ]
    [again] = member_challenges_evaluate(
        shop=shop, member=member, challenges=[Challenge.objects.get(pk=challenge_id)]
    )
    assert (again.value, again.completed, again.granted, again.revoked) == (2, True, False, False)
    member.refresh_from_db()
    assert member.points_balance == ledger_balance(member=member) == 2 * 30 + 10


def test_a_webhook_during_a_batch_waits_and_recomputes_after_it(shop, monkeypatch):
    # Given a member with one order, and "2 orders" activated
    order_sync(shop=shop.shop, purchase=purchase(1, "501"), actor="t")
    challenge = two_orders_challenge(shop.shop)
    read, go = threading.Event(), threading.Event()
    counted: list[int] = []
    original = services.members_counted_orders

    def pause_after_reading(**kwargs: Any) -> Any:
        orders = original(**kwargs)
        counted.extend(len(o) for o in orders.values())
        read.set()
        go.wait(20)
        return orders

    monkeypatch.setattr(services, "members_counted_orders", pause_after_reading)

    # When the catch-up has locked the member and read one order...
    catch_up, catch_up_errors = in_thread(lambda: challenge_backfill_run(challenge_id=challenge))
    assert read.wait(20)
    # ...and the member's second order arrives meanwhile
    webhook, webhook_errors = in_thread(
        lambda: order_sync(shop=shop.shop, purchase=purchase(2, "501"), actor="t")
    )

    # Then the webhook waits for the batch (it cannot finish while the batch holds the lock)
    assert a_session_waits_on_a_lock()
    assert webhook.is_alive()
    go.set()
    catch_up.join(30)
    webhook.join(30)
    assert catch_up_errors == [] and webhook_errors == []
    # The batch wrote what it read (1 order); the webhook, after it, recomputed 2 and gave
    # the reward once
    assert counted == [1]
    assert_settled(shop.shop, "501", challenge)


def test_a_batch_waits_for_a_webhook_and_reads_what_it_committed(shop, monkeypatch):
    # Given a member with one order, and "2 orders" activated
    order_sync(shop=shop.shop, purchase=purchase(1, "501"), actor="t")
    challenge = two_orders_challenge(shop.shop)
    synced, go = threading.Event(), threading.Event()
    counted: list[int] = []
    original = services.members_counted_orders

    def record(**kwargs: Any) -> Any:
        orders = original(**kwargs)
        counted.extend(len(o) for o in orders.values())
        return orders

    monkeypatch.setattr(services, "members_counted_orders", record)

    def slow_webhook() -> None:
        with transaction.atomic():
            order_sync(shop=shop.shop, purchase=purchase(2, "501"), actor="t")
            synced.set()
            go.wait(20)  # still holding the order's and the member's locks

    # When the second order's webhook is processing (not committed yet)...
    webhook, webhook_errors = in_thread(slow_webhook)
    assert synced.wait(20)
    # ...and the catch-up starts
    catch_up, catch_up_errors = in_thread(lambda: challenge_backfill_run(challenge_id=challenge))

    # Then the batch waits for the member's lock, and reads both orders once it has it
    assert a_session_waits_on_a_lock()
    assert catch_up.is_alive()
    go.set()
    webhook.join(30)
    catch_up.join(30)
    assert catch_up_errors == [] and webhook_errors == []
    assert counted == [2]
    assert_settled(shop.shop, "501", challenge)


def test_a_catch_up_racing_many_webhooks_ends_as_the_orders_say(shop):
    # Given 6 members with one order each, and "2 orders" activated
    customers = [str(600 + i) for i in range(6)]
    for i, customer in enumerate(customers):
        order_sync(shop=shop.shop, purchase=purchase(100 + i, customer), actor="t")
    challenge = two_orders_challenge(shop.shop)

    # When the catch-up (batches of 2) runs while each member's second order arrives
    def work(i: int) -> Any:
        if i == 0:
            return challenge_backfill_run(challenge_id=challenge, batch_size=2)
        return order_sync(shop=shop.shop, purchase=purchase(200 + i, customers[i - 1]), actor="t")

    _, errors = run_concurrently(work, 1 + len(customers))

    # Then every member completed once, whichever came first
    assert errors == []
    for customer in customers:
        assert_settled(shop.shop, customer, challenge)
    assert Challenge.objects.get(pk=challenge).backfilled_at is not None
