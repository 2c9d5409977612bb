from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from shopify_bridge.models import WebhookEvent


def test_health_reports_the_database_broker_and_an_empty_backlog(client, db):
    response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True}
    assert body["broker"]["ok"] is True
    assert body["webhooks"] == {"unprocessed": 0, "failed": 0, "oldest_unprocessed_age_seconds": 0}


def test_health_reports_the_age_of_the_oldest_unprocessed_event(client, shop):
    # Given an event that has waited ten minutes and one that failed for good
    old = WebhookEvent.objects.create(
        shop=shop.shop, webhook_id="w-old", topic="orders/create", payload={}
    )
    WebhookEvent.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(minutes=10)
    )
    WebhookEvent.objects.create(
        shop=shop.shop,
        webhook_id="w-bad",
        topic="orders/create",
        payload={},
        status="failed",
        next_attempt_at=None,
    )

    body = client.get("/health").json()

    assert body["webhooks"]["unprocessed"] == 1
    assert body["webhooks"]["failed"] == 1
    assert 599 <= body["webhooks"]["oldest_unprocessed_age_seconds"] <= 660


def test_health_is_503_when_the_broker_is_unreachable(client, db, settings: Any):
    from loyalty_app.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/health")
    finally:
        app.conf.broker_url = original

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"]["ok"] is False
    assert body["database"] == {"ok": True}
