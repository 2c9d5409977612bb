from __future__ import annotations

from django.db import models

from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop


class Order(models.Model):
    """The engine's view of one platform order, merged from every event about it.

    A row can exist before its order is known (a refund arrived first):
    ``has_snapshot`` is then false and the order earns nothing yet.

    Invariants: ``points_awarded`` equals the sum of this order's ledger entries
    and changes only under this row's lock; ``paid``, ``cancelled``,
    ``fully_refunded`` and ``test`` never go back to false.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="orders")
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=64, blank=True)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    currency = models.CharField(max_length=3, blank=True)
    has_snapshot = models.BooleanField(default=False)
    source_updated_at = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    eligible_amount = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    refunded_amount = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    shipping_amount = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    tax_amount = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    paid = models.BooleanField(default=False)
    cancelled = models.BooleanField(default=False)
    fully_refunded = models.BooleanField(default=False)
    test = models.BooleanField(default=False)
    lines = models.JSONField(
        default=list,
        blank=True,
        help_text="the newest snapshot's lines: id, amount (shop money), facts",
    )
    program = models.ForeignKey(
        "Program",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        help_text="the rules in force when the order was placed; null: the default program",
    )
    campaigns = models.JSONField(
        default=list, blank=True, help_text="campaigns in force when placed"
    )
    first_order = models.BooleanField(
        default=False, help_text="the customer's first order when placed"
    )
    # The customer's VIP tier when the order was placed and its earn multiplier, fixed
    # then: a later tier change does not re-rate the order.
    # Defaults in the database too: bulk SQL (benchmarks, imports) need not name them.
    tier = models.CharField(max_length=100, blank=True, default="", db_default="")
    tier_multiplier = models.DecimalField(max_digits=7, decimal_places=4, default=1, db_default=1)
    # Referral fraud rules compare these: salted sha256 (``earning.fingerprints``) of the
    # order's email, shipping address and card, never the text. The discount codes are
    # the ones the order carried, case-folded. Database defaults: bulk SQL need not name them.
    email_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    shipping_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    payment_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    discount_codes = models.JSONField(null=True, blank=True)
    points_target = models.BigIntegerField(default=0)
    points_awarded = models.BigIntegerField(default=0)
    pending_until = models.DateTimeField(
        null=True, blank=True, help_text="points stay pending until then (the return window)"
    )
    confirmed = models.BooleanField(
        default=True, help_text="false while the points are pending: nothing is spendable yet"
    )
    revision = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="order_unique_per_shop"),
            models.CheckConstraint(
                condition=models.Q(points_target__gte=0), name="order_target_nonnegative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["pending_until"],
                condition=models.Q(confirmed=False),
                name="order_pending_due",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id


class OrderRefund(models.Model):
    """A refund seen for an order; immutable, one row per platform refund."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    external_id = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    lines = models.JSONField(default=list, blank=True, help_text="per line: id, amount, gift_card")
    extra_amount = models.DecimalField(
        max_digits=18, decimal_places=4, default=0, help_text="money refunded without line items"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "external_id"], name="refund_unique_per_order"
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.external_id} of {self.amount}"


class Program(models.Model):
    """One version of a shop's earning rules (``earning.rules.EarnRules`` as JSON).

    Versions are never edited: a change is a new version, so an order can keep the
    rules that were in force when it was placed. No version: the default program.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="program_versions")
    version = models.PositiveIntegerField()
    rules = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "version"], name="program_version_unique_per_shop"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop} program v{self.version}"


class Campaign(models.Model):
    """A time-boxed multiplier or bonus (``earning.rules.Campaign`` as JSON, times in UTC).

    An order copies the campaigns in force when it was placed, so editing or deleting
    a campaign later never rewrites past orders.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="campaigns")
    definition = models.JSONField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "starts_at", "ends_at"], name="campaign_window")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="campaign_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return str(self.definition.get("name", self.pk))


class ActionEvent(models.Model):
    """A reported action (sign-up, birthday, review, a custom one) and what it earned.

    One row per reported event: ``event_key`` is unique per shop, so a retried report
    returns the first outcome. ``points`` is 0 when the action's limit was reached.
    """

    class Status(models.TextChoices):
        AWARDED = "awarded", "Awarded"
        LIMIT_REACHED = "limit_reached", "Limit reached"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="action_events")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="action_events")
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=255, blank=True, help_text="e.g. a network, a product")
    event_key = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    points = models.BigIntegerField(default=0)
    status = models.CharField(max_length=32, choices=Status.choices)
    source = models.CharField(max_length=200, blank=True, help_text="who reported it")
    data = models.JSONField(
        default=dict, blank=True, help_text="what the reporter said about it (small object)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "event_key"], name="action_event_key_unique"),
        ]
        indexes = [
            models.Index(fields=["member", "action", "occurred_at"], name="action_event_member"),
        ]

    def __str__(self) -> str:
        return f"{self.action} ({self.status})"
