"""Reads for actions: which actions a shop runs, what a member has used of each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, OuterRef, QuerySet, Subquery

from loyalty_app.earning.models import ActionEvent, Program
from loyalty_app.earning.policies import ActionRule
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

MAX_TARGETS_LISTED = 100


def shop_zone(shop: Shop) -> ZoneInfo:
    """The shop's time zone; UTC when it is missing or unknown to this server."""
    try:
        return ZoneInfo(shop.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def actions_enabled(*, shop: Shop) -> tuple[ActionRule, ...]:
    """The enabled actions of the shop's program in force now."""
    return tuple(a for a in program_config(program_current(shop=shop)).actions if a.enabled)


def action_event_get(*, shop: Shop, event_key: str) -> ActionEvent | None:
    return (
        ActionEvent.objects.select_related("member").filter(shop=shop, event_key=event_key).first()
    )


def action_events_awarded(
    *, member: Member, rule: ActionRule, at: datetime, zone: ZoneInfo, target: str | None
) -> QuerySet[ActionEvent]:
    """The member's awarded events of this action in the limit's period around ``at`` (of
    this target when the limit is per target; None: of every target): what the limit
    counts."""
    events = ActionEvent.objects.filter(
        member=member, action=rule.key, status=ActionEvent.Status.AWARDED
    )
    start, end = rule.limit.window(at, zone)
    if start is not None and end is not None:
        events = events.filter(occurred_at__gte=start, occurred_at__lt=end)
    if rule.limit.per_target and target is not None:
        events = events.filter(target=target)
    return events


@dataclass(frozen=True)
class ActionUsage:
    """Where a member stands with one action at a moment.

    For a per-target action asked about without a target, ``used`` counts every target,
    ``remaining`` is None and ``available`` is true (a new target can always earn);
    ``targets_done`` lists the targets whose limit is reached in the period.
    """

    rule: ActionRule
    used: int
    remaining: int | None
    available: bool
    period_start: datetime | None
    period_end: datetime | None
    next_available_at: datetime | None
    targets_done: tuple[str, ...] = ()


def action_usage(
    *, member: Member, rule: ActionRule, at: datetime, zone: ZoneInfo, target: str | None = None
) -> ActionUsage:
    """How much of ``rule``'s limit the member has used in the period containing ``at``,
    and when the next award is possible (None: now, or never for a lifetime limit)."""
    limit = rule.limit
    start, end = limit.window(at, zone)
    if limit.per_target and target is None:
        events = action_events_awarded(member=member, rule=rule, at=at, zone=zone, target=None)
        per_target = (
            events.values("target")
            .annotate(n=Count("id"))
            .filter(n__gte=limit.count)
            .order_by("target")
            .values_list("target", flat=True)
        )
        return ActionUsage(
            rule=rule,
            used=events.count(),
            remaining=None,
            available=True,
            period_start=start,
            period_end=end,
            next_available_at=None,
            targets_done=tuple(per_target[:MAX_TARGETS_LISTED]),
        )
    used = action_events_awarded(
        member=member, rule=rule, at=at, zone=zone, target=target or ""
    ).count()
    available = used < limit.count
    return ActionUsage(
        rule=rule,
        used=used,
        remaining=max(limit.count - used, 0),
        available=available,
        period_start=start,
        period_end=end,
        next_available_at=None if available else end,
    )


def member_action_events(*, member: Member, limit: int = 20) -> list[ActionEvent]:
    """The member's latest reported actions, newest first."""
    return list(ActionEvent.objects.filter(member=member).order_by("-occurred_at", "-id")[:limit])


def shops_with_action(*, key: str) -> Iterator[int]:
    """Ids of installed shops whose program in force has ``key`` enabled.

    The stored rules are canonical (``ProgramConfig.to_dict``), so reading the JSON is
    enough; no version is parsed.
    """
    newest = Program.objects.filter(shop=OuterRef("shop")).order_by("-version").values("version")
    rows = (
        Program.objects.filter(version=Subquery(newest[:1]), shop__state=Shop.State.INSTALLED)
        .order_by("shop_id")
        .values_list("shop_id", "rules")
    )
    for shop_id, rules in rows.iterator(chunk_size=500):
        actions = rules.get("actions") or () if isinstance(rules, dict) else ()
        if any(a.get("key") == key and a.get("enabled", True) for a in actions):
            yield shop_id
