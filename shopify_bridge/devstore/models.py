"""The dev-store simulator's own state: what "Shopify" knows, for the demo, tests and benches.

These rows belong to the simulated platform, not to the app: the app never reads them (it
talks to the simulator over HTTP with the ShopifyAPI client, as it would to Shopify). They
live in the ``shopify_bridge`` app's tables so one migration carries them; in production
they stay empty and the simulator's URLs are not mounted (``DEVSTORE_ENABLED``).
"""

from __future__ import annotations

from django.db import models


class DevStore(models.Model):
    """One simulated shop: the access token it issued, its rate-limit bucket, and the
    failures it has been told to serve.

    Invariants: ``domain`` is unique and lower-case; only the token's SHA-256 digest is
    kept; ``fail_remaining`` counts down one per Admin API call while ``fail_mode`` is set.
    """

    class FailMode(models.TextChoices):
        NONE = "", "none"
        HTTP_503 = "http_503", "HTTP 503 Service Unavailable"
        HTTP_500 = "http_500", "HTTP 500 Internal Server Error"
        THROTTLED = "throttled", "200 with a THROTTLED error"
        SLOW = "slow", "answer after slow_ms milliseconds"

    domain = models.CharField(max_length=255, unique=True)
    access_token_digest = models.CharField(max_length=64, blank=True)
    fail_mode = models.CharField(max_length=16, choices=FailMode.choices, blank=True, default="")
    fail_remaining = models.PositiveIntegerField(default=0)
    slow_ms = models.PositiveIntegerField(default=0)
    # Shopify's GraphQL leaky bucket, per app and store (standard plan: 100 points/s).
    throttle_enforced = models.BooleanField(default=True)
    bucket_size = models.PositiveIntegerField(default=2000)
    restore_rate = models.PositiveIntegerField(default=100)
    bucket_available = models.DecimalField(max_digits=12, decimal_places=3, default=2000)
    bucket_at = models.DateTimeField(null=True, blank=True)
    api_calls = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "dev-store shop (simulator)"

    def __str__(self) -> str:
        return self.domain


class DevStoreProduct(models.Model):
    """A product of a simulated shop, with what the Admin API answers about it.

    ``collections`` holds ``{"id": int, "handle": str, "title": str}`` objects, in the order
    the simulator lists them.
    """

    store = models.ForeignKey(DevStore, on_delete=models.CASCADE, related_name="products")
    product_id = models.BigIntegerField()
    title = models.CharField(max_length=255, blank=True)
    product_type = models.CharField(max_length=255, blank=True)
    vendor = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list)
    collections = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "dev-store product (simulator)"
        constraints = [
            models.UniqueConstraint(
                fields=["store", "product_id"], name="devstore_product_unique_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title or self.product_id} ({self.store_id})"
