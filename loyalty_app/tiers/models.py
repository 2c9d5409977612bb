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


class MemberTier(models.Model):
    """The VIP tier a member holds, as the tier evaluation decided it.

    One row per member who was ever evaluated into a tier; no row means no tier. The row
    changes only under the member's row lock, in the same transaction as the
    ``TierEvent`` that records the change, so ``revision`` counts the member's tier
    changes and each revision has exactly one event.

    - ``tier``: the tier's name as the definition spells it; null: no tier.
    - ``since``: when the member reached this tier.
    - ``metric_value``: the metric (points, orders or amount in the shop's currency) the
      last decision was made on.
    - ``retained_until``: the tier is kept at least until then (the end of the period it
      was reached in, one more period with retention); only then may the period-end job
      lower it. Null: never by the period (lifetime, or no tier).
    - ``qualifying_order``: the order whose award made the last upgrade, and
      ``previous_tier`` the tier held before it: a refund of that order soon after can
      undo the upgrade (``services.member_tier_after_order``).
    - ``program_version``: the definition version the decision was made under.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="member_tiers")
    member = models.OneToOneField(
        "members.Member", on_delete=models.CASCADE, related_name="vip_tier"
    )
    tier = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 - null: no tier
    since = models.DateTimeField(null=True, blank=True)
    metric_value = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    retained_until = models.DateTimeField(null=True, blank=True)
    previous_tier = models.CharField(max_length=100, blank=True)
    qualifying_order = models.CharField(max_length=64, blank=True)
    program_version = models.PositiveIntegerField(null=True, blank=True)
    revision = models.PositiveIntegerField(default=0)
    evaluated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["shop", "tier"], name="member_tier_shop_tier"),
            # The period-end job finds the members whose retention ended.
            models.Index(
                fields=["shop", "retained_until"],
                condition=models.Q(retained_until__isnull=False),
                name="member_tier_due",
            ),
        ]

    def __str__(self) -> str:
        return f"member {self.member_id}: {self.tier or 'no tier'}"


class TierEvent(models.Model):
    """One change of a member's tier: who, from, to, why, when. Append-only.

    Unique per (member, revision): the change that made ``MemberTier.revision`` reach
    ``revision``; an evaluation that runs again finds nothing to change and records
    nothing. ``entry_reward`` records what reaching the tier gave (points with the ledger
    entry's key, or a catalog reward owed), empty for a downgrade.
    """

    class Reason(models.TextChoices):
        QUALIFIED = "qualified"
        PERIOD_END = "period_end"
        REFUND = "refund"
        DEFINITION_CHANGE = "definition_change"
        MANUAL = "manual"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="tier_events")
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="tier_events"
    )
    revision = models.PositiveIntegerField()
    from_tier = models.CharField(max_length=100, blank=True)
    to_tier = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    metric_value = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    program_version = models.PositiveIntegerField(null=True, blank=True)
    order_id = models.CharField(max_length=64, blank=True, help_text="the order that caused it")
    entry_reward = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "revision"], name="tier_event_unique_revision"
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-id"], name="tier_event_member_recent"),
            models.Index(fields=["shop", "-id"], name="tier_event_shop_recent"),
        ]

    def __str__(self) -> str:
        return f"member {self.member_id}: {self.from_tier or '-'} -> {self.to_tier or '-'}"


class TierEvaluationJob(models.Model):
    """A walk over every member of a shop that sets each one's tier (after a definition
    change) or lowers the tiers whose retention ended (at the end of a period).

    Members are taken in batches by id; ``cursor`` is the last member id whose batch is
    committed, and the counters move in that batch's transaction, so a job that resumes
    after a crash neither redoes nor miscounts a batch. One job per definition version
    (``program``) and kind; a job for an older version than the shop's current one is
    ``superseded`` (the newer version's job re-evaluates everyone anyway).

    Invariants: ``changed <= processed``. ``total`` is the shop's member count when the job
    started; members who join meanwhile are walked too, so ``processed`` may pass it.
    """

    class Kind(models.TextChoices):
        DEFINITION_CHANGE = "definition_change"
        PERIOD_END = "period_end"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        SUPERSEDED = "superseded"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="tier_evaluations")
    program = models.ForeignKey(
        TierProgram, null=True, blank=True, on_delete=models.CASCADE, related_name="evaluations"
    )
    version = models.PositiveIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(max_length=100, help_text="one job per version or per period run")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    actor = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "key"], name="tier_evaluation_unique_key"),
            models.CheckConstraint(
                condition=models.Q(changed__lte=models.F("processed")),
                name="tier_evaluation_changed_within_processed",
            ),
        ]
        indexes = [models.Index(fields=["shop", "-id"], name="tier_evaluation_recent")]

    def __str__(self) -> str:
        return f"tier evaluation {self.pk} ({self.kind}, {self.status})"
