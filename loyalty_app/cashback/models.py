from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from loyalty_app.earning.models import Order
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove a cash-back entry."""


class Delivery(models.TextChoices):
    """How the shop hands cash-back to the shopper (the tier definition's ``cashback.delivery``)."""

    STORE_CREDIT = "store_credit", "Store credit"
    DISCOUNT_CODE = "discount_code", "Single-use discount code"


class CashbackOrder(models.Model):
    """One order's cash-back: the rate recorded when it was first computed and the amount
    its entries add up to.

    Invariants: ``credited`` equals the sum of the order's entries for ``member`` and
    changes only under the order's row lock (``earning``'s ``_order_reconcile`` holds it);
    ``rate``, ``tier_name`` and ``delivery`` are set once for a member: a later tier or
    definition change does not re-rate the order.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="cashback_orders")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="cashback")
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="cashback_orders"
    )
    rate = models.DecimalField(max_digits=7, decimal_places=4, help_text="percent")
    tier_name = models.CharField(max_length=100, blank=True)
    tier_program_version = models.PositiveIntegerField(null=True, blank=True)
    delivery = models.CharField(max_length=16, choices=Delivery.choices)
    currency = models.CharField(max_length=3)
    credited = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    revision = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(credited__gte=0), name="cashback_order_credited_nonnegative"
            ),
            models.CheckConstraint(
                condition=models.Q(rate__gte=0), name="cashback_order_rate_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"cash-back of order {self.order_id} at {self.rate}%"


class CashbackEntryQuerySet(models.QuerySet["CashbackEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("cash-back entries are append-only; write a correcting entry")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("cash-back entries are append-only; write a correcting entry")


class CashbackEntry(models.Model):
    """One change of what a member is owed in cash-back, in the shop's currency. The
    cash-back ledger is append-only, beside the points ledger.

    Invariants: a ``credit`` is positive and a ``reversal`` negative; ``amount`` has the
    currency's decimals; ``idempotency_key`` is unique per shop; an entry is never updated
    or deleted (the model, its queryset and, on PostgreSQL, a trigger refuse it). What a
    member is owed is the sum of their entries; an order's entries add up to its
    ``CashbackOrder.credited``.
    """

    class Kind(models.TextChoices):
        CREDIT = "credit", "Cash-back credited"
        REVERSAL = "reversal", "Cash-back reversed (refund, cancellation)"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="cashback_entries")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="cashback_entries")
    order_external_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=7, decimal_places=4, help_text="percent")
    tier_name = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=200)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = CashbackEntryQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "idempotency_key"], name="cashback_idempotency_key"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="credit", amount__gt=0) | models.Q(kind="reversal", amount__lt=0)
                ),
                name="cashback_entry_sign_matches_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-id"], name="cashback_member_recent"),
            models.Index(fields=["shop", "created_at"], name="cashback_shop_created"),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+} {self.currency} {self.kind} ({self.idempotency_key})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("cash-back entries are append-only; write a correcting entry")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("cash-back entries are append-only; write a correcting entry")


class CashbackAccount(models.Model):
    """A member's cash-back debt in one currency, and the lock that orders its deliveries.

    ``debt`` is what reversals could not take back from the shop (the shopper had spent
    the store credit, or the cash-back was a discount code that cannot be taken back),
    less what later credits repaid. It is a cache of the sum of the debt deliveries'
    ``outstanding``, changed only under this row's lock, never below zero.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="cashback_accounts")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="cashback_accounts")
    currency = models.CharField(max_length=3)
    debt = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "currency"], name="cashback_account_per_currency"
            ),
            models.CheckConstraint(
                condition=models.Q(debt__gte=0), name="cashback_account_debt_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"cash-back account {self.member_id} {self.currency} (debt {self.debt})"


class CashbackDelivery(models.Model):
    """What the shop was asked to do for one cash-back entry (one Admin API call at most),
    and how it went.

    - ``credit`` / ``discount_code``: ``amount`` sent to the shopper after ``repaid`` of
      the entry went to their debt; ``settled`` when nothing was left to send.
    - ``debit``: a reversal taken back from the store credit. A debit the shop gives up
      (insufficient funds: the shopper spent it) becomes ``debt`` with ``outstanding`` the
      part not yet repaid by later credits.
    - ``debt``: a reversal that is not sent at all (a discount code cannot be taken back).
    - ``return``: store credit given back when a debit that had become debt went through
      later after all (a retry by hand): what later credits had already repaid of it.

    Invariants: ``key`` (the outbox call's idempotency key) is unique per shop; amounts are
    never negative; ``status`` and ``outstanding`` change only under the member's
    ``CashbackAccount`` lock.
    """

    class Operation(models.TextChoices):
        CREDIT = "credit", "Store credit"
        DISCOUNT_CODE = "discount_code", "Discount code"
        DEBIT = "debit", "Store credit taken back"
        DEBT = "debt", "Kept as debt"
        RETURN = "return", "Store credit given back"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        DEBT = "debt", "Kept as debt"
        SETTLED = "settled", "Settled against debt"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="cashback_deliveries")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="cashback_deliveries")
    entry = models.OneToOneField(
        CashbackEntry,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="delivery",
    )
    operation = models.CharField(max_length=16, choices=Operation.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=18, decimal_places=4, help_text="sent to the shop")
    repaid = models.DecimalField(
        max_digits=18, decimal_places=4, default=0, help_text="of a credit, paid to the debt"
    )
    outstanding = models.DecimalField(
        max_digits=18, decimal_places=4, default=0, help_text="of a debt, not repaid yet"
    )
    key = models.CharField(max_length=200)
    code = models.CharField(max_length=64, blank=True)
    reference = models.CharField(max_length=255, blank=True, help_text="the platform's id")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "key"], name="cashback_delivery_key"),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0, repaid__gte=0, outstanding__gte=0),
                name="cashback_delivery_amounts_nonnegative",
            ),
        ]
        indexes = [
            models.Index(
                fields=["member", "currency", "id"],
                condition=models.Q(outstanding__gt=0),
                name="cashback_debt_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.amount} {self.currency} ({self.status})"
