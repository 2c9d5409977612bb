"""The outbox's reads, for the admin's Activity page: plain values, one shop at a time.

They carry no GraphQL document, variables or answer: what the merchant sees is what kind of
call it was, where it stands and Shopify's last words about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loyalty_app.shops.models import Shop

from ..models import AdminApiCall

MAX_LIMIT = 200


@dataclass(frozen=True)
class AdminCallSummary:
    id: int
    kind: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None
    next_attempt_at: datetime | None
    retried_by: str


_FIELDS = [
    "id",
    "kind",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
    "done_at",
    "next_attempt_at",
    "retried_by",
]


def admin_calls_recent(
    *, shop: Shop, status: str | None = None, limit: int = 50
) -> list[AdminCallSummary]:
    """The shop's latest calls, newest first, optionally of one status (``pending``,
    ``in_flight``, ``done``, ``failed``); at most ``MAX_LIMIT``."""
    rows = AdminApiCall.objects.filter(shop=shop)
    if status is not None:
        if status not in AdminApiCall.Status.values:
            raise ValueError(f"unknown status {status!r}; one of {AdminApiCall.Status.values}")
        rows = rows.filter(status=status)
    limit = max(0, min(limit, MAX_LIMIT))
    return [AdminCallSummary(**row) for row in rows.order_by("-id").values(*_FIELDS)[:limit]]


def admin_calls_failed_count(*, shop: Shop) -> int:
    """How many of the shop's calls were given up and wait for the merchant's retry."""
    return AdminApiCall.objects.filter(shop=shop, status=AdminApiCall.Status.FAILED).count()
