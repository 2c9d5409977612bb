"""Thin Celery tasks for redemptions; the schedule is in ``loyalty_app/celery.py``."""

from __future__ import annotations

from celery import shared_task

from . import billing, lifecycle, punch_cards


@shared_task(name="rewards.redemptions_expire_due", acks_late=True)
def redemptions_expire_due() -> int:
    """Expire unused codes past their end (points back where the reward says so)."""
    return lifecycle.redemptions_expire_due()


@shared_task(name="rewards.usage_charges_record_missing", acks_late=True)
def usage_charges_record_missing() -> int:
    """Record the usage charge of any delivered redemption that has none."""
    return billing.usage_charges_record_missing()


@shared_task(name="rewards.punch_cards_sweep", acks_late=True)
def punch_cards_sweep() -> int:
    """Grant the punch-card fills reached by recently changed orders."""
    return punch_cards.punch_cards_sweep()
