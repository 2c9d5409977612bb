"""Thin Celery tasks for the earning program; the schedule is in ``loyalty_app/celery.py``."""

from __future__ import annotations

from celery import shared_task

from loyalty_app.shops.models import Shop

from . import expiry, services


@shared_task(name="earning.orders_confirm_due", acks_late=True)
def orders_confirm_due() -> int:
    """Make the points of orders past their return window spendable."""
    return services.orders_confirm_due()


@shared_task(name="earning.points_expire_all", acks_late=True)
def points_expire_all() -> int:
    """Fan out the expiry job: one task per installed shop."""
    shop_ids = list(Shop.objects.filter(state=Shop.State.INSTALLED).values_list("pk", flat=True))
    for shop_id in shop_ids:
        points_expire_shop.delay(shop_id)
    return len(shop_ids)


@shared_task(name="earning.points_expire_shop", acks_late=True)
def points_expire_shop(shop_id: int) -> int:
    # Checked again here: the shop may have been uninstalled since the fan-out.
    shop = Shop.objects.filter(pk=shop_id, state=Shop.State.INSTALLED).first()
    if shop is None:
        return 0
    return expiry.shop_points_expire(shop=shop).points_expired
