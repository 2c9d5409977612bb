from __future__ import annotations

from django.db import models

from loyalty_app.shops.models import Shop


class WebhookEvent(models.Model):
    """A webhook delivery, stored once before anything else happens to it.

    Status moves received -> processing -> done | failed. ``next_attempt_at`` is
    when the sweeper may (re-)enqueue it: a grace period after receipt (the normal
    queue path should have run by then), a backoff after a transient failure, and
    null once there is nothing left to try. Unique on (shop, webhook id), so a
    redelivery is recognised and stored nowhere.
    """

    class Status(models.TextChoices):
        RECEIVED = "received"
        PROCESSING = "processing"
        DONE = "done"
        FAILED = "failed"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="webhook_events")
    webhook_id = models.CharField(max_length=100)
    event_id = models.CharField(max_length=100, blank=True)
    topic = models.CharField(max_length=100)
    api_version = models.CharField(max_length=20, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "webhook_id"], name="webhook_event_unique_delivery"
            ),
        ]
        indexes = [
            # The sweeper's scan: only unfinished events carry a next_attempt_at.
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_event_due",
                condition=models.Q(next_attempt_at__isnull=False),
            ),
            models.Index(fields=["shop", "status", "-id"], name="webhook_event_shop_status"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.webhook_id} ({self.status})"
