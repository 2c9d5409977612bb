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


class ProductFacts(models.Model):
    """What a shop's Admin API says about one of its products: the facts order webhooks
    do not carry (type, tags, collections), cached per shop.

    Invariants: one row per (shop, product id), and a row is only ever read for its own
    shop. ``product_id`` is Shopify's numeric id as text. ``collections`` holds
    ``{"id", "handle", "title"}`` objects. ``fetched_at`` is when the Admin API last
    answered for the product; null means the row must be read again before it is used (a
    products/update may have moved the product between collections). ``found`` is false
    for a product the Admin API no longer knows (deleted): its last known facts are kept,
    since they can no longer change and a late order webhook may still need them.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    product_id = models.CharField(max_length=32)
    product_type = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list)
    collections = models.JSONField(default=list)
    found = models.BooleanField(default=True)
    # The product's own updatedAt when these facts were read: an older products/update
    # delivered late changes nothing.
    source_updated_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "product facts"
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "product_id"], name="product_facts_unique_product"
            ),
        ]

    def __str__(self) -> str:
        return f"product {self.product_id} of shop {self.shop_id}"


# The dev-store simulator's tables belong to this app (one migration); see devstore/models.py.
from .devstore.models import DevStore, DevStoreProduct  # noqa: E402

__all__ = ["DevStore", "DevStoreProduct", "ProductFacts", "WebhookEvent"]
