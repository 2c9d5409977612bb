"""Writes for challenges and badges: the definitions, and each member's progress.

Progress is derived, never incremented
======================================
``member_challenges_evaluate`` recomputes a member's progress in the shop's active
challenges from their orders and actions as they are now (``policies.progress_value``)
and stores it in ``ChallengeProgress``. It runs:

- on the order path: ``challenges_after_order``, called at the end of the order's
  reconciliation (``earning.services._order_reconcile``), in its transaction, for every
  event about an order (created, paid, refunded, cancelled, confirmed when its return
  window passes);
- on the action path: ``challenges_after_action``, when an action is awarded;
- from the activation's catch-up (``challenge_backfill_run``), for members whose orders or
  actions in the challenge's dates came before it was activated: the same counting, a
  batch of members at a time (``_backfill_batch``), the same rows.

Any number of runs, in any order, give the same rows: a replayed webhook changes nothing.

When the reward is given, and what a refund does
================================================
- **Given** when the member's *confirmed* value reaches the target: orders count for
  completion once they are past the shop's return window (``Order.confirmed``; at once
  with no return window), so a refund inside the window never gives a reward. The widget
  shows the progress of pending orders at once, and says the challenge completes when
  they are confirmed. Orders count when *placed* within the dates; one confirmed after
  the end still completes the challenge.
- **Taken back** when a later refund or cancellation brings the confirmed value below
  the target: the points with a negative ``challenge`` ledger entry, and the badge (the
  one this challenge gave). A catalog reward was delivered (a code, a credit) and stays,
  as with punch cards. Reaching the target again gives the points and the badge again,
  never the catalog reward twice: each grant (``challenge:<id>:<member>:c<n>``) and each
  take-back (``...:r<n>``) has its own ledger key, so the member holds the reward once.

Locks
=====
Order row (when on the order path), then the member row, then the member's progress rows:
every writer of a member's progress holds the member's row lock, so two orders of one
member processed at once are counted one after the other, and the same webhook delivered
twice at once completes the challenge once (the ledger keys are the backstop).

The catch-up locks a batch's member rows in pk order in one statement, then their
progress rows; it never takes an order's lock, so it cannot close a cycle with a webhook
(order, then member). A webhook for a member of the batch waits for the batch to commit
(a batch is one short transaction), then recomputes that member from the source: the last
holder of a member's lock writes the row, from everything committed before it, so a
catch-up racing webhooks ends with the same rows as either alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef

from loyalty_app.common.time import now
from loyalty_app.earning.models import ActionEvent, Order
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Reward
from loyalty_app.rewards.policies import GRANTABLE_KINDS
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.services import member_tier_after_points

from .models import Badge, Challenge, ChallengeProgress, MemberBadge
from .policies import (
    COMMON_FIELDS,
    BadgeSpec,
    ChallengeSpec,
    ConfigError,
    badge_from_dict,
    challenge_from_dict,
    progress_value,
    zone_of,
)
from .selectors import (
    ORDER_BLOCKS,
    challenge_as_data,
    challenges_live,
    member_counted_orders,
    member_done_actions,
    members_counted_orders,
    members_done_actions,
    widget_challenges_forget,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

BACKFILL_BATCH_SIZE = 500
# What a progress row holds beyond its keys (the catch-up's upsert writes all of it).
PROGRESS_STATE = (
    "value",
    "confirmed_value",
    "completed",
    "completed_at",
    "completions",
    "revocations",
)


# --- badges -------------------------------------------------------------------------------


def _widget_refresh_on_commit(shop: Shop) -> None:
    """This process's widget reads the shop's challenges and badges afresh after the
    change commits (other processes within ``selectors.WIDGET_TTL_SECONDS``)."""
    shop_id = shop.pk
    transaction.on_commit(lambda: widget_challenges_forget(shop_id=shop_id))


def _badge_spec(data: object) -> BadgeSpec:
    try:
        return badge_from_dict(data)
    except ConfigError as exc:
        raise ValidationError(exc.errors) from exc


def _badge_name_free(*, shop: Shop, name: str, badge: Badge | None) -> None:
    taken = Badge.objects.filter(shop=shop, name__iexact=name)
    if badge is not None:
        taken = taken.exclude(pk=badge.pk)
    if taken.exists():
        raise ValidationError({"name": [f"a badge named '{name}' exists"]})


def badge_create(*, shop: Shop, data: object, actor: str) -> Badge:
    """Add a badge. Raises ``ValidationError`` naming the fields; the unique name is
    checked under the shop's lock (the constraint is the backstop)."""
    spec = _badge_spec(data)
    with transaction.atomic():
        _widget_refresh_on_commit(shop)
        Shop.objects.select_for_update().only("id").get(pk=shop.pk)
        _badge_name_free(shop=shop, name=spec.name, badge=None)
        return Badge.objects.create(
            shop=shop,
            name=spec.name,
            description=spec.description,
            icon=spec.icon,
            colour=spec.colour,
        )


def badge_update(*, shop: Shop, badge_id: int, data: object, actor: str) -> Badge:
    """Change a badge's name, description, glyph or colour (members who hold it see the
    change). The fields ``data`` leaves out stay as they are, read under the row's lock so
    two changes of different fields both hold. Raises ``ValidationError``, or
    ``Badge.DoesNotExist``."""
    with transaction.atomic():
        _widget_refresh_on_commit(shop)
        Shop.objects.select_for_update().only("id").get(pk=shop.pk)
        badge = Badge.objects.select_for_update().get(shop=shop, pk=badge_id)
        if isinstance(data, dict):
            current = {"name": badge.name, "description": badge.description}
            data = {**current, "icon": badge.icon, "colour": badge.colour, **data}
        spec = _badge_spec(data)
        _badge_name_free(shop=shop, name=spec.name, badge=badge)
        badge.name, badge.description = spec.name, spec.description
        badge.icon, badge.colour = spec.icon, spec.colour
        badge.save()
        return badge


# --- challenges ---------------------------------------------------------------------------


def _spec(*, shop: Shop, data: object) -> ChallengeSpec:
    """Every check of a challenge: the pure rules, then what needs the shop's data."""
    try:
        spec = challenge_from_dict(data, tz_name=shop.timezone or "UTC")
    except ConfigError as exc:
        raise ValidationError(exc.errors) from exc
    errors: dict[str, list[str]] = {}
    if spec.reward_id is not None:
        reward = Reward.objects.filter(
            shop=shop, pk=spec.reward_id, archived_at__isnull=True
        ).first()
        if reward is None:
            errors["reward_id"] = [f"no reward {spec.reward_id} in this shop's catalog"]
        elif reward.kind not in GRANTABLE_KINDS:
            errors["reward_id"] = [f"a challenge cannot give a {reward.kind} reward"]
    if (
        spec.badge_id is not None
        and not Badge.objects.filter(shop=shop, pk=spec.badge_id, archived_at__isnull=True).exists()
    ):
        errors["badge_id"] = [f"no badge {spec.badge_id} in this shop"]
    if spec.block == "actions":
        enabled = {a.key for a in program_config(program_current(shop=shop)).actions if a.enabled}
        missing = [key for key in spec.params["actions"] if key not in enabled]
        if missing:
            errors["actions"] = [
                f"'{missing[0]}' is not an enabled action of this shop's program "
                f"(enabled: {', '.join(sorted(enabled)) or 'none'})"
            ]
    if errors:
        raise ValidationError(errors)
    return spec


def _apply(challenge: Challenge, spec: ChallengeSpec) -> None:
    challenge.name = spec.name
    challenge.description = spec.description
    challenge.block = spec.block
    challenge.params = spec.params
    challenge.target = spec.target
    challenge.starts_on, challenge.ends_on = spec.starts_on, spec.ends_on
    challenge.starts_at, challenge.ends_at = spec.starts_at, spec.ends_at
    challenge.reward_points = spec.reward_points
    challenge.reward_id = spec.reward_id
    challenge.badge_id = spec.badge_id


def challenge_create(*, shop: Shop, data: object, actor: str) -> Challenge:
    """Add a challenge as a draft (``challenge_activate`` makes it count). Raises
    ``ValidationError`` whose ``message_dict`` maps field names to messages."""
    spec = _spec(shop=shop, data=data)
    with transaction.atomic():
        _widget_refresh_on_commit(shop)
        challenge = Challenge(shop=shop, created_by=actor[:200])
        _apply(challenge, spec)
        challenge.save()
        return challenge


# What may change once a challenge is active: its words, never what members were promised.
TEXT_FIELDS = ("name", "description")


def challenge_update(*, shop: Shop, challenge_id: int, data: object, actor: str) -> Challenge:
    """Change a challenge. A draft takes any change (a whole definition, or some fields:
    the others stay); an active or archived one only its name and description.
    Raises ``ValidationError``, or ``Challenge.DoesNotExist``."""
    with transaction.atomic():
        _widget_refresh_on_commit(shop)
        challenge = Challenge.objects.select_for_update().get(shop=shop, pk=challenge_id)
        current = challenge_as_data(challenge)
        changes = dict(data) if isinstance(data, dict) else {}
        if challenge.status != Challenge.Status.DRAFT:
            fixed = [k for k, v in changes.items() if k not in TEXT_FIELDS and current.get(k) != v]
            if fixed:
                raise ValidationError(
                    {fixed[0]: ["only the name and description of an active challenge change"]}
                )
        merged = {**current, **changes}
        if "block" in changes and changes["block"] != challenge.block:
            # Another block: the old block's fields do not carry over.
            merged = {k: v for k, v in merged.items() if k in COMMON_FIELDS or k in changes}
        spec = _spec(shop=shop, data=merged)
        _apply(challenge, spec)
        challenge.save()
        return challenge


def challenge_activate(*, shop: Shop, challenge_id: int, actor: str) -> Challenge:
    """Make a draft count and give. Members' orders and actions already in its dates are
    counted by a catch-up job (in batches, resumable) started after commit. Activating an
    active challenge changes nothing; an archived one cannot be activated."""
    with transaction.atomic():
        _widget_refresh_on_commit(shop)
        challenge = Challenge.objects.select_for_update().get(shop=shop, pk=challenge_id)
        if challenge.status == Challenge.Status.ACTIVE:
            return challenge
        if challenge.status == Challenge.Status.ARCHIVED:
            raise ValidationError({"status": ["an archived challenge cannot be activated"]})
        # Checked again: the reward or badge may be gone.
        spec = _spec(shop=shop, data=challenge_as_data(challenge))
        _apply(challenge, spec)
        challenge.status = Challenge.Status.ACTIVE
        challenge.activated_at = now()
        challenge.backfill_member_id = 0
        challenge.backfilled_at = None
        challenge.save()
        pk = challenge.pk
        transaction.on_commit(lambda: _enqueue_backfill(pk))
        return challenge


def _enqueue_backfill(challenge_id: int) -> None:
    from .tasks import challenge_backfill

    challenge_backfill.delay(challenge_id)


def challenge_archive(*, shop: Shop, challenge_id: int, actor: str) -> Challenge:
    """End a challenge for good: it stops counting and giving; members keep what they
    were given (its progress rows stay, frozen). Archiving twice changes nothing."""
    with transaction.atomic():
        _widget_refresh_on_commit(shop)
        challenge = Challenge.objects.select_for_update().get(shop=shop, pk=challenge_id)
        if challenge.status != Challenge.Status.ARCHIVED:
            challenge.status = Challenge.Status.ARCHIVED
            challenge.archived_at = now()
            challenge.save()
        return challenge


# --- a member's progress ------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one evaluation did for one challenge."""

    challenge_id: int
    value: Decimal
    confirmed_value: Decimal
    completed: bool
    granted: bool = False
    revoked: bool = False


def member_challenges_evaluate(
    *,
    shop: Shop,
    member: Member,
    challenges: Sequence[Challenge] | None = None,
    actor: str = "",
) -> list[Outcome]:
    """Recompute the member's progress in ``challenges`` (default: the shop's active
    ones), give the rewards reached and take back those no longer met (the module's doc
    says when). Idempotent; safe to run concurrently for one member."""
    live = [
        c
        for c in (challenges if challenges is not None else challenges_live(shop=shop))
        if c.status == Challenge.Status.ACTIVE and c.shop_id == shop.pk
    ]
    if not live or member.shop_id != shop.pk:
        return []
    zone = zone_of(shop.timezone)
    with transaction.atomic():
        locked = Member.objects.select_for_update().get(pk=member.pk)
        since = min(c.starts_at for c in live)
        until = max(c.ends_at for c in live)
        orders = (
            member_counted_orders(
                member=locked,
                since=since,
                until=until,
                with_lines=any(c.block == "distinct_categories" for c in live),
            )
            if any(c.block in ORDER_BLOCKS for c in live)
            else []
        )
        wanted = {key for c in live if c.block == "actions" for key in c.params["actions"]}
        actions = member_done_actions(member=locked, actions=wanted, since=since, until=until)
        confirmed_orders = [o for o in orders if o.confirmed]
        rows = {
            row.challenge_id: row
            for row in ChallengeProgress.objects.select_for_update().filter(
                member=locked, challenge_id__in=[c.pk for c in live]
            )
        }
        outcomes = []
        for challenge in live:
            common = {
                "block": challenge.block,
                "params": challenge.params,
                "starts_at": challenge.starts_at,
                "ends_at": challenge.ends_at,
                "actions": actions,
                "zone": zone,
            }
            value = progress_value(orders=orders, **common)
            confirmed = progress_value(orders=confirmed_orders, **common)
            row = rows.get(challenge.pk)
            if row is None and value == 0 and confirmed == 0:
                continue
            outcomes.append(
                _progress_write(
                    challenge=challenge,
                    member=locked,
                    row=row,
                    value=value,
                    confirmed=confirmed,
                    actor=actor,
                )
            )
    return outcomes


def _progress_write(
    *,
    challenge: Challenge,
    member: Member,
    row: ChallengeProgress | None,
    value: Decimal,
    confirmed: Decimal,
    actor: str,
) -> Outcome:
    row, changed, outcome = _progress_settle(
        challenge=challenge, member=member, row=row, value=value, confirmed=confirmed, actor=actor
    )
    if changed:
        row.save()
    return outcome


def _progress_settle(
    *,
    challenge: Challenge,
    member: Member,
    row: ChallengeProgress | None,
    value: Decimal,
    confirmed: Decimal,
    actor: str,
) -> tuple[ChallengeProgress, bool, Outcome]:
    """Set a member's row to the values computed, and give or take back the reward when
    the confirmed value crosses the target (the module's doc). Returns the row, whether it
    needs writing, and the outcome; the caller saves the row (one by one, or a batch in
    one statement). Caller holds the member's row lock."""
    if row is None:
        row = ChallengeProgress(shop_id=challenge.shop_id, challenge=challenge, member=member)
    changed = row.pk is None or row.value != value or row.confirmed_value != confirmed
    row.value, row.confirmed_value = value, confirmed
    granted = revoked = False
    if not row.completed and confirmed >= challenge.target:
        row.completions += 1
        row.completed, row.completed_at = True, now()
        _grant(challenge=challenge, member=member, n=row.completions, actor=actor)
        granted = changed = True
    elif row.completed and confirmed < challenge.target:
        row.revocations += 1
        row.completed, row.completed_at = False, None
        _revoke(challenge=challenge, member=member, n=row.revocations, actor=actor)
        revoked = changed = True
    outcome = Outcome(
        challenge_id=challenge.pk,
        value=value,
        confirmed_value=confirmed,
        completed=row.completed,
        granted=granted,
        revoked=revoked,
    )
    return row, changed, outcome


def grant_key(challenge_id: int, member_id: int) -> str:
    """The catalog reward's grant: once per member and challenge, ever."""
    return f"challenge:{challenge_id}:{member_id}"


def _grant(*, challenge: Challenge, member: Member, n: int, actor: str) -> None:
    reason = f"Challenge completed: {challenge.name}"
    if challenge.reward_points:
        ledger_entry_add(
            member=member,
            kind=LedgerEntry.Kind.CHALLENGE,
            points=int(challenge.reward_points),
            idempotency_key=f"{grant_key(challenge.pk, member.pk)}:c{n}",
            source_type="challenge",
            source_id=str(challenge.pk),
            reason=reason,
            actor=actor,
        )
        # Challenge points count toward a points-earned tier: an upgrade happens now.
        member_tier_after_points(member=member, actor="challenge")
    if challenge.badge_id is not None:
        MemberBadge.objects.bulk_create(
            [
                MemberBadge(
                    shop_id=challenge.shop_id,
                    member=member,
                    badge_id=challenge.badge_id,
                    challenge=challenge,
                    awarded_at=now(),
                )
            ],
            ignore_conflicts=True,
        )
    if challenge.reward_id is not None:
        # Imported here: rewards builds on members and earning, never on challenges.
        from loyalty_app.rewards.lifecycle import reward_grant

        try:
            reward_grant(
                shop=member.shop,
                member=member,
                reward_id=challenge.reward_id,
                reason=reason,
                key=grant_key(challenge.pk, member.pk),
            )
        except Reward.DoesNotExist:
            # Archived since the challenge was defined: logged, the rest still given.
            logger.warning(
                "challenge %s: reward %s cannot be granted",
                challenge.pk,
                challenge.reward_id,
                extra={"shop": member.shop_id},
            )


def _revoke(*, challenge: Challenge, member: Member, n: int, actor: str) -> None:
    if challenge.reward_points:
        ledger_entry_add(
            member=member,
            kind=LedgerEntry.Kind.CHALLENGE,
            points=-int(challenge.reward_points),
            idempotency_key=f"{grant_key(challenge.pk, member.pk)}:r{n}",
            source_type="challenge",
            source_id=str(challenge.pk),
            reason=f"Challenge no longer complete after a refund: {challenge.name}",
            actor=actor,
        )
    if challenge.badge_id is not None:
        MemberBadge.objects.filter(
            member=member, badge_id=challenge.badge_id, challenge=challenge
        ).delete()


# --- the hooks ----------------------------------------------------------------------------


def challenges_after_order(*, order: Order, actor: str = "") -> list[Outcome]:
    """The order path's challenge step, at the end of the order's reconciliation, in its
    transaction and under its row lock: recompute the member's progress in the active
    order challenges whose dates hold the order. One indexed query for a shop without
    any."""
    if order.member_id is None or order.placed_at is None:
        return []
    placed = order.placed_at
    live = [
        c
        for c in challenges_live(shop=order.shop_id)
        if c.block in ORDER_BLOCKS and c.starts_at <= placed < c.ends_at
    ]
    if not live:
        return []
    return member_challenges_evaluate(
        shop=order.shop, member=order.member, challenges=live, actor=actor or "order"
    )


def challenges_after_action(*, member: Member, action: str, occurred_at: datetime) -> list[Outcome]:
    """After an action was awarded: recompute the member's progress in the active action
    challenges that name it and whose dates hold it."""
    live = [
        c
        for c in challenges_live(shop=member.shop_id)
        if c.block == "actions"
        and action in c.params["actions"]
        and c.starts_at <= occurred_at < c.ends_at
    ]
    if not live:
        return []
    return member_challenges_evaluate(
        shop=member.shop, member=member, challenges=live, actor="action"
    )


# --- the activation's catch-up ----------------------------------------------------------------


def _backfill_candidates(challenge: Challenge):  # type: ignore[no-untyped-def]
    """Members of the shop with something the challenge counts in its dates."""
    members = Member.objects.filter(shop_id=challenge.shop_id)
    if challenge.block == "actions":
        return members.filter(
            Exists(
                ActionEvent.objects.filter(
                    member=OuterRef("pk"),
                    action__in=challenge.params["actions"],
                    status=ActionEvent.Status.AWARDED,
                    occurred_at__gte=challenge.starts_at,
                    occurred_at__lt=challenge.ends_at,
                )
            )
        )
    return members.filter(
        Exists(
            Order.objects.filter(
                member=OuterRef("pk"),
                has_snapshot=True,
                paid=True,
                placed_at__gte=challenge.starts_at,
                placed_at__lt=challenge.ends_at,
            )
        )
    )


def _backfill_batch(*, challenge: Challenge, batch_size: int) -> int:
    """Evaluate the next ``batch_size`` members after the cursor in one transaction and
    move the cursor past them; returns how many were evaluated (0: none left).

    Set-based: the members are locked in one statement, their counted orders and actions
    read in one query each, the pure counting done in Python, and the rows that change
    written in one upsert. Each member goes through ``_progress_settle``, the rules the
    order webhooks apply: a reward given or taken back costs that member's ledger entry
    (and badge, catalog reward); a member who only moves costs nothing but their share of
    the upsert. The result equals ``member_challenges_evaluate`` for each member (the
    tests compare both)."""
    with transaction.atomic():
        # The members' rows in pk order, before any fact is read (the module's doc, Locks).
        # Where a webhook holds a member's lock, this waits for it to commit, so the reads
        # below see its order; a webhook that comes later waits for this batch to commit,
        # then recomputes from the source itself: whoever holds the member's lock last
        # writes the row, from everything committed before it.
        members = list(
            _backfill_candidates(challenge)
            .filter(pk__gt=challenge.backfill_member_id)
            .order_by("pk")
            .only("id", "shop_id")
            .select_for_update()[:batch_size]
        )
        if not members:
            return 0
        ids = [m.pk for m in members]
        shop = challenge.shop
        since, until = challenge.starts_at, challenge.ends_at
        orders = (
            members_counted_orders(
                shop_id=shop.pk,
                member_ids=ids,
                since=since,
                until=until,
                with_lines=challenge.block == "distinct_categories",
            )
            if challenge.block in ORDER_BLOCKS
            else {}
        )
        actions = (
            members_done_actions(
                shop_id=shop.pk,
                member_ids=ids,
                actions=set(challenge.params["actions"]),
                since=since,
                until=until,
            )
            if challenge.block == "actions"
            else {}
        )
        rows = {
            row.member_id: row
            for row in ChallengeProgress.objects.select_for_update().filter(
                challenge=challenge, member_id__in=ids
            )
        }
        zone = zone_of(shop.timezone)
        common = {
            "block": challenge.block,
            "params": challenge.params,
            "starts_at": since,
            "ends_at": until,
            "zone": zone,
        }
        upserts = []
        for member in members:
            counted = orders.get(member.pk, [])
            done = actions.get(member.pk, [])
            value = progress_value(orders=counted, actions=done, **common)
            confirmed = progress_value(
                orders=[o for o in counted if o.confirmed], actions=done, **common
            )
            row = rows.get(member.pk)
            if row is None and not value and not confirmed:
                continue  # nothing counted: no row, read as 0 (as the per-member path)
            member.shop = shop
            # The per-member path's rules: a reward given or taken back here is written
            # through the ledger at once, under the lock this batch holds; the row waits
            # for the batch's upsert.
            settled, changed, _ = _progress_settle(
                challenge=challenge,
                member=member,
                row=row,
                value=value,
                confirmed=confirmed,
                actor="challenge-activation",
            )
            if changed:
                upserts.append(
                    ChallengeProgress(
                        shop_id=shop.pk,
                        challenge=challenge,
                        member_id=member.pk,
                        **{name: getattr(settled, name) for name in PROGRESS_STATE},
                    )
                )
        if upserts:
            # No conflict can come from another writer (all hold the member's lock); the
            # upsert lets one statement create new rows and correct existing ones.
            ChallengeProgress.objects.bulk_create(
                upserts,
                update_conflicts=True,
                unique_fields=["challenge", "member"],
                update_fields=[*PROGRESS_STATE, "updated_at"],
            )
        # In the batch's transaction: a crash leaves the cursor before the batch, whose
        # writes are rolled back with it. The cursor only moves forward.
        Challenge.objects.filter(pk=challenge.pk, backfill_member_id__lt=ids[-1]).update(
            backfill_member_id=ids[-1], updated_at=now()
        )
        return len(ids)


def challenge_backfill_run(*, challenge_id: int, batch_size: int = BACKFILL_BATCH_SIZE) -> int:
    """Count what members did in an activated challenge's dates before it was activated;
    returns how many members were evaluated.

    Only members with an order or an action the challenge may count in its dates are
    read (``_backfill_candidates``): any other member's progress is 0, which the widget
    and the API read from a missing row. Members go in batches by id, each batch one
    transaction that also moves the challenge's cursor (``backfill_member_id``), so a
    crash resumes after the last committed batch. Running it again, or in two workers at
    once, changes nothing (each batch recomputes from the source under the members'
    locks, and writes only rows whose values differ)."""
    evaluated = 0
    while True:
        challenge = (
            Challenge.objects.select_related("shop", "badge", "reward")
            .filter(pk=challenge_id, status=Challenge.Status.ACTIVE, backfilled_at__isnull=True)
            .first()
        )
        if challenge is None:
            return evaluated  # done, archived, or unknown
        done = _backfill_batch(challenge=challenge, batch_size=batch_size)
        evaluated += done
        if done == 0:
            # Finished only when no member is left after the cursor (a batch may come back
            # short when a locked member changed meanwhile, so a short batch proves nothing).
            Challenge.objects.filter(pk=challenge.pk, backfilled_at__isnull=True).update(
                backfilled_at=now(), updated_at=now()
            )
            return evaluated


def challenge_backfills_resume() -> int:
    """Run the catch-ups not finished (a lost message, a dead worker)."""
    pending = list(
        Challenge.objects.filter(
            status=Challenge.Status.ACTIVE,
            backfilled_at__isnull=True,
            shop__state=Shop.State.INSTALLED,
        ).values_list("pk", flat=True)
    )
    return sum(challenge_backfill_run(challenge_id=pk) for pk in pending)
