"""The stored-event path: receive once, process idempotently, sweep what was lost."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q

from loyalty_app.common.time import now
from loyalty_app.shops.models import Shop

from .admin_api import AdminApiTransientError
from .handlers import webhook_apply, webhook_prepare
from .models import WebhookEvent
from .translate import PayloadError

logger = logging.getLogger(__name__)

# Errors that a later attempt can get past: the database or broker was briefly away, or
# the shop's Admin API (product facts) failed, timed out or throttled us.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    AdminApiTransientError,
)


@dataclass(frozen=True)
class Receipt:
    event_id: int | None
    duplicate: bool


def _enqueue(event_id: int) -> None:
    """Hand an event to a worker. A broker outage loses nothing: the sweeper retries."""
    from .tasks import webhook_event_process

    try:
        webhook_event_process.delay(event_id)
    except Exception:  # The event is stored; the sweeper re-enqueues it after the grace period.
        logger.warning(
            "could not enqueue webhook event %s; the sweeper will retry it", event_id, exc_info=True
        )


def webhook_event_receive(
    *,
    shop: Shop,
    webhook_id: str,
    topic: str,
    payload: Any,
    event_id: str = "",
    api_version: str = "",
    triggered_at: datetime | None = None,
) -> Receipt:
    """Store a verified delivery once and enqueue its processing after commit."""
    context = {"shop": shop.domain, "webhook_id": webhook_id, "topic": topic}
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                shop=shop,
                webhook_id=webhook_id,
                event_id=event_id,
                topic=topic,
                api_version=api_version,
                triggered_at=triggered_at,
                payload=payload,
                next_attempt_at=now() + timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS),
            )
            transaction.on_commit(lambda: _enqueue(event.pk))
    except IntegrityError:
        # Only the (shop, webhook id) constraint means "already received"; anything else
        # (the shop was deleted meanwhile) is the caller's to handle.
        if not WebhookEvent.objects.filter(shop=shop, webhook_id=webhook_id).exists():
            raise
        logger.info("duplicate webhook %s for %s ignored", webhook_id, shop.domain, extra=context)
        return Receipt(event_id=None, duplicate=True)
    logger.info(
        "webhook %s %s accepted for %s as event %s",
        topic,
        webhook_id,
        shop.domain,
        event.pk,
        extra={**context, "event": event.pk},
    )
    return Receipt(event_id=event.pk, duplicate=False)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 15 * 2 ** max(0, attempts - 1)))


def _claim(event_id: int) -> bool:
    """Move an event to processing unless it is done, permanently failed, or being
    processed by a live worker. A single UPDATE, so two workers cannot both claim it."""
    moment = now()
    stale = moment - timedelta(seconds=settings.WEBHOOK_PROCESSING_STALE_SECONDS)
    claimable = (
        Q(status=WebhookEvent.Status.RECEIVED)
        | Q(status=WebhookEvent.Status.FAILED, next_attempt_at__isnull=False)
        | Q(status=WebhookEvent.Status.PROCESSING, started_at__lt=stale)
    )
    return bool(
        WebhookEvent.objects.filter(claimable, pk=event_id).update(
            status=WebhookEvent.Status.PROCESSING,
            attempts=F("attempts") + 1,
            started_at=moment,
            next_attempt_at=moment + timedelta(seconds=settings.WEBHOOK_PROCESSING_STALE_SECONDS),
        )
    )


def _fail(
    event: WebhookEvent, error: BaseException, *, retry: bool, transient: bool = False
) -> None:
    """Record a failed attempt. A transient error (the database, the broker or the shop's
    Admin API away for a while) is always tried again, with a backoff capped at an hour:
    giving up would lose an order whose only fault is an outage. Any other error is tried
    up to WEBHOOK_MAX_ATTEMPTS times, then left for an operator (``replay``)."""
    retry = retry and (transient or event.attempts < settings.WEBHOOK_MAX_ATTEMPTS)
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=WebhookEvent.Status.FAILED,
        last_error=f"{type(error).__name__}: {error}"[:2000],
        next_attempt_at=now() + _backoff(event.attempts) if retry else None,
    )


def webhook_event_process(*, event_id: int) -> str:
    """Process a stored event: claim it, apply it to the engine, record the outcome.

    Returns "done", "ignored" (stored only), "skipped" (not claimable) or "failed".
    Raises the transient error after recording it, so the task can retry; the event stays
    due for the sweeper too (``failed`` with a ``next_attempt_at``), so nothing is lost.

    The payload is prepared first, outside any transaction: a handler may need the shop's
    Admin API (product facts), and no row lock or open transaction waits on Shopify.
    """
    if not _claim(event_id):
        return "skipped"
    event = WebhookEvent.objects.select_related("shop").get(pk=event_id)
    actor = f"webhook:{event.topic}:{event.webhook_id}"
    context = {
        "shop": event.shop.domain,
        "webhook_id": event.webhook_id,
        "topic": event.topic,
        "event": event.pk,
    }
    try:
        prepared = webhook_prepare(
            shop=event.shop,
            topic=event.topic,
            payload=event.payload,
            occurred_at=event.triggered_at or event.received_at,
        )
        with transaction.atomic():
            if prepared is not None:
                webhook_apply(shop=event.shop, prepared=prepared, actor=actor)
            WebhookEvent.objects.filter(pk=event.pk).update(
                status=WebhookEvent.Status.DONE,
                processed_at=now(),
                next_attempt_at=None,
                last_error="",
            )
    except PayloadError as exc:
        logger.warning(
            "webhook event %s (%s) has a bad payload: %s",
            event.pk,
            event.webhook_id,
            exc,
            extra=context,
        )
        _fail(event, exc, retry=False)
        return "failed"
    except TRANSIENT_ERRORS as exc:
        logger.warning(
            "webhook event %s hit a transient error, will retry: %s", event.pk, exc, extra=context
        )
        _fail(event, exc, retry=True, transient=True)
        raise
    except Exception as exc:
        # Not transient (a bug, a constraint): a fix is needed. Record it, keep retrying
        # with backoff up to the attempt limit, and keep it visible to operators.
        logger.exception("webhook event %s (%s) failed", event.pk, event.webhook_id, extra=context)
        _fail(event, exc, retry=True)
        return "failed"
    return "done" if prepared is not None else "ignored"


def broker_queue_length() -> int | None:
    """Messages waiting in the task queue; 0 in eager mode, None if the broker cannot say."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return 0
    from loyalty_app.celery import app

    try:
        with app.connection_for_read() as conn:
            declared = conn.default_channel.queue_declare(
                queue=app.conf.task_default_queue, passive=True
            )
            return int(declared.message_count)
    except Exception:  # Unknown: the sweep then behaves as if the queue were empty.
        logger.warning("could not read the broker's queue length", exc_info=True)
        return None


def webhook_events_sweep(*, limit: int = 1000) -> int:
    """Re-enqueue stored events that are due: never enqueued or lost by the broker,
    abandoned by a dead worker, or waiting out a retry backoff.

    A received event past its grace period is presumed lost only while the broker's
    queue is (nearly) empty: behind a long queue it is most likely still waiting its
    turn, and enqueuing it again would only add work. Once the queue drains, every
    event still unprocessed is certainly lost and is re-enqueued; under a backlog that
    never drains, after WEBHOOK_SWEEP_MAX_WAIT_SECONDS at the latest.
    """
    moment = now()
    due_events = WebhookEvent.objects.filter(next_attempt_at__lte=moment).exclude(
        status=WebhookEvent.Status.DONE
    )
    queued = broker_queue_length()
    if queued is not None and queued > settings.WEBHOOK_SWEEP_MAX_QUEUE:
        # Still, nothing waits longer than WEBHOOK_SWEEP_MAX_WAIT_SECONDS: a worker that
        # meets a copy of an event already done skips it.
        patience = moment - timedelta(seconds=settings.WEBHOOK_SWEEP_MAX_WAIT_SECONDS)
        due_events = due_events.exclude(
            Q(status=WebhookEvent.Status.RECEIVED) & Q(received_at__gte=patience)
        )
    with transaction.atomic():
        due = list(
            due_events.select_for_update(skip_locked=True)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if not due:
            return 0
        # Push the next look a grace period out, so a queued event is not enqueued
        # again on every sweep; processing resets it anyway.
        WebhookEvent.objects.filter(pk__in=due).update(
            next_attempt_at=moment + timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS)
        )
        for pk in due:
            transaction.on_commit(lambda pk=pk: _enqueue(pk))
    logger.info("sweeper re-enqueued %d webhook events", len(due))
    return len(due)


def webhook_event_replay(*, event: WebhookEvent) -> None:
    """Make a failed or stuck event processable again (an operator's decision) and enqueue it."""
    with transaction.atomic():
        WebhookEvent.objects.filter(pk=event.pk).exclude(status=WebhookEvent.Status.DONE).update(
            status=WebhookEvent.Status.RECEIVED,
            next_attempt_at=now() + timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS),
        )
        transaction.on_commit(lambda: _enqueue(event.pk))
