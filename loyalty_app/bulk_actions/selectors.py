"""Reads of bulk awards: always one shop's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q

from loyalty_app.shops.models import Shop

from .models import BulkAward


def bulk_award_get(*, shop: Shop, award_id: int) -> BulkAward | None:
    return BulkAward.objects.defer("content").filter(shop=shop, pk=award_id).first()


def bulk_awards_recent(*, shop: Shop, limit: int = 20) -> list[BulkAward]:
    return list(BulkAward.objects.defer("content").filter(shop=shop).order_by("-id")[:limit])


def bulk_awards_stalled(*, before: datetime) -> list[int]:
    """Uploads a worker should be busy with but that have not moved since ``before``."""
    due = Q(status__in=[BulkAward.Status.PREVIEWING, BulkAward.Status.AWARDING]) | Q(
        status=BulkAward.Status.PREVIEWED, confirmed_at__isnull=False
    )
    return list(
        BulkAward.objects.filter(due, updated_at__lt=before, shop__state=Shop.State.INSTALLED)
        .order_by("id")
        .values_list("id", flat=True)[:500]
    )


def bulk_award_data(award: BulkAward) -> dict[str, Any]:
    """An upload as the API and the admin page show it."""
    previewed = (
        award.preview_valid
        + award.preview_limit_reached
        + award.preview_already
        + award.preview_invalid
    )
    processed = award.awarded + award.limit_reached + award.replayed + award.rejected
    return {
        "id": award.pk,
        "status": award.status,
        "action": award.action or None,
        "filename": award.filename,
        "sha256": award.sha256,
        "lines": award.lines,
        "columns": award.columns,
        "error": award.error or None,
        "preview": {
            "done": award.previewed_at is not None,
            "lines_read": previewed,
            "valid": award.preview_valid,
            "limit_reached": award.preview_limit_reached,
            "already_recorded": award.preview_already,
            "invalid": award.preview_invalid,
            "new_members": award.preview_new_members,
            "points": award.preview_points,
            "issues": award.preview_issues,
        },
        "confirmed": award.confirmed_at is not None,
        "progress": {
            "processed": processed,
            "percent": int(processed * 100 / award.lines) if award.lines else 100,
        },
        "result": {
            "awarded": award.awarded,
            "limit_reached": award.limit_reached,
            "already_recorded": award.replayed,
            "rejected": award.rejected,
            "points": award.points_awarded,
            "errors": award.issues,
        },
        "created_by": award.created_by,
        "confirmed_by": award.confirmed_by or None,
        "created_at": award.created_at.isoformat() if award.created_at else None,
        "confirmed_at": award.confirmed_at.isoformat() if award.confirmed_at else None,
        "finished_at": award.finished_at.isoformat() if award.finished_at else None,
    }
