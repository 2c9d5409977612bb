"""`GET /health`: can this deployment take webhooks and turn them into points?"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from loyalty_app.common.time import now


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # Reported, not raised: this endpoint exists to say what is down.
        return {"ok": False, "error": type(exc).__name__}


def _broker() -> dict[str, Any]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "eager"}
    from loyalty_app.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
        return {"ok": True, "mode": "broker"}
    except Exception as exc:  # Reported, not raised.
        return {"ok": False, "mode": "broker", "error": type(exc).__name__}


def _backlog() -> dict[str, Any]:
    from shopify_bridge.selectors import webhook_backlog

    backlog = webhook_backlog()
    oldest = backlog.oldest_unprocessed_at
    return {
        "unprocessed": backlog.unprocessed,
        "failed": backlog.failed,
        "oldest_unprocessed_age_seconds": round((now() - oldest).total_seconds(), 1)
        if oldest
        else 0,
    }


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    database = _database()
    broker = _broker()
    body: dict[str, Any] = {"database": database, "broker": broker}
    if database["ok"]:
        body["webhooks"] = _backlog()
    ok = database["ok"] and broker["ok"]
    body["status"] = "ok" if ok else "degraded"
    return JsonResponse(body, status=200 if ok else 503)
