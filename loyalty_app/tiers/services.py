"""Changing a shop's VIP tiers and cash-back settings (a new version each time), and
deciding each member's tier (``evaluation`` holds the rules).

Lock order, everywhere: order row (if any), then member rows (in id order), then the
members' ``MemberTier`` rows. Every writer of a member's tier holds the member's row lock,
so the tier, its revision and its event change together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, OperationalError, transaction
from django.db.models import F

from loyalty_app.common.time import now
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Reward
from loyalty_app.shops.models import Shop

from .domain import TierNotice
from .evaluation import Decision, Held, Mode, period_key, retention_end, tier_decide
from .models import MemberTier, TierEvaluationJob, TierEvent, TierProgram
from .policies import ConfigError, Tier, TierProgramConfig, tier_program_from_dict
from .selectors import (
    MemberMetric,
    Members,
    member_metric,
    members_metrics,
    shop_zone,
    tier_program_config,
    tier_program_current,
    zero_metric,
)

if TYPE_CHECKING:
    from loyalty_app.earning.models import Order

logger = logging.getLogger(__name__)

# Members per transaction of the evaluation job: large enough that the per-batch queries
# are a small part of the time, small enough that a batch's locks are short.
BATCH_SIZE = 5000
JUST_AFTER = timedelta(microseconds=1)
# Errors a job is run again for (the database went away, a deadlock victim).
TRANSIENT_ERRORS = (OperationalError,)


def tier_program_update(*, shop: Shop, data: object, actor: str) -> tuple[TierProgram, bool]:
    """Validate a shop's tiers and cash-back settings and store them as a new version.

    Raises ``ValidationError`` whose ``message_dict`` maps field paths
    (``tiers[1].threshold``) to messages. Saving the definition already in force creates
    nothing (returns the current version and False), so a retried request is harmless.
    Versions are numbered under the shop's row lock, which the reward services take too:
    a tier cannot disappear while a reward that requires it is being saved.
    """
    try:
        config = tier_program_from_dict(data)
    except ConfigError as exc:
        raise ValidationError(exc.errors) from exc
    canonical = config.to_dict()
    with transaction.atomic():
        Shop.objects.select_for_update().only("id").get(pk=shop.pk)
        _catalog_check(shop=shop, config=config)
        current = TierProgram.objects.filter(shop=shop).order_by("-version").first()
        if current is not None and current.definition == canonical:
            return current, False
        program = TierProgram.objects.create(
            shop=shop,
            version=(current.version + 1) if current else 1,
            definition=canonical,
            created_by=actor[:200],
        )
        # Everyone is re-evaluated under the new version, in the background.
        tier_evaluation_start(
            shop=shop,
            program=program,
            kind=TierEvaluationJob.Kind.DEFINITION_CHANGE,
            key=f"definition:v{program.version}",
            actor=actor,
        )
    return program, True


def _catalog_check(*, shop: Shop, config: TierProgramConfig) -> None:
    """Entry rewards name live rewards of this shop; no live reward requires a tier that
    the new definition drops (its shoppers could never redeem it)."""
    errors: dict[str, list[str]] = {}
    wanted = {
        i: tier.entry_reward.reward_id
        for i, tier in enumerate(config.tiers)
        if tier.entry_reward is not None and tier.entry_reward.reward_id is not None
    }
    if wanted:
        live = set(
            Reward.objects.filter(
                shop=shop, pk__in=set(wanted.values()), archived_at__isnull=True
            ).values_list("pk", flat=True)
        )
        for i, reward_id in wanted.items():
            if reward_id not in live:
                errors[f"tiers[{i}].entry_reward.reward_id"] = [
                    f"no reward {reward_id} in this shop's catalog"
                ]
    names = {tier.key for tier in config.tiers}
    stranded = [
        (pk, title, tier)
        for pk, title, tier in Reward.objects.filter(shop=shop, archived_at__isnull=True)
        .exclude(min_tier="")
        .values_list("pk", "title", "min_tier")
        if tier.casefold() not in names
    ]
    if stranded:
        errors["tiers"] = [
            f"reward {pk} '{title}' requires the tier '{tier}': change or archive it first"
            for pk, title, tier in stranded[:5]
        ]
    if errors:
        raise ValidationError(errors)


# --- a member's tier ---------------------------------------------------------------------


def _platform() -> Any:
    # The platform's bridge, chosen by settings: it shows tier changes in the shop.
    return import_module(settings.LOYALTY_PLATFORM_PORT)


def _held(state: MemberTier | None) -> Held:
    if state is None:
        return Held()
    return Held(
        tier=state.tier,
        retained_until=state.retained_until,
        previous_tier=state.previous_tier,
        qualifying_order=state.qualifying_order,
        since=state.since,
    )


@dataclass
class _Change:
    """One member's decision, to be written by ``_changes_write`` (member row locked)."""

    member: Member
    state: MemberTier | None
    decision: Decision
    metric: MemberMetric
    order_id: str = ""


def _tags(config: TierProgramConfig, old: TierProgramConfig | None) -> tuple[str, ...]:
    tags = [t.customer_tag for t in config.tiers if t.customer_tag]
    if old is not None:
        tags += [t.customer_tag for t in old.tiers if t.customer_tag]
    return tuple(dict.fromkeys(tags))


def _entry_reward(
    *, member: Member, tier: Tier, config: TierProgramConfig, zone: Any, at: datetime, actor: str
) -> tuple[dict[str, Any], int | None]:
    """Give ``tier``'s entry reward once per member, tier and period (the ledger key is
    the idempotency); returns what the event records and the balance after, if points."""
    reward = tier.entry_reward
    if reward is None:
        return {}, None
    period = period_key(config, at=at, zone=zone)
    if reward.points is not None:
        key = f"tier-reward:{member.pk}:{tier.key}:{period}"
        write = ledger_entry_add(
            member=member,
            kind=LedgerEntry.Kind.TIER_REWARD,
            points=reward.points,
            idempotency_key=key,
            source_type="tier",
            source_id=tier.name[:64],
            reason=f"Reached the {tier.name} tier",
            actor=actor,
        )
        return (
            {"points": reward.points, "ledger_key": key, "given": write.created},
            write.entry.balance_after,
        )
    # A catalog reward: granted for no points and delivered like a bought one (a code, a
    # credit, a request), once per member, tier and period (the grant's key).
    from loyalty_app.rewards.lifecycle import reward_grant  # rewards imports tiers

    key = f"tier-reward:{member.pk}:{tier.key}:{period}"
    try:
        grant = reward_grant(
            shop=member.shop,
            member=member,
            reward_id=reward.reward_id,
            reason=f"Reached the {tier.name} tier",
            key=key,
        )
    except Reward.DoesNotExist:
        # Archived since the tier was defined (the rewards code refuses to archive a
        # reward a tier grants, so this is a race): recorded, not silently dropped.
        return {"reward_id": reward.reward_id, "period": period, "status": "unavailable"}, None
    return (
        {
            "reward_id": reward.reward_id,
            "period": period,
            "redemption_id": grant.redemption.pk,
            "given": grant.created,
        },
        None,
    )


def _changes_write(
    *,
    shop: Shop,
    config: TierProgramConfig,
    version: int | None,
    changes: list[_Change],
    at: datetime,
    actor: str,
    old_config: TierProgramConfig | None = None,
) -> list[TierEvent]:
    """Write decided changes: the ``MemberTier`` rows, one event per tier change (with its
    entry reward), the shop's tags and metafields through the platform. The caller holds
    every member's row lock in its transaction."""
    zone = shop_zone(shop)
    created: list[MemberTier] = []
    updated: list[MemberTier] = []
    events: list[TierEvent] = []
    balances: dict[int, int] = {}
    for change in changes:
        decision, member = change.decision, change.member
        state = change.state
        if state is None:
            state = MemberTier(shop=shop, member=member, revision=0)
            created.append(state)
        else:
            updated.append(state)
        state.evaluated_at = at
        state.metric_value = Decimal(change.metric.value)
        state.retained_until = decision.retained_until
        state.program_version = version
        if not decision.changed:
            continue
        new_name = decision.tier.name if decision.tier else None
        from_name = state.tier
        state.previous_tier = from_name or ""
        state.tier = new_name
        state.since = at
        state.revision += 1
        # Only an upgrade an order made can be undone by that order's refund.
        state.qualifying_order = (
            change.order_id if decision.upgrade and decision.reason == "qualified" else ""
        )
        reward: dict[str, Any] = {}
        if decision.upgrade and decision.tier is not None:
            reward, balance = _entry_reward(
                member=member, tier=decision.tier, config=config, zone=zone, at=at, actor=actor
            )
            if balance is not None:
                balances[member.pk] = balance
        events.append(
            TierEvent(
                shop=shop,
                member=member,
                revision=state.revision,
                from_tier=from_name or "",
                to_tier=new_name or "",
                reason=decision.reason,
                metric_value=Decimal(change.metric.value),
                program_version=version,
                order_id=change.order_id,
                entry_reward=reward,
                actor=actor[:200],
                created_at=at,
            )
        )
    fields = [
        "tier",
        "since",
        "metric_value",
        "retained_until",
        "previous_tier",
        "qualifying_order",
        "program_version",
        "revision",
        "evaluated_at",
    ]
    MemberTier.objects.bulk_create(created, batch_size=1000)
    MemberTier.objects.bulk_update(updated, fields, batch_size=1000)
    TierEvent.objects.bulk_create(events, batch_size=1000)
    if events:
        tags = _tags(config, old_config)
        by_member = {change.member.pk: change.member for change in changes}
        notices = []
        for event in events:
            member = by_member[event.member_id]
            tier = config.tier(event.to_tier or None)
            notices.append(
                TierNotice(
                    member_id=member.pk,
                    customer_id=member.external_id or "",
                    event_id=event.pk,
                    tier=tier.name if tier else None,
                    tag=tier.customer_tag if tier else "",
                    tags_removed=tags,
                    points_balance=balances.get(member.pk, member.points_balance),
                )
            )
        _platform().tier_changes_publish(shop=shop, notices=notices)
    return events


def _lock_members(member_ids: list[int]) -> dict[int, Member]:
    # In id order: two writers locking overlapping sets cannot deadlock.
    return {
        m.pk: m
        for m in Member.objects.select_for_update()
        .only("id", "shop_id", "external_id", "points_balance")
        .filter(pk__in=member_ids)
        .order_by("pk")
    }


def _member_tier_evaluate(
    *,
    shop: Shop,
    program: TierProgram,
    member_id: int,
    order_id: str = "",
    placed_at: datetime | None = None,
    actor: str = "",
) -> TierEvent | None:
    """Upgrade (or renew) one member after an award; the refund rule when ``order_id`` is
    the order behind the member's latest upgrade. Runs in the caller's transaction."""
    config = tier_program_config(program)
    member = _lock_members([member_id]).get(member_id)
    if member is None:
        return None
    state = MemberTier.objects.filter(member_id=member_id).first()
    # The metric counts what happened before its moment: take it just after the later of
    # now and the order's time, so the order that asks counts even if the platform's clock
    # is a little ahead of ours, and so do points credited in this very transaction.
    at = max(now(), placed_at or now()) + JUST_AFTER
    metric = member_metric(shop=shop, member=member, config=config, at=at)
    held = _held(state)
    mode = Mode.REFUND if order_id and held.qualifying_order == order_id else Mode.AWARD
    decision = tier_decide(
        config,
        held=held,
        value=metric.value,
        previous=metric.previous,
        at=at,
        zone=shop_zone(shop),
        mode=mode,
        order_id=order_id,
    )
    if not decision.changed and not decision.renewed:
        return None
    events = _changes_write(
        shop=shop,
        config=config,
        version=program.version,
        changes=[_Change(member, state, decision, metric, order_id)],
        at=at,
        actor=actor or "tiers",
    )
    return events[0] if events else None


def _program_with_tiers(shop_id: int) -> TierProgram | None:
    program = TierProgram.objects.filter(shop_id=shop_id).order_by("-version").first()
    if program is None or not tier_program_config(program).tiers:
        return None
    return program


def member_tier_after_order(*, order: Order) -> TierEvent | None:
    """The award path's tier step, at the end of an order's reconciliation, inside its
    transaction and under its row lock: upgrade the member at once if they now qualify
    (never a downgrade here), or undo the latest upgrade when this order made it and a
    refund or cancellation took the qualification away (``evaluation``'s refund rule).

    Cheap for a shop without tiers (one indexed query); otherwise the member's row lock
    and one aggregate over the member's own orders.
    """
    if order.member_id is None:
        return None
    program = _program_with_tiers(order.shop_id)
    if program is None:
        return None
    return _member_tier_evaluate(
        shop=order.shop,
        program=program,
        member_id=order.member_id,
        order_id=order.external_id,
        placed_at=order.placed_at,
        actor="order",
    )


def member_tier_after_points(*, member: Member, actor: str = "action") -> TierEvent | None:
    """After points other than an order's were credited (an action, a referral, a
    challenge: ``actor``): upgrade the member if the shop's metric is points earned and
    they now qualify."""
    program = _program_with_tiers(member.shop_id)
    if program is None or tier_program_config(program).metric != "points_earned":
        return None
    return _member_tier_evaluate(
        shop=member.shop, program=program, member_id=member.pk, actor=actor
    )


# --- the evaluation job ---------------------------------------------------------------


def tier_evaluation_start(
    *,
    shop: Shop,
    program: TierProgram | None,
    kind: str,
    key: str,
    actor: str = "",
) -> TierEvaluationJob:
    """Record a job (once per shop and ``key``) and run it after commit."""
    job, created = TierEvaluationJob.objects.get_or_create(
        shop=shop,
        key=key,
        defaults={
            "program": program,
            "version": program.version if program else None,
            "kind": kind,
            "actor": actor[:200],
        },
    )
    if created:
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from .tasks import tier_evaluation_run

    try:
        tier_evaluation_run.delay(job_id)
    except Exception:  # The job is stored; the sweep runs it.
        logger.warning("could not enqueue tier evaluation %s; the sweep will", job_id)


def _claim(job_id: int) -> TierEvaluationJob | None:
    """Mark the job running (once: started_at and total), or None when there is nothing
    to do: finished, given up, or superseded by a newer definition."""
    with transaction.atomic():
        job = (
            TierEvaluationJob.objects.select_for_update()
            .select_related("shop")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status in (
            TierEvaluationJob.Status.DONE,
            TierEvaluationJob.Status.FAILED,
            TierEvaluationJob.Status.SUPERSEDED,
        ):
            return None
        current = tier_program_current(shop=job.shop)
        if job.program_id is not None and current is not None and current.pk != job.program_id:
            job.status = TierEvaluationJob.Status.SUPERSEDED
            job.finished_at = now()
            job.save(update_fields=["status", "finished_at", "updated_at"])
            return None
        if job.started_at is None:
            job.started_at = now()
            job.total = _due(job, at=job.started_at).count()
        job.status = TierEvaluationJob.Status.RUNNING
        job.save(update_fields=["status", "started_at", "total", "updated_at"])
    return job


def _due(job: TierEvaluationJob, *, at: datetime) -> Any:
    """The ids of the members the job walks, in id order."""
    if job.kind == TierEvaluationJob.Kind.PERIOD_END:
        return (
            MemberTier.objects.filter(shop_id=job.shop_id, retained_until__lte=at)
            .order_by("member_id")
            .values_list("member_id", flat=True)
        )
    return Member.objects.filter(shop_id=job.shop_id).order_by("pk").values_list("pk", flat=True)


def tier_evaluation_run(*, job_id: int, batch_size: int = BATCH_SIZE) -> TierEvaluationJob | None:
    """Walk the job's members in batches (by id, after ``cursor``) and set each one's tier
    by the rules of ``evaluation``: a definition change moves everyone to what the new
    definition gives (retention permitting), the period-end job lowers the tiers whose
    retention ended and renews the others.

    Each batch: the metric of its members in one aggregate query, their stored tiers in
    another, decided here; only members whose tier (or retention) changes are locked,
    computed again under their locks and written, with the job's progress, in one
    transaction. Resumable: a crash loses at most the batch under way, which runs again.
    Re-running changes nothing: unchanged members are not written.
    """
    job = _claim(job_id)
    if job is None:
        return TierEvaluationJob.objects.filter(pk=job_id).first()
    shop = job.shop
    program = job.program or tier_program_current(shop=shop)
    config = tier_program_config(program)
    old_program = (
        TierProgram.objects.filter(shop=shop, version__lt=program.version)
        .order_by("-version")
        .first()
        if program is not None
        else None
    )
    old_config = tier_program_config(old_program) if old_program is not None else None
    mode = (
        Mode.PERIOD_END if job.kind == TierEvaluationJob.Kind.PERIOD_END else Mode.DEFINITION_CHANGE
    )
    try:
        while True:
            at = now() + JUST_AFTER
            ids = list(_due(job, at=at).filter(**_after(job))[:batch_size])
            if not ids:
                break
            _batch_run(
                job=job,
                config=config,
                old_config=old_config,
                version=program.version if program else None,
                ids=ids,
                at=at,
                mode=mode,
            )
            if _superseded(job):
                return job
    except TRANSIENT_ERRORS:
        raise  # the task retries; the job resumes after its last committed batch
    except DatabaseError as exc:
        TierEvaluationJob.objects.filter(pk=job.pk).update(
            status=TierEvaluationJob.Status.FAILED, error=str(exc)[:2000], finished_at=now()
        )
        raise
    TierEvaluationJob.objects.filter(pk=job.pk).update(
        status=TierEvaluationJob.Status.DONE, finished_at=now(), updated_at=now()
    )
    job.refresh_from_db()
    return job


def _after(job: TierEvaluationJob) -> dict[str, int]:
    field = "member_id__gt" if job.kind == TierEvaluationJob.Kind.PERIOD_END else "pk__gt"
    return {field: job.cursor}


def _superseded(job: TierEvaluationJob) -> bool:
    """A newer definition arrived: its own job re-evaluates everyone; stop this one."""
    if job.program_id is None:
        return False
    current = tier_program_current(shop=job.shop)
    if current is None or current.pk == job.program_id:
        return False
    TierEvaluationJob.objects.filter(pk=job.pk).update(
        status=TierEvaluationJob.Status.SUPERSEDED, finished_at=now()
    )
    return True


def _decide_all(
    *,
    config: TierProgramConfig,
    ids: list[int],
    metrics: dict[int, MemberMetric],
    states: dict[int, MemberTier],
    at: datetime,
    zone: Any,
    mode: Mode,
) -> dict[int, tuple[Decision, MemberMetric]]:
    zero = zero_metric(config)
    decided: dict[int, tuple[Decision, MemberMetric]] = {}
    for member_id in ids:
        metric = metrics.get(member_id, zero)
        decision = tier_decide(
            config,
            held=_held(states.get(member_id)),
            value=metric.value,
            previous=metric.previous,
            at=at,
            zone=zone,
            mode=mode,
        )
        if decision.changed or decision.renewed:
            decided[member_id] = (decision, metric)
    return decided


def _batch_run(
    *,
    job: TierEvaluationJob,
    config: TierProgramConfig,
    old_config: TierProgramConfig | None,
    version: int | None,
    ids: list[int],
    at: datetime,
    mode: Mode,
) -> None:
    shop = job.shop
    zone = shop_zone(shop)
    # A definition change walks every member: their ids are dense, a range reads them;
    # the period-end job walks scattered ids.
    members = (
        Members(id_range=(ids[0], ids[-1]))
        if mode is Mode.DEFINITION_CHANGE
        else Members(ids=tuple(ids))
    )
    metrics = members_metrics(shop=shop, config=config, at=at, members=members)
    states = {s.member_id: s for s in MemberTier.objects.filter(shop=shop, member_id__in=ids)}
    candidates = _decide_all(
        config=config, ids=ids, metrics=metrics, states=states, at=at, zone=zone, mode=mode
    )
    changed = 0
    with transaction.atomic():
        if candidates:
            # Under the members' locks, read again what an order may have changed since.
            locked = _lock_members(sorted(candidates))
            fresh_ids = sorted(locked)
            metrics = members_metrics(
                shop=shop, config=config, at=at, members=Members(ids=tuple(fresh_ids))
            )
            states = {s.member_id: s for s in MemberTier.objects.filter(member_id__in=fresh_ids)}
            decided = _decide_all(
                config=config,
                ids=fresh_ids,
                metrics=metrics,
                states=states,
                at=at,
                zone=zone,
                mode=mode,
            )
            changes = [
                _Change(locked[i], states.get(i), decision, metric)
                for i, (decision, metric) in decided.items()
            ]
            events = _changes_write(
                shop=shop,
                config=config,
                version=version,
                changes=changes,
                at=at,
                actor=f"tier-evaluation:{job.pk}",
                old_config=old_config,
            )
            changed = len(events)
        TierEvaluationJob.objects.filter(pk=job.pk).update(
            cursor=ids[-1],
            processed=F("processed") + len(ids),
            changed=F("changed") + changed,
            updated_at=now(),
        )
    job.cursor = ids[-1]


def tier_period_end_start(*, shop: Shop) -> TierEvaluationJob | None:
    """Start today's period-end job for the shop (once per local day) if some member's
    retention has ended; None when there is nothing to do."""
    program = _program_with_tiers(shop.pk)
    if program is None:
        return None
    at = now()
    if not MemberTier.objects.filter(shop=shop, retained_until__lte=at).exists():
        return None
    day = at.astimezone(shop_zone(shop)).date().isoformat()
    return tier_evaluation_start(
        shop=shop,
        program=None,
        kind=TierEvaluationJob.Kind.PERIOD_END,
        key=f"period_end:{day}",
        actor="period-end",
    )


def tier_period_end_all() -> int:
    """The beat's entry: start the period-end job of every installed shop with due
    members. Returns how many jobs were started."""
    started = 0
    for shop in Shop.objects.filter(
        state=Shop.State.INSTALLED, tier_programs__isnull=False
    ).distinct():
        with transaction.atomic():
            if tier_period_end_start(shop=shop) is not None:
                started += 1
    return started


def member_tier_set(
    *, shop: Shop, member: Member, tier: str | None, actor: str
) -> TierEvent | None:
    """The merchant sets a member's tier by hand (reason ``manual``): kept like any tier
    reached now (until its period ends). ``tier`` names a tier of the definition in force,
    or None. Raises ``ValidationError`` for an unknown tier."""
    if member.shop_id != shop.pk:
        raise ValueError("the member belongs to another shop")
    program = tier_program_current(shop=shop)
    config = tier_program_config(program)
    target = config.tier(tier) if tier else None
    if tier and target is None:
        raise ValidationError({"tier": [f"no tier '{tier}' in this shop's definition"]})
    with transaction.atomic():
        locked = _lock_members([member.pk])[member.pk]
        state = MemberTier.objects.filter(member_id=member.pk).first()
        if (state.tier if state else None) == (target.name if target else None):
            return None
        at = now()
        metric = member_metric(shop=shop, member=member, config=config, at=at)
        ends = (
            retention_end(config, at=at, zone=shop_zone(shop), by_current=True)
            if target is not None
            else None
        )
        held = config.tier(state.tier) if state is not None else None
        up = target is not None and (held is None or target.threshold > held.threshold)
        decision = Decision(target, True, False, ends, "manual", up)
        events = _changes_write(
            shop=shop,
            config=config,
            version=program.version if program else None,
            changes=[_Change(locked, state, decision, metric)],
            at=at,
            actor=actor,
        )
    return events[0] if events else None
