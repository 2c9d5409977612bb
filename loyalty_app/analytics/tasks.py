"""Thin Celery tasks for the analytics rollups; the schedule is in ``loyalty_app/celery.py``."""

from __future__ import annotations

from celery import shared_task
from django.db import connection

from loyalty_app.shops.models import Shop

from . import services


@shared_task(name="analytics.rollups_refresh_all", acks_late=True)
def rollups_refresh_all() -> int:
    """Fan out the rollup refresh: one task per installed shop."""
    if connection.vendor != "postgresql":
        return 0  # the figures (and so their rollups) need PostgreSQL
    shop_ids = list(Shop.objects.filter(state=Shop.State.INSTALLED).values_list("pk", flat=True))
    for shop_id in shop_ids:
        rollups_refresh_shop.delay(shop_id)
    return len(shop_ids)


@shared_task(name="analytics.rollups_refresh_shop", acks_late=True)
def rollups_refresh_shop(shop_id: int) -> int:
    # Checked again here: the shop may have been uninstalled since the fan-out.
    shop = Shop.objects.filter(pk=shop_id, state=Shop.State.INSTALLED).first()
    if shop is None:
        return 0
    return services.rollups_refresh(shop=shop).members
