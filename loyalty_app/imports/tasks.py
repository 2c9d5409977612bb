"""Thin Celery tasks: they take ids and call one service."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from loyalty_app.common.time import now

from . import selectors, services


# An import of the largest allowed file takes minutes, not the global 240 s; a job that
# is stopped anyway (time limit, killed worker) resumes after its last committed batch
# when the message is delivered again.
@shared_task(
    name="imports.import_job_run",
    acks_late=True,
    autoretry_for=services.TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=1800,
    time_limit=1900,
)
def import_job_run(job_id: int) -> str:
    return services.import_job_run(job_id=job_id).status


# Longer than a run may last (time_limit above), so a job still running is left alone.
STALLED_AFTER = timedelta(minutes=35)


@shared_task(name="imports.import_jobs_sweep", acks_late=True)
def import_jobs_sweep() -> int:
    """Run again the imports whose message was lost or whose worker died."""
    stalled = selectors.import_jobs_stalled(before=now() - STALLED_AFTER)
    for job_id in stalled:
        import_job_run.delay(job_id)
    return len(stalled)
