"""Refer a friend: a shop's referral program, each member's code, and each referral.

A referral moves one way: ``invited`` (the friend took a welcome code) -> ``pending``
(the friend's first order carries the code or the friend's email) -> ``rewarded`` (the
order is paid and past its return window; the referrer got the reward) -> ``reversed``
(the order was cancelled or refunded in full afterwards: the reward was taken back).
``refused`` (a fraud rule, with its reason) and ``cancelled`` (the order was cancelled or
refunded before the reward) are final.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop


class ReferralProgram(models.Model):
    """A shop's referral settings; one row per shop (none: the program is off).

    Invariants: ``friend_value`` > 0 (a percentage at most 100); the referrer's reward is
    ``referrer_points`` > 0 or a catalog reward; ``cap_count`` 0 means no cap.
    """

    class FriendKind(models.TextChoices):
        FIXED_AMOUNT = "fixed_amount", "Amount off"
        PERCENTAGE = "percentage", "Percent off"

    class ReferrerKind(models.TextChoices):
        POINTS = "points", "Points"
        REWARD = "reward", "A reward from the catalog"

    class CapPeriod(models.TextChoices):
        WEEK = "week", "a week"
        MONTH = "month", "a month"
        YEAR = "year", "a year"
        LIFETIME = "lifetime", "in total"

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="referral_program")
    enabled = models.BooleanField(default=False)
    friend_kind = models.CharField(
        max_length=16, choices=FriendKind.choices, default=FriendKind.FIXED_AMOUNT
    )
    friend_value = models.DecimalField(max_digits=12, decimal_places=2, default=10)
    friend_min_subtotal = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    friend_days_valid = models.PositiveIntegerField(default=30)
    referrer_kind = models.CharField(
        max_length=16, choices=ReferrerKind.choices, default=ReferrerKind.POINTS
    )
    referrer_points = models.PositiveIntegerField(default=500)
    referrer_reward = models.ForeignKey(
        "rewards.Reward", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cap_count = models.PositiveIntegerField(default=0)
    cap_period = models.CharField(max_length=16, choices=CapPeriod.choices, default="month")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"referral program of {self.shop_id}"


class ReferralCode(models.Model):
    """A member's own referral code: stable, random (not derived from any id), unique per
    shop. The referrer's row is locked while the cap is counted, so two friends' orders
    confirmed at once cannot both take the last place under the cap."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="referral_codes")
    member = models.OneToOneField(Member, on_delete=models.CASCADE, related_name="referral_code")
    code = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="referral_code_unique_per_shop"),
        ]

    def __str__(self) -> str:
        return self.code


class Referral(models.Model):
    """One friend invited by one member, and what came of it.

    Invariants: one referral per friend email per shop (a second request returns the
    first, whoever's link it came through); ``welcome_code`` is unique per shop; a friend
    customer is rewarded at most once (the ledger key ``referral:friend:<member>`` and
    the conditional unique constraint below); ``order`` is set once, by the friend's
    first order, and never changes. A friend redacted at the platform's request keeps the
    row with ``friend_email`` = ``redacted-<pk>`` and no hash (``referrals_friend_redact``).
    """

    class Status(models.TextChoices):
        INVITED = "invited", "Invited"
        PENDING = "pending", "Ordered (waiting for payment and the return window)"
        REWARDED = "rewarded", "Rewarded"
        REFUSED = "refused", "Refused"
        CANCELLED = "cancelled", "Order cancelled or refunded"
        REVERSED = "reversed", "Reward taken back"

    class Refusal(models.TextChoices):
        SELF_CUSTOMER = "self_customer", "The referrer ordered with their own link"
        SELF_EMAIL = "self_email", "The order's email is the referrer's"
        SELF_ADDRESS = "self_address", "Shipped to an address the referrer has used"
        SELF_PAYMENT = "self_payment", "Paid with a card the referrer has used"
        ALREADY_REFERRED = "already_referred", "This customer was already referred"
        NOT_FIRST_ORDER = "not_first_order", "Not the friend's first order"
        CAP_REACHED = "cap_reached", "The referrer reached the referral limit"
        REWARD_UNAVAILABLE = "reward_unavailable", "The referrer's reward is no longer offered"

    class Welcome(models.TextChoices):
        PENDING = "pending", "Being created"
        ISSUED = "issued", "Issued"
        FAILED = "failed", "Failed"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="referrals")
    referrer = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="referrals_made")
    friend_email = models.EmailField(max_length=254)
    friend_email_hash = models.CharField(max_length=64)
    friend_member = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals_received",
    )
    welcome_code = models.CharField(max_length=64)
    welcome_status = models.CharField(
        max_length=16, choices=Welcome.choices, default=Welcome.PENDING
    )
    welcome_error = models.TextField(blank=True)
    welcome_expires_at = models.DateTimeField(null=True, blank=True)
    # The friend's offer and the referrer's reward in force when the friend was invited.
    offer = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    refusal = models.CharField(max_length=32, choices=Refusal.choices, blank=True)
    order = models.ForeignKey(
        "earning.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
    )
    order_external_id = models.CharField(max_length=64, blank=True)
    order_name = models.CharField(max_length=64, blank=True)
    order_amount = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        default=0,
        help_text="the first order's merchandise kept (after discounts and refunds)",
    )
    currency = models.CharField(max_length=3, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    reward_points = models.BigIntegerField(default=0, help_text="points given to the referrer")
    reward_redemption = models.ForeignKey(
        "rewards.Redemption", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rewarded_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True, help_text="what happened, in words")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "shop", Lower("friend_email"), name="referral_friend_email_unique"
            ),
            models.UniqueConstraint(
                "shop", Lower("welcome_code"), name="referral_welcome_code_unique"
            ),
            models.UniqueConstraint(
                fields=["shop", "friend_member"],
                condition=models.Q(status__in=["pending", "rewarded", "reversed"]),
                name="referral_one_conversion_per_friend",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "created_at"], name="referral_shop_created"),
            models.Index(fields=["shop", "converted_at"], name="referral_shop_converted"),
            models.Index(fields=["referrer", "status", "rewarded_at"], name="referral_referrer"),
            models.Index(fields=["shop", "friend_email_hash"], name="referral_friend_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.friend_email} ({self.status})"
