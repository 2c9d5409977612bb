"""Thin Celery tasks: they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from loyalty_app.common.longruns import LONG_RUN_OPTIONS, stalled_rerun

from . import selectors, services


# An import of the largest allowed file takes minutes; a job that is stopped anyway
# resumes after its last committed batch when the message is delivered again.
@shared_task(name="imports.import_job_run", **LONG_RUN_OPTIONS)
def import_job_run(job_id: int) -> str:
    return services.import_job_run(job_id=job_id).status


@shared_task(name="imports.import_jobs_sweep", acks_late=True)
def import_jobs_sweep() -> int:
    """Run again the imports whose message was lost or whose worker died."""
    return stalled_rerun(stalled=selectors.import_jobs_stalled, task=import_job_run)
