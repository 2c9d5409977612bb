from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from loyalty_app.shops.models import Shop

from .models import ImportJob


def import_jobs_for_shop(*, shop: Shop) -> QuerySet[ImportJob]:
    """The shop's imports, newest first, without the stored files (up to 20 MB each)."""
    return ImportJob.objects.filter(shop=shop).defer("content").order_by("-id")


def import_job_get(*, shop: Shop, job_id: int) -> ImportJob | None:
    """One of ``shop``'s imports; another shop's is simply not found."""
    return import_jobs_for_shop(shop=shop).filter(pk=job_id).first()


def import_jobs_stalled(*, before: datetime) -> list[int]:
    """Ids of unfinished imports not touched since ``before``: their message was lost or
    their worker died. Running one again is safe: it resumes after its last batch.
    An uninstalled shop's imports wait for a re-install."""
    return list(
        ImportJob.objects.filter(
            status__in=(ImportJob.Status.RECEIVED, ImportJob.Status.PROCESSING),
            updated_at__lt=before,
            shop__state=Shop.State.INSTALLED,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:100]
    )
