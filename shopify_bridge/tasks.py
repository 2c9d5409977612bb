"""Thin Celery tasks: they take ids and call one service."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import outbox, services
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


# Retries of a failed Admin API call are the outbox's own (its backoff, the throttle
# status); only the database being away retries the task itself.
@shared_task(
    name="shopify_bridge.admin_call_perform",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def admin_call_perform(call_id: int) -> str:
    return outbox.admin_call_perform(call_id=call_id)


@shared_task(name="shopify_bridge.admin_calls_sweep", acks_late=True)
def admin_calls_sweep() -> int:
    return outbox.admin_calls_sweep()


@shared_task(name="shopify_bridge.balances_publish_all", acks_late=True)
def balances_publish_all() -> int:
    """Fan out: one task per installed shop (customer metafields of changed balances)."""
    from loyalty_app.shops.models import Shop

    shop_ids = list(Shop.objects.filter(state=Shop.State.INSTALLED).values_list("pk", flat=True))
    for shop_id in shop_ids:
        balances_publish_shop.delay(shop_id)
    return len(shop_ids)


@shared_task(
    name="shopify_bridge.balances_publish_shop",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    max_retries=5,
)
def balances_publish_shop(shop_id: int) -> int:
    from loyalty_app.shops.models import Shop

    from .balance_sync import balances_publish

    shop = Shop.objects.filter(pk=shop_id, state=Shop.State.INSTALLED).first()
    return balances_publish(shop=shop) if shop is not None else 0
