"""Activity: recent points (awards, adjustments, expiries, imports, redemptions), balance
imports, the admin's audit log, and the Admin API calls that failed, with a retry."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_POST

from ..auth import admin_page, platform_port
from ..selectors import ACTIVITY_KINDS, activity_recent
from ..services import admin_call_retry
from .common import admin_redirect, admin_render

FAILED_CALLS_SHOWN = 20


def _failed_calls(shop: Any) -> tuple[list[Any], int] | None:
    """The platform's failed Admin API calls; None for a platform that keeps no outbox
    (the page then has no such card)."""
    port = platform_port()
    recent = getattr(port, "admin_calls_recent", None)
    count = getattr(port, "admin_calls_failed_count", None)
    if recent is None or count is None:
        return None
    return list(recent(shop=shop, status="failed", limit=FAILED_CALLS_SHOWN)), count(shop=shop)


@require_GET
@admin_page
def activity(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    recent = activity_recent(shop=shop, kind=request.GET.get("kind", "all"))
    failed = _failed_calls(shop)
    return admin_render(
        request,
        "admin/activity.html",
        {
            "recent": recent,
            "kinds": list(ACTIVITY_KINDS),
            "failed_calls": failed[0] if failed else None,
            "failed_count": failed[1] if failed else 0,
            "outbox": failed is not None,
        },
        active="merchant_admin:activity",
    )


@require_POST
@admin_page
def call_retry(request: HttpRequest, call_id: int) -> HttpResponse:
    """Send a failed Admin API call back to the queue (audited)."""
    retried = admin_call_retry(
        shop=request.shop,  # type: ignore[attr-defined]
        call_id=call_id,
        actor=request.admin_user,  # type: ignore[attr-defined]
    )
    if not retried:
        raise Http404("no such failed call in this shop")
    return admin_redirect(request, "merchant_admin:activity", toast="call_retried")
