from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove a ledger entry."""


class LedgerEntryQuerySet(models.QuerySet["LedgerEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger entries are append-only; write a correcting entry")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("ledger entries are append-only; write a correcting entry")


class LedgerEntry(models.Model):
    """One change of a member's points. The ledger is append-only.

    Invariants: ``points`` is a non-zero integer; ``idempotency_key`` is unique per
    shop, so the same business fact can never be written twice; an entry is never
    updated or deleted (the model, its queryset and, on PostgreSQL, a trigger refuse
    it). A member's balance is the sum of their entries.
    """

    class Kind(models.TextChoices):
        ORDER = "order", "Order points"
        ADJUSTMENT = "adjustment", "Manual adjustment"
        ACTION = "action", "Action points (sign-up, birthday, review...)"
        EXPIRY = "expiry", "Points expired"
        IMPORT = "import", "Balance imported from another program"
        REDEMPTION = "redemption", "Points spent on a reward"
        REDEMPTION_RETURN = "redemption_return", "Points returned (reward not delivered, or unused)"
        TIER_REWARD = "tier_reward", "Points for reaching a VIP tier"
        REFERRAL = "referral", "Points for referring a friend"
        CHALLENGE = "challenge", "Points for completing a challenge"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="ledger_entries")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="ledger_entries")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    points = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    idempotency_key = models.CharField(max_length=200)
    source_type = models.CharField(max_length=32, blank=True, help_text="e.g. order")
    source_id = models.CharField(max_length=64, blank=True, help_text="e.g. the order id")
    reason = models.CharField(max_length=500, blank=True)
    actor = models.CharField(max_length=200, blank=True, help_text="who or what wrote it")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "idempotency_key"], name="ledger_idempotency_key"
            ),
            models.CheckConstraint(condition=~models.Q(points=0), name="ledger_points_nonzero"),
        ]
        indexes = [
            models.Index(fields=["member", "-id"], name="ledger_member_recent"),
            models.Index(fields=["shop", "source_type", "source_id"], name="ledger_source"),
        ]

    def __str__(self) -> str:
        return f"{self.points:+d} {self.kind} ({self.idempotency_key})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("ledger entries are append-only; write a correcting entry")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger entries are append-only; write a correcting entry")
