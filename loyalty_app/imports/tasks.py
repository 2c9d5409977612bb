"""Thin Celery tasks: they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from . import services


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
