from __future__ import annotations

from django.db import models

from loyalty_app.shops.models import Shop


class TierProgram(models.Model):
    """One version of a shop's VIP tiers and cash-back settings
    (``tiers.policies.TierProgramConfig`` as its canonical JSON).

    Versions are never edited: a change is a new version, numbered under the shop's row
    lock, so tier changes and cash-back can name the definition they were made under.
    Saving the definition already in force creates no version. No version: no tiers and
    no cash-back.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="tier_programs")
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "version"], name="tier_program_version_unique_per_shop"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop} tiers v{self.version}"
