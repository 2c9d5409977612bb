from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Reward
from loyalty_app.shops.models import Shop


class Badge(models.Model):
    """A badge a challenge can give: a name and a built-in glyph in one of a few colours
    (``policies.BADGE_ICONS``/``BADGE_COLOURS``). Names are unique per shop, whatever the
    case. A badge is archived, never deleted, so members keep theirs."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="badges")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    icon = models.CharField(max_length=32)
    colour = models.CharField(max_length=32)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("name"), "shop", name="badge_name_unique_per_shop"),
        ]

    def __str__(self) -> str:
        return self.name


class Challenge(models.Model):
    """A challenge of a shop, built from one block (``policies`` holds the blocks, the one
    place a definition is checked, shared by the API and the admin).

    Invariants: the definition (block, params, dates, rewards) changes only while the
    challenge is a draft: once members make progress, what they were promised stays.
    ``starts_at``/``ends_at`` are ``starts_on`` 00:00 and the day after ``ends_on`` 00:00
    in the shop's time zone, in UTC, fixed when the definition is saved. Status moves
    draft -> active -> archived (or draft -> archived), never back. ``backfill_member_id``
    is the last member whose progress the activation's catch-up has computed (resumable);
    ``backfilled_at`` is set when it is done.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="challenges")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    block = models.CharField(max_length=32)
    params = models.JSONField(default=dict)
    target = models.DecimalField(max_digits=18, decimal_places=4)
    starts_on = models.DateField()
    ends_on = models.DateField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reward_points = models.PositiveIntegerField(null=True, blank=True)
    # RESTRICT, not PROTECT: a reward or badge cannot be deleted while a challenge gives
    # it, yet a shop's erasure (which deletes all three together) goes through.
    reward = models.ForeignKey(
        Reward, null=True, blank=True, on_delete=models.RESTRICT, related_name="challenges"
    )
    badge = models.ForeignKey(
        Badge, null=True, blank=True, on_delete=models.RESTRICT, related_name="challenges"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    activated_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    backfill_member_id = models.BigIntegerField(default=0)
    backfilled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="challenge_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(target__gt=0), name="challenge_target_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(reward_points__isnull=False)
                | models.Q(reward__isnull=False)
                | models.Q(badge__isnull=False),
                name="challenge_has_a_reward",
            ),
        ]
        indexes = [models.Index(fields=["shop", "status"], name="challenge_shop_status")]

    def __str__(self) -> str:
        return self.name


class ChallengeProgress(models.Model):
    """A member's progress in a challenge: a cache of what ``services`` derives from the
    member's orders and actions, for fast reads. Never incremented: every write is a
    recomputation under the member's row lock.

    ``value`` counts every counted order (pending ones too: the shopper sees their
    progress at once); ``confirmed_value`` only orders past the return window, and decides
    completion. ``completed`` says whether the reward is held now; ``completions`` how many
    times it was given (a refund can take points back and a later order give them again:
    each grant and each take-back has its own ledger key, so the net is once).
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="progress")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="challenge_progress")
    value = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    confirmed_value = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    completed = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    completions = models.PositiveIntegerField(default=0)
    revocations = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["challenge", "member"], name="challenge_progress_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(completions__gte=models.F("revocations"))
                & models.Q(completions__lte=models.F("revocations") + 1),
                name="challenge_progress_granted_once",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "challenge"], name="challenge_progress_member"),
            models.Index(
                fields=["challenge", "-completed_at"],
                condition=models.Q(completed=True),
                name="challenge_completed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} in {self.challenge_id}: {self.value}"


class MemberBadge(models.Model):
    """A badge a member holds, once per member and badge; ``challenge`` is the one that
    gave it (a take-back removes only the badge that challenge gave)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="badges")
    badge = models.ForeignKey(Badge, on_delete=models.CASCADE, related_name="holders")
    challenge = models.ForeignKey(
        Challenge, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    awarded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "badge"], name="member_badge_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.badge_id}"
