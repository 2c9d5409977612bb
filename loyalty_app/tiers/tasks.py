"""Thin Celery tasks: they take ids and call one service."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from loyalty_app.common.time import now

from . import services
from .models import TierEvaluationJob


# A re-evaluation of a million members takes minutes, not the global 240 s; a job stopped
# anyway (time limit, killed worker) resumes after its last committed batch when the
# message is delivered again or the sweep finds it.
@shared_task(
    name="tiers.tier_evaluation_run",
    acks_late=True,
    autoretry_for=services.TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=3600,
    time_limit=3700,
)
def tier_evaluation_run(job_id: int) -> str:
    job = services.tier_evaluation_run(job_id=job_id)
    return job.status if job is not None else "missing"


@shared_task(name="tiers.tier_period_end_all", acks_late=True)
def tier_period_end_all() -> int:
    return services.tier_period_end_all()


# A running job writes its progress after every batch (seconds apart); one silent this
# long lost its worker or its message.
STALLED_AFTER = timedelta(minutes=10)


@shared_task(name="tiers.tier_evaluations_sweep", acks_late=True)
def tier_evaluations_sweep() -> int:
    """Run again the evaluations whose message was lost or whose worker died."""
    stalled = list(
        TierEvaluationJob.objects.filter(
            status__in=(TierEvaluationJob.Status.PENDING, TierEvaluationJob.Status.RUNNING),
            updated_at__lt=now() - STALLED_AFTER,
        ).values_list("pk", flat=True)
    )
    for job_id in stalled:
        tier_evaluation_run.delay(job_id)
    return len(stalled)
