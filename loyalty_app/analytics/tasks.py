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


# A first build (or a rebuild after a new zone or rollup layout) reads a shop's whole
# history: about 6 minutes at 1,000,000 members and 5,000,000 orders (bench/analytics.py),
# beyond the global limits; the incremental runs take seconds.
@shared_task(
    name="analytics.rollups_refresh_shop",
    acks_late=True,
    soft_time_limit=30 * 60,
    time_limit=32 * 60,
)
def rollups_refresh_shop(shop_id: int) -> int:
    # Checked again here: the shop may have been uninstalled since the fan-out.
    shop = Shop.objects.filter(pk=shop_id, state=Shop.State.INSTALLED).first()
    if shop is None:
        return 0
    return services.rollups_refresh(shop=shop).members
