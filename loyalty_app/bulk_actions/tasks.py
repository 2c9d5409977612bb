"""Thin Celery tasks: they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from loyalty_app.common.longruns import LONG_RUN_OPTIONS, stalled_rerun

from . import selectors, services


# A large file takes minutes; an upload stopped anyway resumes after its last committed
# batch when run again.
@shared_task(name="bulk_actions.bulk_award_run", **LONG_RUN_OPTIONS)
def bulk_award_run(award_id: int) -> str:
    return services.bulk_award_run(award_id=award_id).status


@shared_task(name="bulk_actions.bulk_awards_sweep", acks_late=True)
def bulk_awards_sweep() -> int:
    """Run again the uploads whose message was lost or whose worker died."""
    return stalled_rerun(stalled=selectors.bulk_awards_stalled, task=bulk_award_run)
