"""Thin Celery tasks for challenges; the schedule is in ``loyalty_app/celery.py``."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from . import services


# A catch-up over many members can outlast the global time limit; one stopped anyway
# resumes after its last finished batch when the sweep finds it.
@shared_task(
    name="challenges.challenge_backfill",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=8,
    soft_time_limit=3600,
    time_limit=3700,
)
def challenge_backfill(challenge_id: int) -> int:
    """Count the orders and actions members made in an activated challenge's dates."""
    return services.challenge_backfill_run(challenge_id=challenge_id)


@shared_task(name="challenges.challenge_backfills_resume", acks_late=True)
def challenge_backfills_resume() -> int:
    """Finish the activation catch-ups whose message was lost or whose worker died."""
    return services.challenge_backfills_resume()
