"""Stored webhook events: received -> processing -> done | failed, retries, the sweeper, replay."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client

from loyalty_app.common.time import now
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from shopify_bridge import handlers, services, tasks
from shopify_bridge.devstore.client import webhook_headers
from shopify_bridge.devstore.payloads import LineSpec, order_payload
from shopify_bridge.models import WebhookEvent

Status = WebhookEvent.Status


def paid_order() -> dict[str, Any]:
    return order_payload(
        order_id=1001, customer_id=501, lines=[LineSpec(price=Decimal("24.00"), quantity=2)]
    )


def receive(shop, topic: str = "orders/create", payload: Any = None) -> WebhookEvent:
    """Store an event as the receiver does. Inside a test transaction nothing commits, so its
    on-commit enqueue never runs: this is an event whose queue message was lost."""
    receipt = services.webhook_event_receive(
        shop=shop.shop,
        webhook_id=str(uuid.uuid4()),
        topic=topic,
        payload=paid_order() if payload is None else payload,
    )
    return WebhookEvent.objects.get(pk=receipt.event_id)


def process(event: WebhookEvent) -> str:
    return services.webhook_event_process(event_id=event.pk)


def balance() -> int:
    member = Member.objects.filter(external_id="501").first()
    return member.points_balance if member else 0


def set_fields(event: WebhookEvent, **fields: Any) -> None:
    WebhookEvent.objects.filter(pk=event.pk).update(**fields)
    event.refresh_from_db()


def near(moment, expected, seconds: float = 5) -> bool:
    return abs((moment - expected).total_seconds()) < seconds


@pytest.fixture
def broken_orders(monkeypatch):
    """Make orders/* handling fail as a bug would; undo() puts the real handler back."""

    class Broken:
        def __init__(self) -> None:
            self.error: BaseException = RuntimeError("boom")
            real = handlers.HANDLERS["orders/create"]
            monkeypatch.setitem(
                handlers.HANDLERS, "orders/create", handlers.Handler(real.prepare, self.raise_)
            )

        def raise_(self, *args: Any) -> None:
            raise self.error

        def undo(self) -> None:
            monkeypatch.undo()

    return Broken()


# --- the normal path -------------------------------------------------------------------------


def test_a_received_event_waits_for_its_worker_with_a_grace_deadline(shop, settings):
    settings.WEBHOOK_SWEEP_GRACE_SECONDS = 60

    event = receive(shop)

    assert (event.status, event.attempts, event.last_error) == (Status.RECEIVED, 0, "")
    assert near(event.next_attempt_at, now() + timedelta(seconds=60))
    assert event.processed_at is None
    assert LedgerEntry.objects.count() == 0


def test_processing_moves_an_event_to_done_and_applies_it(shop):
    event = receive(shop)

    outcome = process(event)

    event.refresh_from_db()
    assert outcome == "done"
    assert (event.status, event.attempts, event.last_error) == (Status.DONE, 1, "")
    assert event.next_attempt_at is None
    assert event.processed_at is not None and event.started_at is not None
    assert balance() == 48
    entry = LedgerEntry.objects.get()
    assert entry.actor == f"webhook:orders/create:{event.webhook_id}"


def test_a_done_event_processed_again_is_skipped(shop):
    event = receive(shop)
    process(event)

    outcome = process(event)

    event.refresh_from_db()
    assert outcome == "skipped"
    assert event.attempts == 1
    assert LedgerEntry.objects.count() == 1


def test_the_receiver_enqueues_only_after_commit(shop, client, django_capture_on_commit_callbacks):
    # given a signed webhook posted to the receiver
    body = json.dumps(paid_order()).encode()
    headers = webhook_headers(
        body=body,
        secret="dev-api-secret",
        topic="orders/create",
        shop_domain="alpha-store.myshopify.com",
    )
    del headers["Content-Type"]

    # when the request is answered, but before its transaction's on-commit jobs run
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = Client().post(
            "/shopify/webhooks", data=body, content_type="application/json", headers=headers
        )

    # then it is stored, not yet processed, and one job waits for the commit
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == Status.RECEIVED
    assert balance() == 0
    assert len(callbacks) == 1

    # and running the job (eager Celery) processes it
    callbacks[0]()
    event.refresh_from_db()
    assert event.status == Status.DONE
    assert balance() == 48


def test_the_task_function_processes_an_event(shop):
    event = receive(shop)

    assert tasks.webhook_event_process(event.pk) == "done"
    assert balance() == 48


def test_an_event_for_a_topic_the_engine_does_not_act_on_is_stored_and_done(shop):
    event = receive(shop, topic="collections/update", payload={"id": 841564295, "title": "IPods"})

    outcome = process(event)

    event.refresh_from_db()
    assert outcome == "ignored"
    assert (event.status, event.attempts, event.next_attempt_at) == (Status.DONE, 1, None)
    assert LedgerEntry.objects.count() == 0
    assert Member.objects.count() == 0


def test_a_customer_event_creates_the_member(shop):
    event = receive(
        shop,
        topic="customers/create",
        payload={"id": 501, "email": "ada@example.com", "first_name": "Ada"},
    )

    assert process(event) == "done"
    member = Member.objects.get(shop=shop.shop, external_id="501")
    assert (member.email, member.first_name, member.points_balance) == ("ada@example.com", "Ada", 0)


# --- failures ------------------------------------------------------------------------------


def test_a_bad_payload_fails_for_good_with_a_readable_error(shop):
    # given an order whose line_items is not a list
    payload = paid_order()
    payload["line_items"] = "two coffees"
    event = receive(shop, payload=payload)

    outcome = process(event)

    # then it fails, says why, and is not scheduled again: retrying cannot help
    event.refresh_from_db()
    assert outcome == "failed"
    assert event.status == Status.FAILED
    assert event.last_error == "PayloadError: line_items must be a JSON array"
    assert event.next_attempt_at is None
    assert event.attempts == 1
    assert LedgerEntry.objects.count() == 0
    assert process(event) == "skipped"


def test_a_bad_payload_rolls_back_everything_the_event_did(shop):
    # given an order whose customer is valid but whose second line is not
    payload = paid_order()
    payload["line_items"].append({"id": 5, "price": "ten"})
    event = receive(shop, payload=payload)

    process(event)

    assert Member.objects.count() == 0
    assert LedgerEntry.objects.count() == 0


def test_an_unexpected_error_is_recorded_and_retried_with_backoff(shop, broken_orders):
    event = receive(shop)

    outcome = process(event)

    event.refresh_from_db()
    assert outcome == "failed"
    assert (event.status, event.attempts) == (Status.FAILED, 1)
    assert event.last_error == "RuntimeError: boom"
    assert near(event.next_attempt_at, now() + timedelta(seconds=15))

    # a second failure waits twice as long
    assert process(event) == "failed"
    event.refresh_from_db()
    assert event.attempts == 2
    assert near(event.next_attempt_at, now() + timedelta(seconds=30))

    # once fixed, the next attempt succeeds and the attempts are all counted
    broken_orders.undo()
    assert process(event) == "done"
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == (Status.DONE, 3, "")
    assert balance() == 48


def test_an_event_is_given_up_after_the_attempt_limit(shop, broken_orders, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    event = receive(shop)

    outcomes = [process(event) for _ in range(4)]

    event.refresh_from_db()
    assert outcomes == ["failed", "failed", "failed", "skipped"]
    assert (event.status, event.attempts, event.next_attempt_at) == (Status.FAILED, 3, None)


def test_a_transient_error_is_recorded_and_raised_for_the_task_to_retry(shop, broken_orders):
    broken_orders.error = OperationalError("database went away")
    event = receive(shop)

    with pytest.raises(OperationalError):
        process(event)

    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.FAILED, 1)
    assert event.last_error == "OperationalError: database went away"
    assert event.next_attempt_at is not None

    broken_orders.undo()
    assert process(event) == "done"
    event.refresh_from_db()
    assert event.attempts == 2


# --- the sweeper -----------------------------------------------------------------------------


def sweep(django_capture_on_commit_callbacks, *, execute: bool = True) -> int:
    with django_capture_on_commit_callbacks(execute=execute):
        return tasks.webhook_events_sweep()


def test_the_sweeper_processes_an_event_whose_queue_message_was_lost(
    shop, django_capture_on_commit_callbacks
):
    # given a stored event that never reached a worker, past its grace period
    event = receive(shop)
    set_fields(event, next_attempt_at=now() - timedelta(seconds=1))

    # when the sweeper runs (Celery eager)
    swept = sweep(django_capture_on_commit_callbacks)

    # then it is processed
    event.refresh_from_db()
    assert swept == 1
    assert (event.status, event.attempts) == (Status.DONE, 1)
    assert balance() == 48


def test_the_sweeper_leaves_an_event_inside_its_grace_period(
    shop, django_capture_on_commit_callbacks
):
    event = receive(shop)

    assert sweep(django_capture_on_commit_callbacks) == 0

    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.RECEIVED, 0)


def test_the_sweeper_takes_back_an_event_abandoned_by_a_dead_worker(
    shop, django_capture_on_commit_callbacks, settings
):
    # given an event claimed an hour ago by a worker that died
    settings.WEBHOOK_PROCESSING_STALE_SECONDS = 360
    event = receive(shop)
    set_fields(
        event,
        status=Status.PROCESSING,
        attempts=1,
        started_at=now() - timedelta(hours=1),
        next_attempt_at=now() - timedelta(minutes=54),
    )

    swept = sweep(django_capture_on_commit_callbacks)

    event.refresh_from_db()
    assert swept == 1
    assert (event.status, event.attempts) == (Status.DONE, 2)
    assert balance() == 48


def test_an_event_a_live_worker_is_processing_is_not_taken_from_it(
    shop, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_PROCESSING_STALE_SECONDS = 360
    event = receive(shop)
    set_fields(
        event,
        status=Status.PROCESSING,
        attempts=1,
        started_at=now() - timedelta(seconds=10),
        next_attempt_at=now() - timedelta(seconds=1),  # even if it were enqueued again
    )

    sweep(django_capture_on_commit_callbacks)

    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.PROCESSING, 1)
    assert LedgerEntry.objects.count() == 0


def test_the_sweeper_never_enqueues_a_done_event(shop, django_capture_on_commit_callbacks):
    event = receive(shop)
    process(event)
    set_fields(event, next_attempt_at=now() - timedelta(hours=1))  # even one left with a date

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        swept = tasks.webhook_events_sweep()

    event.refresh_from_db()
    assert (swept, len(callbacks)) == (0, 0)
    assert (event.status, event.attempts) == (Status.DONE, 1)
    assert LedgerEntry.objects.count() == 1


def test_the_sweeper_leaves_an_event_that_failed_for_good(shop, django_capture_on_commit_callbacks):
    payload = paid_order()
    payload["id"] = "not-an-id"
    event = receive(shop, payload=payload)
    process(event)

    assert sweep(django_capture_on_commit_callbacks) == 0
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.FAILED, 1)


def test_the_sweeper_retries_a_failed_event_once_its_backoff_is_over(
    shop, broken_orders, django_capture_on_commit_callbacks
):
    event = receive(shop)
    process(event)
    broken_orders.undo()
    assert sweep(django_capture_on_commit_callbacks) == 0  # still inside the backoff

    set_fields(event, next_attempt_at=now() - timedelta(seconds=1))
    swept = sweep(django_capture_on_commit_callbacks)

    event.refresh_from_db()
    assert swept == 1
    assert (event.status, event.attempts) == (Status.DONE, 2)
    assert balance() == 48


def test_a_swept_event_is_not_enqueued_again_by_the_next_sweep(
    shop, django_capture_on_commit_callbacks, settings
):
    # given a due event, swept while the broker is slow to deliver it
    settings.WEBHOOK_SWEEP_GRACE_SECONDS = 60
    event = receive(shop)
    set_fields(event, next_attempt_at=now() - timedelta(seconds=1))
    assert sweep(django_capture_on_commit_callbacks, execute=False) == 1

    # when the sweeper runs again straight away
    again = sweep(django_capture_on_commit_callbacks, execute=False)

    # then it waits a grace period before enqueuing it once more
    event.refresh_from_db()
    assert again == 0
    assert near(event.next_attempt_at, now() + timedelta(seconds=60))


# --- replay ------------------------------------------------------------------------------------


def test_replay_makes_a_given_up_event_processable_again(
    shop, broken_orders, settings, django_capture_on_commit_callbacks
):
    # given an event that failed until it was given up, and then the bug was fixed
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    event = receive(shop)
    process(event)
    event.refresh_from_db()
    assert (event.status, event.next_attempt_at) == (Status.FAILED, None)
    broken_orders.undo()

    # when an operator replays it
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_event_replay(event=event)

    # then it is processed
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == (Status.DONE, 2, "")
    assert balance() == 48


def test_replaying_a_done_event_changes_nothing(shop, django_capture_on_commit_callbacks):
    event = receive(shop)
    process(event)

    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_event_replay(event=event)

    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.DONE, 1)
    assert LedgerEntry.objects.count() == 1
    assert balance() == 48


def test_the_sweeper_leaves_received_events_alone_while_the_queue_is_long(
    shop, monkeypatch, django_capture_on_commit_callbacks
):
    # Given a received event past its grace period and an abandoned one, behind a long queue
    import shopify_bridge.services as services

    past = now() - timedelta(seconds=1)
    waiting = WebhookEvent.objects.create(
        shop=shop.shop,
        webhook_id="q-1",
        topic="customers/create",
        payload={"id": 1},
        next_attempt_at=past,
    )
    abandoned = WebhookEvent.objects.create(
        shop=shop.shop,
        webhook_id="q-2",
        topic="customers/create",
        payload={"id": 2},
        status="processing",
        started_at=now() - timedelta(hours=1),
        next_attempt_at=past,
    )
    enqueued: list[int] = []
    monkeypatch.setattr(services, "_enqueue", enqueued.append)
    monkeypatch.setattr(services, "broker_queue_length", lambda: 500)

    # When the sweeper runs
    with django_capture_on_commit_callbacks(execute=True):
        count = services.webhook_events_sweep()

    # Then only the abandoned one is enqueued again; the waiting one keeps its turn
    assert count == 1
    assert enqueued == [abandoned.pk]
    waiting.refresh_from_db()
    assert waiting.next_attempt_at == past


def test_the_sweeper_recovers_received_events_once_the_queue_is_empty(
    shop, monkeypatch, django_capture_on_commit_callbacks
):
    import shopify_bridge.services as services

    lost = WebhookEvent.objects.create(
        shop=shop.shop,
        webhook_id="q-3",
        topic="customers/create",
        payload={"id": 3},
        next_attempt_at=now() - timedelta(seconds=1),
    )
    enqueued: list[int] = []
    monkeypatch.setattr(services, "_enqueue", enqueued.append)
    monkeypatch.setattr(services, "broker_queue_length", lambda: 0)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_events_sweep() == 1

    assert enqueued == [lost.pk]


def test_behind_a_queue_that_never_drains_a_received_event_waits_at_most_the_patience(
    shop, monkeypatch, settings, django_capture_on_commit_callbacks
):
    import shopify_bridge.services as services

    settings.WEBHOOK_SWEEP_MAX_WAIT_SECONDS = 600
    old = WebhookEvent.objects.create(
        shop=shop.shop,
        webhook_id="q-4",
        topic="customers/create",
        payload={"id": 4},
        next_attempt_at=now() - timedelta(seconds=1),
    )
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=now() - timedelta(seconds=601))
    young = WebhookEvent.objects.create(
        shop=shop.shop,
        webhook_id="q-5",
        topic="customers/create",
        payload={"id": 5},
        next_attempt_at=now() - timedelta(seconds=1),
    )
    enqueued: list[int] = []
    monkeypatch.setattr(services, "_enqueue", enqueued.append)
    monkeypatch.setattr(services, "broker_queue_length", lambda: 5000)

    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_events_sweep()

    assert enqueued == [old.pk]
    assert young.pk not in enqueued
