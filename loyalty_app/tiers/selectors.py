"""Reading a shop's tiers, and the members' metrics computed from the shop's data.

The metric of a member, for a definition at a moment (``at``), over the definition's
period (``policies.period_windows``):

- ``points_earned``: the points of the member's orders placed in the period, net of their
  refunds and cancellations whenever those came (an order's points are what the ledger
  holds for it, ``Order.points_awarded``; pending points are not earned yet), plus the
  points of actions (sign-up, reviews...) credited in the period. Manual adjustments,
  imported balances, expiries and spending are not earning.
- ``amount_spent``: the merchandise of the member's paid orders placed in the period, after
  discounts and refunds, gift cards, shipping and tax excluded, in the shop's currency.
- ``orders_count``: the member's paid orders placed in the period that are neither
  cancelled nor fully refunded.

Test orders never count. Each is computed by the database in one aggregate query, for one
member or for every member of the shop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection
from django.db.models import QuerySet

from loyalty_app.earning.models import Order
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

from .models import MemberTier, TierEvaluationJob, TierEvent, TierProgram
from .policies import (
    DEFAULT_TIER_PROGRAM,
    TierProgramConfig,
    Windows,
    period_windows,
    tier_for,
    tier_index,
    tier_program_from_dict,
    tier_progress,
)

ZERO = Decimal("0")


def tier_program_current(*, shop: Shop) -> TierProgram | None:
    """The shop's tier definition in force (the newest version), or None: no tiers."""
    return TierProgram.objects.filter(shop=shop).order_by("-version").first()


@lru_cache(maxsize=1024)
def _parsed(program_id: int) -> TierProgramConfig:
    # Versions are never edited, so a version is parsed once per process.
    return tier_program_from_dict(TierProgram.objects.get(pk=program_id).definition)


def tier_program_config(program: TierProgram | None) -> TierProgramConfig:
    return DEFAULT_TIER_PROGRAM if program is None else _parsed(program.pk)


def tier_program_current_config(*, shop: Shop) -> TierProgramConfig:
    return tier_program_config(tier_program_current(shop=shop))


def shop_zone(shop: Shop) -> ZoneInfo:
    try:
        return ZoneInfo(shop.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# --- the metric in SQL ------------------------------------------------------------------


def _moment(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


@dataclass(frozen=True)
class Members:
    """Which members a metric query reads: one, a range of ids, or a list of ids (None:
    every member of the shop). Each is served by the index on the member column."""

    member_id: int | None = None
    id_range: tuple[int, int] | None = None
    ids: tuple[int, ...] | None = None

    def where(self, column: str) -> tuple[str, list[Any]]:
        if self.member_id is not None:
            return f" AND {column} = %s", [self.member_id]
        if self.id_range is not None:
            return f" AND {column} BETWEEN %s AND %s", list(self.id_range)
        if self.ids is not None:
            return f" AND {column} = ANY(%s)", [list(self.ids)]
        return "", []


EVERY_MEMBER = Members()


def _metric_rows_sql(
    *, shop: Shop, config: TierProgramConfig, windows: Windows, members: Members
) -> tuple[str, list[Any]]:
    """SQL of (member_id, value, at) rows: one per counted order or action entry.

    Only rows in the current period or, under retention, the previous one are read:
    ``placed_at`` for orders, ``created_at`` for action entries.
    """
    orders = Order._meta.db_table
    ledger = LedgerEntry._meta.db_table
    lower = windows.previous[0] if windows.previous is not None else windows.start
    only_member, member_params = members.where("o.member_id")
    since = " AND o.placed_at >= %s" if lower is not None else ""
    params: list[Any] = [shop.pk, _moment(windows.end)]
    if lower is not None:
        params.append(_moment(lower))
    params += member_params
    if config.metric == "orders_count":
        value, status = "1", " AND o.paid AND NOT o.cancelled AND NOT o.fully_refunded"
    elif config.metric == "amount_spent":
        value = (
            "CASE WHEN o.eligible_amount > o.refunded_amount "
            "THEN o.eligible_amount - o.refunded_amount ELSE 0 END"
        )
        status = " AND o.paid AND NOT o.cancelled AND NOT o.fully_refunded"
    else:
        value, status = "o.points_awarded", " AND o.points_awarded > 0"
    sql = (
        f"SELECT o.member_id AS member_id, {value} AS v, o.placed_at AS t FROM {orders} o "  # noqa: S608 - fixed names; values are parameters
        "WHERE o.shop_id = %s AND o.member_id IS NOT NULL AND o.has_snapshot AND NOT o.test "
        f"AND o.placed_at < %s{since}{status}{only_member}"
    )
    if config.metric == "points_earned":
        # Action points, and the points of referrals and challenges net of what was taken
        # back (a refunded friend's order, a challenge undone): the ledger_source index
        # (shop, source_type, ...) finds them.
        sql += (
            f" UNION ALL SELECT l.member_id, l.points, l.created_at FROM {ledger} l "  # noqa: S608 - fixed names; values are parameters
            "WHERE l.shop_id = %s AND ((l.source_type = 'action' AND l.kind = %s AND l.points > 0) "
            "OR (l.source_type IN ('referral', 'challenge') AND l.kind IN (%s, %s))) "
            "AND l.created_at < %s"
            + (" AND l.created_at >= %s" if lower is not None else "")
            + members.where("l.member_id")[0]
        )
        params += [
            shop.pk,
            LedgerEntry.Kind.ACTION,
            LedgerEntry.Kind.REFERRAL,
            LedgerEntry.Kind.CHALLENGE,
            _moment(windows.end),
        ]
        if lower is not None:
            params.append(_moment(lower))
        params += member_params
    return sql, params


def _metric_sql(
    *, shop: Shop, config: TierProgramConfig, windows: Windows, members: Members = EVERY_MEMBER
) -> tuple[str, list[Any]]:
    """SQL of (member_id, cur, prev): the metric in the current and the previous period
    (prev is 0 without retention), for members with at least one counted row."""
    rows, params = _metric_rows_sql(shop=shop, config=config, windows=windows, members=members)
    if windows.previous is not None:
        split = [_moment(windows.start), _moment(windows.start)]  # type: ignore[arg-type]
        sql = (
            "SELECT r.member_id, SUM(CASE WHEN r.t >= %s THEN r.v ELSE 0 END) AS cur, "  # noqa: S608 - fixed names; values are parameters
            "SUM(CASE WHEN r.t < %s THEN r.v ELSE 0 END) AS prev "
            f"FROM ({rows}) r GROUP BY r.member_id"
        )
        return sql, split + params
    return (
        f"SELECT r.member_id, SUM(r.v) AS cur, 0 AS prev FROM ({rows}) r GROUP BY r.member_id",  # noqa: S608 - fixed names; values are parameters
        params,
    )


def _number(config: TierProgramConfig, raw: Any) -> int | Decimal:
    if config.uses_money:
        # SQLite sums decimals as floats; read them by their text, to the cent's precision.
        return ZERO if raw is None else Decimal(str(raw)).quantize(Decimal("0.0001")).normalize()
    return 0 if raw is None else int(raw)


@dataclass(frozen=True)
class MemberMetric:
    """A member's metric in the current period and, under retention, the previous one."""

    value: int | Decimal
    previous: int | Decimal | None


def member_metric(
    *, shop: Shop, member: Member, config: TierProgramConfig, at: datetime
) -> MemberMetric:
    windows = period_windows(config, at=at, zone=shop_zone(shop))
    sql, params = _metric_sql(
        shop=shop, config=config, windows=windows, members=Members(member_id=member.pk)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    value = _number(config, row[1] if row else None)
    previous = _number(config, row[2] if row else None) if windows.previous else None
    return MemberMetric(value=value, previous=previous)


def members_metrics(
    *, shop: Shop, config: TierProgramConfig, at: datetime, members: Members
) -> dict[int, MemberMetric]:
    """The metric of many members in one aggregate query (a batch of the evaluation
    job): member id -> metric, for the members with a counted row; the others' metric is
    zero (``zero_metric``)."""
    windows = period_windows(config, at=at, zone=shop_zone(shop))
    sql, params = _metric_sql(shop=shop, config=config, windows=windows, members=members)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        int(member_id): MemberMetric(
            value=_number(config, cur),
            previous=_number(config, prev) if windows.previous else None,
        )
        for member_id, cur, prev in rows
    }


def zero_metric(config: TierProgramConfig) -> MemberMetric:
    zero: int | Decimal = ZERO if config.uses_money else 0
    return MemberMetric(
        value=zero, previous=zero if config.period != "lifetime" and config.retention else None
    )


def _tier_case(config: TierProgramConfig, column: str) -> tuple[str, list[Any]]:
    """SQL for the position of the highest tier ``column`` reaches (-1: none)."""
    if not config.tiers:
        return "-1", []
    cast = "NUMERIC" if config.uses_money else "BIGINT"
    whens = []
    params: list[Any] = []
    for index in range(len(config.tiers) - 1, -1, -1):
        whens.append(f"WHEN COALESCE({column}, 0) >= CAST(%s AS {cast}) THEN {index}")
        threshold = config.tiers[index].threshold
        params.append(str(threshold) if config.uses_money else threshold)
    return f"CASE {' '.join(whens)} ELSE -1 END", params


def tier_distribution(
    *, shop: Shop, definition: TierProgramConfig, at: datetime
) -> list[tuple[str | None, int]]:
    """How many of the shop's members each tier of ``definition`` would hold at ``at``:
    ``[(None, members in no tier), (lowest tier, n), ..., (highest tier, n)]``, every tier
    listed, even empty. Under retention a member counts in the higher of the tiers the
    current and the previous period give.

    One query: the metric is aggregated per member by the database and bucketed by tier
    there, so only one row per tier comes back, whatever the number of members. Only the
    members with a counted row are aggregated; the others (metric 0) are the shop's member
    count less those, bucketed here. Joining every member to the aggregate instead cost as
    much as the aggregate itself at 100,000 members (bench/admin_pages.py, the Tiers page's
    live preview: 170 ms against 90 ms).
    """
    windows = period_windows(definition, at=at, zone=shop_zone(shop))
    metric_sql, metric_params = _metric_sql(shop=shop, config=definition, windows=windows)
    reached, reached_params = _tier_case(definition, "a.cur")
    if windows.previous is not None:
        kept, kept_params = _tier_case(definition, "a.prev")
    else:
        kept, kept_params = "-1", []
    members = Member._meta.db_table
    # PostgreSQL computes a CTE used twice once. Orders and entries name members of their
    # own shop only, so every aggregated member is one of the shop's.
    sql = (
        f"WITH a AS ({metric_sql}) "  # noqa: S608 - fixed names; values are parameters
        "SELECT CASE WHEN x.kept > x.reached THEN x.kept ELSE x.reached END AS tier, "
        f"COUNT(*) FROM (SELECT {reached} AS reached, {kept} AS kept FROM a) x GROUP BY 1 "
        f"UNION ALL SELECT NULL, (SELECT COUNT(*) FROM {members} m WHERE m.shop_id = %s) "
        "- (SELECT COUNT(*) FROM a)"
    )
    params = metric_params + reached_params + kept_params + [shop.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    counts: dict[int, int] = {}
    for tier, count in rows:
        if tier is None:  # the members without a counted row: a metric of 0
            zero = tier_index(definition, ZERO if definition.uses_money else 0)
            tier = -1 if zero is None else zero
        counts[int(tier)] = counts.get(int(tier), 0) + int(count)
    return [(None, counts.get(-1, 0))] + [
        (tier.name, counts.get(index, 0)) for index, tier in enumerate(definition.tiers)
    ]


# --- a member's progress ------------------------------------------------------------------


def _shown(value: int | Decimal) -> int | str:
    # Plain decimal text ("170", "40.5"), never an exponent ("1.7E+2").
    return format(value.normalize(), "f") if isinstance(value, Decimal) else value


def member_tier_progress(
    *, shop: Shop, member: Member, at: datetime, config: TierProgramConfig | None = None
) -> dict[str, Any]:
    """Where the member stands under the definition in force (or ``config``): the metric
    so far, the tier it gives, the next tier and what is missing to reach it.

    Amounts are decimal text with the shop's currency; points and orders are integers.
    ``tier`` is what the definition gives now; the tier recorded on the member by the
    tier evaluation may lag behind it (a downgrade waits for the end of the period).
    """
    config = config if config is not None else tier_program_current_config(shop=shop)
    windows = period_windows(config, at=at, zone=shop_zone(shop))
    metric = member_metric(shop=shop, member=member, config=config, at=at)
    progress = tier_progress(config, metric.value, metric.previous)
    reached = tier_for(config, metric.value)
    return {
        "metric": config.metric,
        "period": config.period,
        "period_start": windows.start.isoformat() if windows.start else None,
        "currency": shop.currency if config.uses_money else None,
        "value": _shown(metric.value),
        "previous_period_value": (None if metric.previous is None else _shown(metric.previous)),
        "tier": progress.tier.name if progress.tier else None,
        "retained": progress.retained,
        "tier_by_this_period": reached.name if reached else None,
        "next_tier": progress.next_tier.name if progress.next_tier else None,
        "next_threshold": (_shown(progress.next_tier.threshold) if progress.next_tier else None),
        "missing": _shown(progress.missing) if progress.next_tier else None,
    }


# --- the tier a member holds ------------------------------------------------------------


def member_tier_name(*, shop: Shop, member: Member) -> str | None:
    """The tier the member holds (the evaluation's decision, ``MemberTier``), spelled as
    the shop's definition spells it, or None: no tier.

    A member never evaluated holds the tier a metric of zero gives (a first tier with
    threshold 0 holds every member). A shop without a tier definition has no tiers; there
    the tier carried over from another program (``Member.imported_tier``) is the member's
    tier, so reward conditions and the API keep working until the merchant defines tiers.
    Two indexed queries.
    """
    if member.shop_id != shop.pk:
        return None
    program = tier_program_current(shop=shop)
    if program is None:
        return member.imported_tier or None
    row = MemberTier.objects.filter(shop=shop, member_id=member.pk).values_list("tier").first()
    if row is not None:
        return row[0]
    config = tier_program_config(program)
    zero = tier_for(config, ZERO if config.uses_money else 0)
    return zero.name if zero is not None else None


def member_tier_events(*, shop: Shop, member: Member) -> QuerySet[TierEvent]:
    """The member's tier changes, newest first."""
    return TierEvent.objects.filter(shop=shop, member=member).order_by("-id")


def tier_evaluation_get(*, shop: Shop, job_id: object) -> TierEvaluationJob | None:
    try:
        pk = int(str(job_id))
    except ValueError:
        return None
    return TierEvaluationJob.objects.filter(shop=shop, pk=pk).first()


def tier_evaluation_latest(*, shop: Shop) -> TierEvaluationJob | None:
    return TierEvaluationJob.objects.filter(shop=shop).order_by("-id").first()


def tier_evaluation_as_data(job: TierEvaluationJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "version": job.version,
        "total": job.total,
        "processed": job.processed,
        "changed": job.changed,
        "percent": (
            100
            if job.status == TierEvaluationJob.Status.DONE
            else min(99, job.processed * 100 // job.total)
            if job.total
            else 0
        ),
        "error": job.error or None,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
