"""The what-if simulator: a shop's stored orders replayed under proposed rules.

Nothing here writes: it reads orders, refunds and the ledger and computes with the
earning engine's own pure calculation (``earning.rules.order_breakdown``), so the points
an order would earn under a proposal are exactly what the engine would award it.

For the orders of members placed in the last ``months`` months (to now):

- points issued under the proposal: each order's points under the proposed program, with
  the campaigns that were in force when it was placed, net of its refunds; a paused
  proposal issues nothing. Under the current rules: the newest program version's points;
  an order placed under that version keeps the points the engine computed for it
  (``Order.points_target``), so the current column is the real award.
- expected redemptions = points issued x the shop's own redemption rate over the same
  months (points redeemed less returned / points issued, from the ledger);
- cost = expected redemptions x the value of a point (the lowest money per point among the
  shop's rewards, ``selectors.point_value``); as a share of the revenue (net merchandise)
  of the replayed orders;
- liability = (points issued - expected redemptions) x the value of a point;
- members per tier: the proposed tiers (or the current ones) with each member's metric at
  the end, in both columns: under the current rules the metric the engine holds; under
  the proposal, for the ``points_earned`` metric, the orders of the tier period are
  replayed too, so a richer earning rule moves members up (action points count as they
  were awarded, confirmed orders only, as the engine counts points earned).

Orders stream from a server-side cursor in batches, each batch's refunds read in one
query, so memory stays flat whatever the number of orders; only the per-member tier
metric (one number per member with points) is kept when the tiers count points.
Facts of a product that the shop's rules never needed (type, tags, collections) are not
stored on orders, so a proposed rule on them matches only orders that have them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum

from loyalty_app.common.time import now
from loyalty_app.earning.domain import Refund, RefundLine
from loyalty_app.earning.models import Order, OrderRefund
from loyalty_app.earning.policies import ProgramConfig, add_months
from loyalty_app.earning.rules import (
    OrderContext,
    RuleLine,
    campaign_from_dict,
    order_breakdown,
    refunds_by_line,
)
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.policies import TierProgramConfig, period_windows, tier_index
from loyalty_app.tiers.selectors import shop_zone, tier_distribution, tier_program_current_config

from .selectors import PointValue, point_value, points_between, ratio

ZERO = Decimal("0")
BATCH = 2000
DEFAULT_MONTHS = 12
MAX_MONTHS = 36


@dataclass(frozen=True)
class Side:
    """One column of the comparison."""

    points_issued: int
    expected_redeemed: int
    cost: Decimal | None
    cost_share: Decimal | None
    liability: Decimal | None
    tiers: list[tuple[str | None, int]]


@dataclass(frozen=True)
class WhatIf:
    months: int
    start: datetime
    end: datetime
    orders: int
    revenue: Decimal
    redemption_rate: Decimal | None
    point_value: PointValue
    current: Side
    proposed: Side


def _rule_lines(stored: list[dict[str, Any]]) -> list[RuleLine]:
    """An order's stored lines (``Order.lines``) as the calculation reads them."""
    return [
        RuleLine(
            line_id=str(line["id"]),
            amount=Decimal(line["amount"]),
            quantity=int(line.get("quantity", 1)),
            gift_card=bool(line.get("gift_card", False)),
            product_id=str(line.get("product_id", "")),
            variant_id=str(line.get("variant_id", "")),
            sku=str(line.get("sku", "")),
            vendor=str(line.get("vendor", "")),
            product_type=str(line.get("product_type", "")),
            tags=frozenset(line.get("tags", ())),
            collections=frozenset(line.get("collections", ())),
        )
        for line in stored
    ]


def _refunds(order_ids: list[int]) -> dict[int, list[Refund]]:
    found: dict[int, list[Refund]] = {}
    rows = OrderRefund.objects.filter(order_id__in=order_ids).values_list(
        "order_id", "external_id", "lines", "extra_amount"
    )
    for order_id, external_id, lines, extra in rows:
        found.setdefault(order_id, []).append(
            Refund(
                external_id=external_id,
                order_external_id="",
                lines=tuple(
                    RefundLine(
                        line_id=str(line["id"]),
                        amount=Decimal(line["amount"]),
                        gift_card=bool(line["gift_card"]),
                    )
                    for line in lines
                ),
                extra_amount=extra,
            )
        )
    return found


def order_points(order: Mapping[str, Any], refunds: list[Refund], config: ProgramConfig) -> int:
    """The points one stored order is worth under ``config``: the engine's calculation
    (``earning.services``) with the order's own facts, campaigns and refunds."""
    if not config.enabled:
        return 0
    refunded_by_line, refunded_extra = refunds_by_line(refunds)
    return order_breakdown(
        lines=_rule_lines(order["lines"]),
        context=OrderContext(
            placed_at=order["placed_at"],
            is_first_order=order["first_order"],
            paid=order["paid"],
            cancelled=order["cancelled"],
            fully_refunded=order["fully_refunded"],
            test=order["test"],
        ),
        rules=config.earn,
        campaigns=[campaign_from_dict(c) for c in order["campaigns"]],
        refunded_by_line=refunded_by_line,
        refunded_extra=refunded_extra,
        shipping=order["shipping_amount"],
        tax=order["tax_amount"],
    ).points


FIELDS = (
    "pk",
    "member_id",
    "placed_at",
    "lines",
    "campaigns",
    "first_order",
    "paid",
    "cancelled",
    "fully_refunded",
    "test",
    "shipping_amount",
    "tax_amount",
    "eligible_amount",
    "refunded_amount",
    "program_id",
    "points_target",
    "confirmed",
)


def _batches(
    *, shop: Shop, since: datetime | None, end: datetime
) -> Iterator[list[dict[str, Any]]]:
    """The members' orders placed in ``[since, end)`` that can earn, in batches read from
    a server-side cursor. An order that is not paid, or is cancelled, fully refunded or a
    test, earns nothing under any rules and is not read."""
    orders = Order.objects.filter(
        shop=shop,
        member__isnull=False,
        has_snapshot=True,
        paid=True,
        cancelled=False,
        fully_refunded=False,
        test=False,
        placed_at__lt=end,
    )
    if since is not None:
        orders = orders.filter(placed_at__gte=since)
    batch: list[dict[str, Any]] = []
    for row in orders.values(*FIELDS).iterator(chunk_size=BATCH):
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _tier_needs_replay(tiers: TierProgramConfig) -> bool:
    return bool(tiers.tiers) and tiers.metric == "points_earned"


def _earliest(*moments: datetime | None) -> datetime | None:
    if any(moment is None for moment in moments):
        return None
    return min(m for m in moments if m is not None)


def _action_points(
    *, shop: Shop, since: datetime | None, end: datetime, split: datetime | None
) -> dict[int, tuple[int, int]]:
    """Member -> (action points from ``split`` on, before it) of entries in ``[since, end)``;
    without ``split`` every point is in the first. One grouped query."""
    entries = LedgerEntry.objects.filter(
        shop=shop,
        source_type="action",
        kind=LedgerEntry.Kind.ACTION,
        points__gt=0,
        created_at__lt=end,
    )
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    if split is None:
        rows = (
            entries.values("member_id").annotate(cur=Sum("points")).values_list("member_id", "cur")
        )
        return {int(member_id): (int(cur), 0) for member_id, cur in rows}
    split_rows = (
        entries.values("member_id")
        .annotate(
            cur=Sum("points", filter=Q(created_at__gte=split), default=0),
            prev=Sum("points", filter=Q(created_at__lt=split), default=0),
        )
        .values_list("member_id", "cur", "prev")
    )
    return {int(member_id): (int(cur), int(prev)) for member_id, cur, prev in split_rows}


def _bucket(
    *, shop: Shop, tiers: TierProgramConfig, metric: dict[int, list[int]], retention: bool
) -> list[tuple[str | None, int]]:
    """Members per tier from the per-member (current, previous) points; members with no
    points hold the tier a metric of 0 gives."""
    counts: dict[int, int] = {}
    for cur, prev in metric.values():
        index = tier_index(tiers, cur)
        if retention:
            kept = tier_index(tiers, prev)
            if kept is not None and (index is None or kept > index):
                index = kept
        key = -1 if index is None else index
        counts[key] = counts.get(key, 0) + 1
    rest = Member.objects.filter(shop=shop).count() - len(metric)
    zero = tier_index(tiers, 0)
    key = -1 if zero is None else zero
    counts[key] = counts.get(key, 0) + rest
    return [(None, counts.get(-1, 0))] + [
        (tier.name, counts.get(i, 0)) for i, tier in enumerate(tiers.tiers)
    ]


def what_if(
    *,
    shop: Shop,
    program: ProgramConfig,
    tiers: TierProgramConfig | None = None,
    months: int = DEFAULT_MONTHS,
    at: datetime | None = None,
) -> WhatIf:
    """Replay the shop's last ``months`` months of orders under ``program`` (and ``tiers``,
    default: the current tiers) and under the current rules, side by side. Reads only."""
    end = at or now()
    start = add_months(end, -months)
    current_version = program_current(shop=shop)
    current_config = program_config(current_version)
    current_id = current_version.pk if current_version is not None else None
    proposed_tiers = tiers if tiers is not None else tier_program_current_config(shop=shop)

    # The tier metric under the proposal needs the orders of the tiers' period as well.
    replay_tiers = _tier_needs_replay(proposed_tiers)
    windows = period_windows(proposed_tiers, at=end, zone=shop_zone(shop))
    tier_lower = windows.previous[0] if windows.previous is not None else windows.start
    since = _earliest(start, tier_lower) if replay_tiers else start
    metric: dict[int, list[int]] = {}

    orders = 0
    revenue = ZERO
    issued_current = issued_proposed = 0
    for batch in _batches(shop=shop, since=since, end=end):
        refunded = [row["pk"] for row in batch if row["refunded_amount"]]
        refunds = _refunds(refunded) if refunded else {}
        for row in batch:
            own = refunds.get(row["pk"], [])
            proposed = order_points(row, own, program)
            placed = row["placed_at"]
            if placed >= start:
                orders += 1
                revenue += max(row["eligible_amount"] - row["refunded_amount"], ZERO)
                issued_proposed += proposed
                if row["program_id"] == current_id:
                    issued_current += row["points_target"]
                else:
                    issued_current += order_points(row, own, current_config)
            if replay_tiers and row["confirmed"] and proposed:
                # As the engine counts points earned: confirmed orders only.
                if windows.start is None or placed >= windows.start:
                    metric.setdefault(row["member_id"], [0, 0])[0] += proposed
                elif windows.previous is not None and placed >= windows.previous[0]:
                    metric.setdefault(row["member_id"], [0, 0])[1] += proposed

    if replay_tiers:
        actions = _action_points(
            shop=shop, since=tier_lower, end=end, split=windows.start if windows.previous else None
        )
        for member_id, (cur, prev) in actions.items():
            slot = metric.setdefault(member_id, [0, 0])
            slot[0] += cur
            slot[1] += prev
        proposed_distribution = _bucket(
            shop=shop, tiers=proposed_tiers, metric=metric, retention=windows.previous is not None
        )
    elif proposed_tiers.tiers:
        proposed_distribution = tier_distribution(shop=shop, definition=proposed_tiers, at=end)
    else:
        proposed_distribution = []
    # The same tiers under the current earning: the members' metric as the engine holds it.
    current_distribution = (
        tier_distribution(shop=shop, definition=proposed_tiers, at=end)
        if proposed_tiers.tiers
        else []
    )

    history = points_between(shop=shop, start=start, end=end)
    rate = history.redemption_rate
    value = point_value(shop=shop)

    def side(issued: int, distribution: list[tuple[str | None, int]]) -> Side:
        expected = int(issued * rate) if rate is not None else 0
        cost = None if value.value is None else expected * value.value
        return Side(
            points_issued=issued,
            expected_redeemed=expected,
            cost=cost,
            cost_share=None if cost is None else ratio(cost, revenue),
            liability=None if value.value is None else (issued - expected) * value.value,
            tiers=distribution,
        )

    return WhatIf(
        months=months,
        start=start,
        end=end,
        orders=orders,
        revenue=revenue,
        redemption_rate=rate,
        point_value=value,
        current=side(issued_current, current_distribution),
        proposed=side(issued_proposed, proposed_distribution),
    )
