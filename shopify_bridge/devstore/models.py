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
        INVALID = "invalid", "200 with a body that is not JSON (a proxy's error page)"

    domain = models.CharField(max_length=255, unique=True)
    # What the Admin API's ``shop`` query answers (the app reads them at install).
    name = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    iana_timezone = models.CharField(max_length=64, default="America/New_York")
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
    # The app subscription's capped amount for usage charges (appUsageRecordCreate).
    usage_capped_amount = models.DecimalField(max_digits=14, decimal_places=2, default=10000)

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


class DevStoreMutation(models.Model):
    """Every mutation field a simulated shop ran, in order, with its arguments and whether
    it answered userErrors: what tests and benches look at to see what the app asked for
    (and that it asked once). Append-only."""

    store = models.ForeignKey(DevStore, on_delete=models.CASCADE, related_name="mutations")
    name = models.CharField(max_length=100)
    arguments = models.JSONField(default=dict)
    user_errors = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "dev-store mutation (simulator)"
        indexes = [models.Index(fields=["store", "name"], name="devstore_mutation_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.store_id})"


class DevStoreWebhookSubscription(models.Model):
    """A webhook subscription an app registered on a simulated shop.

    Invariant: one subscription per (store, topic, callback URL), as Shopify refuses a
    second one with "Address for this topic has already been taken". ``topic`` is the
    GraphQL enum name (``ORDERS_CREATE``).
    """

    store = models.ForeignKey(
        DevStore, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    topic = models.CharField(max_length=100)
    callback_url = models.CharField(max_length=2000)
    format = models.CharField(max_length=10, default="JSON")
    include_fields = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "dev-store webhook subscription (simulator)"
        constraints = [
            models.UniqueConstraint(
                fields=["store", "topic", "callback_url"],
                name="devstore_webhook_unique_address",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} -> {self.callback_url}"


class DevStoreTags(models.Model):
    """The tags of a resource other than a product (a customer, an order) of a simulated
    shop; a product's tags live on ``DevStoreProduct``. One row per (store, resource gid).
    """

    store = models.ForeignKey(DevStore, on_delete=models.CASCADE, related_name="+")
    owner_id = models.CharField(max_length=100)
    tags = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "dev-store tags (simulator)"
        verbose_name_plural = "dev-store tags (simulator)"
        constraints = [
            models.UniqueConstraint(fields=["store", "owner_id"], name="devstore_tags_unique"),
        ]

    def __str__(self) -> str:
        return f"tags of {self.owner_id}"


class DevStoreMetafield(models.Model):
    """A metafield of a resource of a simulated shop: one per (store, owner, namespace,
    key); ``metafieldsSet`` creates or replaces it. ``value`` is kept as the API's string.
    """

    store = models.ForeignKey(DevStore, on_delete=models.CASCADE, related_name="metafields")
    owner_id = models.CharField(max_length=100)
    namespace = models.CharField(max_length=255)
    key = models.CharField(max_length=64)
    type = models.CharField(max_length=100)
    value = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "dev-store metafield (simulator)"
        constraints = [
            models.UniqueConstraint(
                fields=["store", "owner_id", "namespace", "key"],
                name="devstore_metafield_unique_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}.{self.key} of {self.owner_id}"


class DevStoreStoreCreditAccount(models.Model):
    """A customer's store credit in one currency on a simulated shop.

    Invariants: one account per (store, customer, currency), as Shopify keeps one per
    currency; ``balance`` never goes below zero (a debit beyond it is refused) and changes
    only with a transaction row, under the store's row lock (the GraphQL view holds it).
    """

    store = models.ForeignKey(
        DevStore, on_delete=models.CASCADE, related_name="store_credit_accounts"
    )
    customer_id = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    balance = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        verbose_name = "dev-store store credit account (simulator)"
        constraints = [
            models.UniqueConstraint(
                fields=["store", "customer_id", "currency"],
                name="devstore_store_credit_unique_currency",
            ),
            models.CheckConstraint(
                condition=models.Q(balance__gte=0), name="devstore_store_credit_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.balance} {self.currency} for customer {self.customer_id}"


class DevStoreStoreCreditTransaction(models.Model):
    """One credit (positive) or debit (negative) on a store credit account. Append-only."""

    account = models.ForeignKey(
        DevStoreStoreCreditAccount, on_delete=models.CASCADE, related_name="transactions"
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    balance_after = models.DecimalField(max_digits=14, decimal_places=2)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "dev-store store credit transaction (simulator)"

    def __str__(self) -> str:
        return f"{self.amount} on account {self.account_id}"


class DevStoreDiscountCode(models.Model):
    """A code discount created on a simulated shop (basic or free shipping).

    Invariant: a code is unique per store whatever its case, as Shopify's codes are.
    ``definition`` keeps the input the app sent, for tests to inspect.
    """

    class Kind(models.TextChoices):
        BASIC = "basic"
        FREE_SHIPPING = "free_shipping"

    store = models.ForeignKey(DevStore, on_delete=models.CASCADE, related_name="discount_codes")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    code = models.CharField(max_length=255)
    title = models.CharField(max_length=255)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True)
    definition = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "dev-store discount code (simulator)"
        constraints = [
            models.UniqueConstraint(
                "store", models.functions.Upper("code"), name="devstore_discount_unique_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.kind})"


class DevStoreAppUsageRecord(models.Model):
    """A usage charge the app made on a simulated shop's app subscription.

    Invariants: an idempotency key is used once per (store, line item) (the same request
    sent again returns the first record); the charges of a line item never exceed the
    store's ``usage_capped_amount``.
    """

    store = models.ForeignKey(DevStore, on_delete=models.CASCADE, related_name="app_usage_records")
    line_item_id = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=255)
    idempotency_key = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "dev-store app usage record (simulator)"
        constraints = [
            models.UniqueConstraint(
                fields=["store", "line_item_id", "idempotency_key"],
                name="devstore_usage_unique_idempotency_key",
                condition=~models.Q(idempotency_key=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}: {self.description}"
