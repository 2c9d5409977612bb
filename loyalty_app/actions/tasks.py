"""Thin Celery tasks for actions: the birthday job, fanned out one task per shop."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from loyalty_app.shops.models import Shop

from . import selectors, services


@shared_task(name="actions.birthdays_award_all", acks_late=True)
def birthdays_award_all() -> int:
    """Enqueue the birthday job of every shop whose program has birthdays enabled.

    Safe to run as often as hourly: each shop's job is idempotent, and running hourly
    puts a run soon after every shop's local midnight, whatever its time zone.
    """
    shop_ids = list(selectors.shops_with_action(key=services.BIRTHDAY))
    for shop_id in shop_ids:
        birthdays_award_shop.delay(shop_id)
    return len(shop_ids)


@shared_task(
    name="actions.birthdays_award_shop",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def birthdays_award_shop(shop_id: int) -> int:
    shop = Shop.objects.filter(pk=shop_id, state=Shop.State.INSTALLED).first()
    if shop is None:
        return 0
    return services.birthdays_award(shop=shop)
