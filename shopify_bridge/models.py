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


class AdminApiCall(models.Model):
    """One Admin API call the app owes a shop (store credit, a tag, a discount code...),
    recorded in the same transaction as the change that needs it, then performed by a
    worker (see ``outbox.py``).

    Invariants: one row per (shop, idempotency key), so a change recorded twice owes one
    call. Status moves pending -> in_flight -> done | pending (a retry) | failed (given
    up); failed -> pending only by hand. A done call is never performed again.
    ``in_flight`` holds a lease until ``next_attempt_at``: past it the worker is presumed
    dead and the sweep hands the call to another. ``next_attempt_at`` is null once
    nothing is left to try (done, failed). ``last_error`` holds Shopify's words, never a
    token.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        IN_FLIGHT = "in_flight"
        DONE = "done"
        FAILED = "failed"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="admin_api_calls")
    kind = models.CharField(max_length=50)
    idempotency_key = models.CharField(max_length=255)
    document = models.TextField()
    variables = models.JSONField(default=dict)
    on_result = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    done_at = models.DateTimeField(null=True, blank=True)
    # Who last sent a given-up call back to pending (the merchant's retry button).
    retried_by = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "idempotency_key"], name="admin_api_call_unique_key"
            ),
        ]
        indexes = [
            # The sweep's scan: only calls with something left to try carry a time.
            models.Index(
                fields=["next_attempt_at"],
                name="admin_api_call_due",
                condition=models.Q(next_attempt_at__isnull=False),
            ),
            # The Activity page: a shop's recent calls, by status.
            models.Index(fields=["shop", "status", "-id"], name="admin_api_call_shop_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key} ({self.status})"


class ShopBilling(models.Model):
    """How a shop pays the app for redemptions: its app subscription's usage line item
    (``gid://shopify/AppSubscriptionLineItem/...``), to which each usage charge is sent
    (``appUsageRecordCreate``, see ``billing.py``). No row (and no
    ``settings.SHOPIFY_BILLING_LINE_ITEM_ID``): charges are recorded, never sent."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="+")
    subscription_line_item_id = models.CharField(max_length=255)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"billing of shop {self.shop_id}"


# The dev-store simulator's tables belong to this app (one migration); see devstore/models.py.
from .devstore.models import (  # noqa: E402
    DevStore,
    DevStoreAppUsageRecord,
    DevStoreDiscountCode,
    DevStoreMetafield,
    DevStoreMutation,
    DevStoreProduct,
    DevStoreStoreCreditAccount,
    DevStoreStoreCreditTransaction,
    DevStoreTags,
    DevStoreWebhookSubscription,
)

__all__ = [
    "AdminApiCall",
    "DevStore",
    "DevStoreAppUsageRecord",
    "DevStoreDiscountCode",
    "DevStoreMetafield",
    "DevStoreMutation",
    "DevStoreProduct",
    "DevStoreStoreCreditAccount",
    "DevStoreStoreCreditTransaction",
    "DevStoreTags",
    "DevStoreWebhookSubscription",
    "ProductFacts",
    "ShopBilling",
    "WebhookEvent",
]


class BalanceMetafield(models.Model):
    """The points balance last sent to the shop as the customer metafield
    ``loyalty.points`` (see ``balance_sync``).

    Invariant: one row per member; ``points_sent`` is what the outbox call recorded with
    the row carries (a call that gives up deletes the row, so the next run sends again).
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    member = models.OneToOneField(
        "members.Member", on_delete=models.CASCADE, related_name="balance_metafield"
    )
    points_sent = models.BigIntegerField()
    sent_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["shop", "member"], name="balance_metafield_shop")]

    def __str__(self) -> str:
        return f"{self.points_sent} points sent for member {self.member_id}"
