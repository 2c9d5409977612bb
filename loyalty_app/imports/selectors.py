from __future__ import annotations

from django.db.models import QuerySet

from loyalty_app.shops.models import Shop

from .models import ImportJob


def import_jobs_for_shop(*, shop: Shop) -> QuerySet[ImportJob]:
    """The shop's imports, newest first, without the stored files (up to 20 MB each)."""
    return ImportJob.objects.filter(shop=shop).defer("content").order_by("-id")


def import_job_get(*, shop: Shop, job_id: int) -> ImportJob | None:
    """One of ``shop``'s imports; another shop's is simply not found."""
    return import_jobs_for_shop(shop=shop).filter(pk=job_id).first()
