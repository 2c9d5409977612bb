from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from loyalty_app.shops.models import Shop


class Reward(models.Model):
    """One reward of a shop's catalog: what points buy, or what a punch card grants.

    Every field is checked by ``rewards.policies.reward_from_dict`` (the one place of the
    rules, shared by the API and the merchant admin) before it is written by
    ``rewards.services``. Invariants the database holds as well:

    - ``points_cost`` is positive, or null for the kinds that have no fixed price
      (``variable_credit``: the shopper picks the points; ``punch_card``: earned by
      buying) and for grant-only rewards (given by a punch card or a tier, never bought);
    - ``stock_remaining`` is null exactly when ``stock_total`` is (unlimited), never below
      0 and never above the total: redemption takes one under this row's lock, and the
      constraint is the backstop against selling more than the stock;
    - a reward is archived (``archived_at``), never deleted, so redemptions keep theirs.
    """

    class Kind(models.TextChoices):
        FIXED_AMOUNT = "fixed_amount", "Amount off"
        PERCENTAGE = "percentage", "Percentage off"
        FREE_SHIPPING = "free_shipping", "Free shipping"
        FREE_PRODUCT = "free_product", "Free product"
        STORE_CREDIT = "store_credit", "Store credit"
        VARIABLE_CREDIT = "variable_credit", "Points for credit (variable)"
        DONATION = "donation", "Donation"
        EXPERIENCE = "experience", "Experience"
        PUNCH_CARD = "punch_card", "Punch card (buy N, get one)"

    class PunchTarget(models.TextChoices):
        PRODUCT = "product", "Product"
        COLLECTION = "collection", "Collection"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="rewards")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    points_cost = models.PositiveIntegerField(null=True, blank=True)
    grant_only = models.BooleanField(
        default=False, help_text="given by a punch card or a tier's entry reward, never bought"
    )
    value = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="money in the shop's currency, or percent for a percentage off",
    )
    # When it can be redeemed (UTC; given in the shop's time zone).
    active = models.BooleanField(default=True)
    active_from = models.DateTimeField(null=True, blank=True)
    active_until = models.DateTimeField(null=True, blank=True)
    min_tier = models.CharField(max_length=100, blank=True)
    # The code it becomes.
    min_order_amount = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    collection_ids = models.JSONField(default=list, blank=True)
    code_valid_days = models.PositiveIntegerField(null=True, blank=True)
    # Limits.
    per_customer_limit = models.PositiveIntegerField(null=True, blank=True)
    stock_total = models.PositiveIntegerField(null=True, blank=True)
    stock_remaining = models.IntegerField(null=True, blank=True)
    # Per kind.
    variant_id = models.CharField(max_length=255, blank=True, help_text="free_product")
    points_per_step = models.PositiveIntegerField(null=True, blank=True)
    value_per_step = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    min_points = models.PositiveIntegerField(null=True, blank=True)
    max_points = models.PositiveIntegerField(null=True, blank=True)
    cause = models.CharField(max_length=200, blank=True, help_text="donation")
    fulfilment_note = models.TextField(blank=True, help_text="experience: for the merchant")
    customer_tag = models.CharField(max_length=255, blank=True, help_text="experience")
    punch_target = models.CharField(max_length=16, choices=PunchTarget.choices, blank=True)
    punch_target_id = models.CharField(max_length=255, blank=True)
    punch_count = models.PositiveIntegerField(null=True, blank=True)
    punch_reward = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="granted_by",
        help_text="punch_card: the reward granted when the card is full",
    )
    return_points_if_unused = models.BooleanField(
        default=False,
        help_text="a code that expires unused gives its points back (rewards.lifecycle)",
    )
    position = models.IntegerField(default=0)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(points_cost__isnull=True) | models.Q(points_cost__gt=0),
                name="reward_points_cost_positive",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(stock_total__isnull=True, stock_remaining__isnull=True)
                    | models.Q(
                        stock_total__isnull=False,
                        stock_remaining__gte=0,
                        stock_remaining__lte=models.F("stock_total"),
                    )
                ),
                name="reward_stock_within_total",
            ),
            models.CheckConstraint(
                condition=models.Q(active_from__isnull=True)
                | models.Q(active_until__isnull=True)
                | models.Q(active_until__gt=models.F("active_from")),
                name="reward_active_until_after_from",
            ),
        ]
        indexes = [
            models.Index(
                fields=["shop", "position", "id"],
                condition=models.Q(archived_at__isnull=True),
                name="reward_catalog_order",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Redemption(models.Model):
    """Points a member spent on a reward, and what became of it.

    Written by ``rewards.redemption.reward_redeem`` in one transaction with the ledger's
    debit and the delivery handed to the platform (the Admin API outbox), so the three
    are kept together or not at all. Invariants:

    - ``idempotency_key`` is unique per shop: a retried request finds the first
      redemption and spends nothing more;
    - ``code`` is empty (store credit, donation, experience) or unique per shop without
      regard to case, as the shop's checkout compares discount codes;
    - ``points`` is what the ledger's ``redemption`` entry took (``redemption:<id>``);
      ``points_returned`` (never above ``points``) is what ``redemption_return`` entries
      gave back: a failed delivery returns everything, at most once;
    - ``kind``, ``title``, ``value`` and ``currency`` are copied from the reward when it is
      redeemed: a later change of the catalog does not change what was bought;
    - ``value`` is money in ``currency`` for amount, store credit, variable credit and
      donation, a percent for a percentage off, null for free shipping, a free product and
      an experience.

    Status: ``pending`` (points debited, delivery queued) -> ``issued`` (the code exists
    in the shop, the credit was given, the request or donation recorded) -> ``used`` (the
    code paid part of an order) or ``expired`` (it ended unused); ``pending`` ->
    ``failed`` when the delivery was given up (the points came back).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (points debited, delivery queued)"
        ISSUED = "issued", "Issued"
        USED = "used", "Used in an order"
        FAILED = "failed", "Failed (points returned)"
        EXPIRED = "expired", "Expired unused"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="redemptions")
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="redemptions"
    )
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    kind = models.CharField(max_length=32, choices=Reward.Kind.choices)
    title = models.CharField(max_length=200, blank=True)
    points = models.PositiveIntegerField()
    value = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    code = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    used_order_id = models.CharField(max_length=64, blank=True)
    delivery_error = models.TextField(blank=True)
    points_returned = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    actor = models.CharField(max_length=200, blank=True, help_text="who or what redeemed it")
    # An experience is a request the merchant fulfils or declines (rewards.lifecycle):
    # neither time set means it is still requested. At most one of the two is ever set.
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    fulfilment_by = models.CharField(max_length=200, blank=True)
    fulfilment_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(fulfilled_at__isnull=True) | models.Q(declined_at__isnull=True),
                name="redemption_fulfilled_or_declined",
            ),
            models.UniqueConstraint(
                fields=["shop", "idempotency_key"], name="redemption_idempotency_key"
            ),
            models.UniqueConstraint(
                "shop",
                Lower("code"),
                condition=~models.Q(code=""),
                name="redemption_code_unique_per_shop",
            ),
            models.CheckConstraint(
                condition=models.Q(points_returned__gte=0)
                & models.Q(points_returned__lte=models.F("points")),
                name="redemption_points_returned_within_points",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-id"], name="redemption_member_recent"),
            models.Index(fields=["shop", "-id"], name="redemption_shop_recent"),
            models.Index(fields=["reward", "member"], name="redemption_reward_member"),
            # The expiry job reads issued codes by their end; the others never need it.
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status="issued", expires_at__isnull=False),
                name="redemption_issued_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title or self.kind} for member {self.member_id} ({self.status})"


class UsageCharge(models.Model):
    """What the merchant owes for one delivered redemption (billing by redemption).

    Written by ``rewards.billing.usage_charge_record`` in the transaction that makes the
    redemption delivered (issued; for an experience, fulfilled). Invariants:

    - one charge per redemption (the one-to-one is the idempotency key: recording twice
      charges once); ``redemption`` is only cleared when the member's data is erased,
      the charge itself stays for the merchant's accounts;
    - ``amount`` is money in ``currency``, never below 0, rounded to cents; how it was
      reached is in ``rule`` (``value``, ``points_at_rate``, ``flat_fee``);
    - ``month`` (``YYYY-MM``) is the month of delivery in the shop's time zone, the key of
      the monthly summary;
    - ``send_status`` says what the platform was told: ``not_configured`` (no billing
      set up for the shop: recorded, never sent), ``pending`` (a usage record queued in
      the platform's outbox), ``sent`` or ``failed``; a zero amount is never sent.
    """

    class SendStatus(models.TextChoices):
        NOT_CONFIGURED = "not_configured", "Recorded (billing not set up)"
        NOT_SENT = "not_sent", "Recorded (nothing to charge)"
        PENDING = "pending", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="usage_charges")
    redemption = models.OneToOneField(
        Redemption,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="usage_charge",
    )
    kind = models.CharField(max_length=32, choices=Reward.Kind.choices)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    rule = models.CharField(max_length=32)
    description = models.CharField(max_length=255)
    month = models.CharField(max_length=7)
    send_status = models.CharField(
        max_length=16, choices=SendStatus.choices, default=SendStatus.NOT_CONFIGURED
    )
    platform_reference = models.CharField(max_length=255, blank=True)
    send_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="usage_charge_amount_nonnegative"
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "month", "kind"], name="usage_charge_month"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} for redemption {self.redemption_id}"
