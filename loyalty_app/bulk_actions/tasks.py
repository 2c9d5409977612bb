"""Thin Celery tasks: they take ids and call one service."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from loyalty_app.common.time import now

from . import selectors, services


# A large file takes minutes, not the global 240 s; an upload stopped anyway (time
# limit, killed worker) resumes after its last committed batch when run again.
@shared_task(
    name="bulk_actions.bulk_award_run",
    acks_late=True,
    autoretry_for=services.TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=1800,
    time_limit=1900,
)
def bulk_award_run(award_id: int) -> str:
    return services.bulk_award_run(award_id=award_id).status


# Longer than a run may last (time_limit above), so an upload still running is left alone.
STALLED_AFTER = timedelta(minutes=35)


@shared_task(name="bulk_actions.bulk_awards_sweep", acks_late=True)
def bulk_awards_sweep() -> int:
    """Run again the uploads whose message was lost or whose worker died."""
    stalled = selectors.bulk_awards_stalled(before=now() - STALLED_AFTER)
    for award_id in stalled:
        bulk_award_run.delay(award_id)
    return len(stalled)
