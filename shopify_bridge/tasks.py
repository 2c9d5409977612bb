"""Thin Celery tasks: they take ids and call one service."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services
from .admin_api import AdminApiTransientError


@shared_task(
    name="shopify_bridge.webhook_event_process",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError, AdminApiTransientError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def webhook_event_process(event_id: int) -> str:
    return services.webhook_event_process(event_id=event_id)


@shared_task(name="shopify_bridge.webhook_events_sweep", acks_late=True)
def webhook_events_sweep() -> int:
    return services.webhook_events_sweep()
