from __future__ import annotations

from django.db import models

from loyalty_app.shops.models import Shop


class Member(models.Model):
    """A shop's customer in the loyalty program.

    ``points_balance`` is a cache of the sum of the member's ledger entries. It is
    changed only by ``ledger.services.ledger_entry_add``, under this row's lock and
    in the same transaction as the entry, so it always equals the ledger sum.
    It can be negative: a refund may take back points that were already spent.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="members")
    external_id = models.CharField(max_length=64, help_text="the platform's customer id")
    email = models.EmailField(max_length=254, blank=True)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    points_balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="member_unique_per_shop"),
        ]
        indexes = [models.Index(fields=["shop", "email"], name="member_shop_email")]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.email or 'no email'})"
