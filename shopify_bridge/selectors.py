from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet

from loyalty_app.common.time import now

from .models import WebhookEvent

UNFINISHED = (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.PROCESSING)


@dataclass(frozen=True)
class Backlog:
    unprocessed: int
    failed: int
    oldest_unprocessed_at: datetime | None


def webhook_backlog() -> Backlog:
    """Events not yet done, across shops (an operator's figure), with the oldest one's age."""
    row = WebhookEvent.objects.filter(
        Q(status__in=UNFINISHED)
        | Q(status=WebhookEvent.Status.FAILED, next_attempt_at__isnull=False)
    ).aggregate(count=Count("id"), oldest=Min("received_at"))
    failed = WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).count()
    return Backlog(unprocessed=row["count"], failed=failed, oldest_unprocessed_at=row["oldest"])


def webhook_events_stuck(*, older_than: timedelta) -> QuerySet[WebhookEvent]:
    """Unfinished events received longer ago than ``older_than``."""
    return WebhookEvent.objects.filter(status__in=UNFINISHED, received_at__lt=now() - older_than)


def webhook_events_failed() -> QuerySet[WebhookEvent]:
    return WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED)
