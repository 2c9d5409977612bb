"""The what-if simulator: a shop's stored orders replayed under proposed rules.

Nothing here writes: it reads orders, refunds and the ledger and computes with the
earning engine's own pure calculation (``earning.rules.order_breakdown``), so the points
an order would earn under a proposal are exactly what the engine would award it.

For the orders of members placed in the last ``months`` months (to now):

- points issued under the proposal: each order's points under the proposed program, with
  the campaigns that were in force when it was placed and the VIP tier the member held
  then, net of its refunds; a paused proposal issues nothing. The tier's earn multiplier
  is the one fixed on the order, or, when tiers are proposed, the proposed tiers' for
  that tier name (1 for a name they lack). Under the current rules: the newest program
  version's points with the multiplier fixed on the order; an order placed under that
  version keeps the points the engine computed for it (``Order.points_target``), so the
  current column is the real award.
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

Two paths compute the same numbers (``what_if(fast=False)`` takes only the second; the
tests and ``bench/what_if.py --check`` compare them):

- The database path (PostgreSQL): for any rules (a rate, a rounding, shipping and tax, a
  minimum, a cap, the tier multiplier, line rules), an order with no refund and no
  campaign earns ``round((weighted merchandise x tier multiplier + shipping + tax) x
  rate)``, capped, or 0 without merchandise or under the minimum; the weighted
  merchandise is the lines' amounts (gift cards left out) times their line rules'
  multiplier (0 when an exclusion matches, else the highest matching, else 1), the
  merchandise itself without line rules. PostgreSQL computes that per order and adds it
  up in one statement that can use parallel workers; when the tiers count points, it
  also puts each member's metric together (these orders, the general path's, the action
  points) and counts members per tier, so nothing per member comes back. The merchandise
  is ``eligible_amount`` where it equals the stored lines' as the calculation adds them
  up; an order where it does not, with more than ``MAX_LINES`` lines, or with a line
  whose amount is not plain text of a non-negative amount with at most four decimals or
  whose gift-card flag is not a boolean, takes the general path. Line rules match facts
  as ``match_key`` does (trimmed, case-folded, a product id by its last part) only where
  SQL provably does the same: an order with a fact the rules match on that is not text
  of printable ASCII (a list: not an array of such texts without spaces at either end)
  takes the general path; a rule whose key no such fact can have matches nothing there.
  Only additions, multiplications and comparisons of stored decimals are involved, which
  ``numeric`` does exactly, as the calculation's 50-digit context does for amounts of
  sane size; ``floor``/``ceil``/``round`` (halves away from zero: up, for points, which
  are never negative) are the three rounding modes.
- The general path: every other order through ``order_breakdown`` itself (every order
  off PostgreSQL). On PostgreSQL its rows come from one plain statement, streamed with
  their refunds (not a declared cursor, which PostgreSQL never runs in parallel);
  elsewhere from a server-side cursor in batches, each batch's refunds in one query. The
  campaigns stored on orders are parsed once per distinct list, and orders without
  refunds that have the same lines (ids aside), campaigns in force, facts and tier earn
  what the first of them earned (remembered for up to ``MEMO_SIZE`` shapes at a time).

Memory stays flat whatever the number of orders: the general path keeps the per-member
tier metric of its own orders (one number per member with points) when the tiers count
points. Facts of a product that the shop's rules never needed (type, tags, collections)
are not stored on orders, so a proposed rule on them matches only orders that have them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField, Q, Sum
from django.db.models.expressions import RawSQL

from loyalty_app.common.time import now
from loyalty_app.earning.domain import Refund, RefundLine
from loyalty_app.earning.models import Order, OrderRefund
from loyalty_app.earning.policies import ProgramConfig, add_months
from loyalty_app.earning.rules import (
    MATCH_FIELDS,
    Campaign,
    EarnRules,
    OrderContext,
    RuleLine,
    campaign_from_dict,
    order_breakdown,
    refunds_by_line,
)
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.earning.services import _rule_lines  # the engine's reading of Order.lines
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.policies import TierProgramConfig, period_windows, tier_index
from loyalty_app.tiers.selectors import shop_zone, tier_distribution, tier_program_current_config

from .selectors import PointValue, point_value, points_between, ratio

ZERO = Decimal("0")
ONE = Decimal("1")
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


@dataclass(frozen=True)
class Rating:
    """How one column rates an order: its program, and where the tier multiplier comes
    from (``tiers``: those tiers' multiplier for the tier the order was placed in; None:
    the multiplier fixed on the order when it was placed)."""

    config: ProgramConfig
    tiers: TierProgramConfig | None = None

    def multiplier(self, tier: str, fixed: Decimal) -> Decimal:
        if self.tiers is None:
            return fixed
        return self.tiers.earn_multiplier(tier or None)


@dataclass
class Totals:
    """What the replay adds up; ``metric``: member -> [points earned in the tier period,
    in the previous one] under the proposal."""

    orders: int = 0
    revenue: Decimal = ZERO
    proposed: int = 0
    current: int = 0
    metric: dict[int, list[int]] = field(default_factory=dict)

    def add(self, orders: Any, revenue: Any, proposed: Any, current: Any) -> None:
        """Add a row of sums read from the database (None: no rows were added up); the
        revenue in ten-thousandths (the amounts' four places, so the sum is integers')."""
        self.orders += int(orders or 0)
        self.revenue += Decimal(int(revenue or 0)).scaleb(-4)
        self.proposed += int(proposed or 0)
        self.current += int(current or 0)

    def earn(self, member_id: int, cur: int, prev: int) -> None:
        slot = self.metric.setdefault(member_id, [0, 0])
        slot[0] += cur
        slot[1] += prev


# --- the general path ---------------------------------------------------------------


def order_points(
    *,
    lines: Sequence[RuleLine],
    context: OrderContext,
    campaigns: Sequence[Campaign],
    refunds: list[Refund],
    shipping: Decimal,
    tax: Decimal,
    config: ProgramConfig,
) -> int:
    """The points one stored order is worth under ``config``: the engine's calculation
    (``earning.services``) with the order's own facts, campaigns, tier and refunds."""
    if not config.enabled:
        return 0
    refunded_by_line, refunded_extra = refunds_by_line(refunds)
    return order_breakdown(
        lines=lines,
        context=context,
        rules=config.earn,
        campaigns=campaigns,
        refunded_by_line=refunded_by_line,
        refunded_extra=refunded_extra,
        shipping=shipping,
        tax=tax,
    ).points


COLUMNS = (
    "pk",
    "member_id",
    "placed_at",
    "lines",
    "campaigns",
    "first_order",
    "tier",
    "tier_multiplier",
    "shipping_amount",
    "tax_amount",
    "eligible_amount",
    "refunded_amount",
    "program_id",
    "points_target",
    "confirmed",
)


@dataclass(frozen=True)
class _Row:
    """One stored order as the general path reads it. ``shape``: text that is the same
    for two orders that earn the same under any rules, given the rest of the row (their
    lines without the line ids, which only matter to match refunds), or None."""

    pk: int
    member_id: int
    placed: datetime
    lines: list[dict[str, Any]]
    campaigns: str | list[dict[str, Any]]
    first_order: bool
    tier: str
    tier_multiplier: Decimal
    shipping: Decimal
    tax: Decimal
    eligible: Decimal
    refunded: Decimal
    program_id: int | None
    points_target: int
    confirmed: bool
    refunds: list[Refund]
    shape: str | None


def _orders(*, shop: Shop, since: datetime | None, end: datetime) -> Any:
    """The members' orders placed in ``[since, end)`` that can earn. An order that is not
    paid, or is cancelled, fully refunded or a test, earns nothing under any rules."""
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
    return orders


def _refund(external_id: str, lines: list[dict[str, Any]], extra: Decimal) -> Refund:
    return Refund(
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


def _refunds(order_ids: list[int]) -> dict[int, list[Refund]]:
    found: dict[int, list[Refund]] = {}
    rows = OrderRefund.objects.filter(order_id__in=order_ids).values_list(
        "order_id", "external_id", "lines", "extra_amount"
    )
    for order_id, external_id, lines, extra in rows:
        found.setdefault(order_id, []).append(_refund(external_id, lines, extra))
    return found


def _read(orders: Any) -> Iterator[_Row]:
    """The orders' rows, with their refunds (any database): a server-side cursor, each
    batch's refunds in one query."""
    batch: list[tuple[Any, ...]] = []

    def rows() -> Iterator[_Row]:
        refunded = [row[0] for row in batch if row[11]]
        refunds = _refunds(refunded) if refunded else {}
        for row in batch:
            yield _Row(*row, refunds=refunds.get(row[0], []), shape=None)

    for row in orders.values_list(*COLUMNS).iterator(chunk_size=BATCH):
        batch.append(row)
        if len(batch) >= BATCH:
            yield from rows()
            batch = []
    yield from rows()


# An order's refunds as JSON (amounts as text, read as Decimal), and its lines without
# their ids, for the general path on PostgreSQL.
_REFUNDS_JSON = (
    "(SELECT jsonb_agg(jsonb_build_array(r.external_id, r.lines, r.extra_amount::text)"
    " ORDER BY r.id) FROM earning_orderrefund r WHERE r.order_id = earning_order.id)"
)
_SHAPE = "(SELECT jsonb_agg(l - 'id') FROM jsonb_array_elements(earning_order.lines) l)"


def _stream(orders: Any, *, few: bool) -> Iterator[_Row]:
    """The orders' rows, with their refunds, on PostgreSQL: one plain statement whose rows
    are streamed (not a declared cursor, which PostgreSQL never runs in parallel), so
    selecting a ``few`` orders among millions uses every core (the planner, which cannot
    tell how few, is told that workers cost nothing). JSON comes as text."""
    query = orders.annotate(
        refund_rows=RawSQL(_REFUNDS_JSON, ()),  # noqa: S611 - fixed text
        shape=RawSQL(_SHAPE, ()),  # noqa: S611 - fixed text
    ).values_list(*COLUMNS, "refund_rows", "shape")
    from psycopg import pq  # the PostgreSQL driver, only needed here

    # Rows per round trip (libpq 17 and later; one at a time before).
    chunk = BATCH if pq.version() >= 170000 else 1
    sql, params = query.query.sql_with_params()
    loads = json.loads
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_NO_JIT)
        if few:
            cursor.execute("SET LOCAL parallel_setup_cost = 0")
            cursor.execute("SET LOCAL parallel_tuple_cost = 0")
        for row in cursor.cursor.stream(sql, params, size=chunk):
            refunds = [
                _refund(external_id, lines, Decimal(extra))
                for external_id, lines, extra in (loads(row[15]) if row[15] else ())
            ]
            yield _Row(
                row[0],
                row[1],
                row[2],
                loads(row[3]),
                row[4],
                *row[5:15],
                refunds=refunds,
                shape=None if refunds else row[16],
            )


class _CampaignCache:
    """The campaigns stored on orders, parsed once per distinct list (orders placed while
    the same campaigns ran share one list)."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[Campaign, ...]] = {}

    def get(self, stored: str | list[dict[str, Any]]) -> tuple[Campaign, ...]:
        if not stored or stored == "[]":
            return ()
        key = stored if isinstance(stored, str) else repr(stored)
        parsed = self._parsed.get(key)
        if parsed is None:
            raw = json.loads(stored) if isinstance(stored, str) else stored
            parsed = tuple(campaign_from_dict(c) for c in raw)
            self._parsed[key] = parsed
        return parsed


def _rated(
    rating: Rating,
    *,
    lines: Sequence[RuleLine],
    placed: datetime,
    first_order: bool,
    tier: str,
    fixed_multiplier: Decimal,
    campaigns: Sequence[Campaign],
    refunds: list[Refund],
    shipping: Decimal,
    tax: Decimal,
) -> int:
    """One stored order's points under ``rating`` (a live order: the query reads no other)."""
    if not rating.config.enabled:
        return 0
    return order_points(
        lines=lines,
        context=OrderContext(
            placed_at=placed,
            is_first_order=first_order,
            tier=tier or None,
            tier_multiplier=rating.multiplier(tier, fixed_multiplier),
            paid=True,
        ),
        campaigns=campaigns,
        refunds=refunds,
        shipping=shipping,
        tax=tax,
        config=rating.config,
    )


# Remembered points per order shape and rules, at most this many at a time (memory stays
# bounded; orders of a shop's usual baskets keep coming back).
MEMO_SIZE = 100_000


def _replay_general(
    *,
    rows: Iterator[_Row],
    proposed: Rating,
    current: Rating,
    current_id: int | None,
    start: datetime,
    windows: Any,
    replay_tiers: bool,
    totals: Totals,
) -> None:
    """Each order through ``order_breakdown``, for both columns. Orders of the same shape
    (see ``_Row``), with the same campaigns in force, facts and tier, earn the same: the
    points of one are remembered for the others."""
    campaigns = _CampaignCache()
    memo: dict[tuple[Any, ...], int] = {}

    def rated(rating: Rating, which: int, row: _Row, order_campaigns: Any, lines: Any) -> int:
        if not rating.config.enabled:
            return 0
        key = None
        if row.shape is not None:
            in_force = tuple(i for i, c in enumerate(order_campaigns) if c.in_force(row.placed))
            key = (
                which,
                row.shape,
                row.campaigns if in_force else None,
                in_force,
                row.first_order,
                row.tier,
                rating.multiplier(row.tier, row.tier_multiplier),
                row.shipping,
                row.tax,
            )
            found = memo.get(key)
            if found is not None:
                return found
        points = _rated(
            rating,
            lines=lines(),
            placed=row.placed,
            first_order=row.first_order,
            tier=row.tier,
            fixed_multiplier=row.tier_multiplier,
            campaigns=order_campaigns,
            refunds=row.refunds,
            shipping=row.shipping,
            tax=row.tax,
        )
        if key is not None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[key] = points
        return points

    for row in rows:
        parsed: list[list[RuleLine]] = []

        def lines(row: _Row = row, parsed: list[list[RuleLine]] = parsed) -> list[RuleLine]:
            if not parsed:
                parsed.append(_rule_lines(row.lines))
            return parsed[0]

        order_campaigns = campaigns.get(row.campaigns)
        placed = row.placed
        earned = rated(proposed, 0, row, order_campaigns, lines)
        if placed >= start:
            totals.orders += 1
            totals.revenue += max(row.eligible - row.refunded, ZERO)
            totals.proposed += earned
            totals.current += (
                row.points_target
                if row.program_id == current_id
                else rated(current, 1, row, order_campaigns, lines)
            )
        if replay_tiers and row.confirmed and earned:
            # As the engine counts points earned: confirmed orders only.
            if windows.start is None or placed >= windows.start:
                totals.earn(row.member_id, earned, 0)
            elif windows.previous is not None and placed >= windows.previous[0]:
                totals.earn(row.member_id, 0, earned)


# --- the database path --------------------------------------------------------------


# The database path reads at most this many lines of an order; more go the general way.
MAX_LINES = 8

# A line whose amount is not plain text of a non-negative amount with at most four
# decimals (what the engine stores), or whose gift-card flag is not a JSON boolean: such
# an order takes the general path.
_ODD_LINE = (
    '$[*] ? (@.amount.type() != "string"'
    ' || !(@.amount like_regex "^[0-9]{1,14}([.][0-9]{0,4})?$")'
    ' || @.gift_card.type() != "boolean")'
)


# The line facts each rule field matches on (``RuleLine`` from ``_rule_lines``), and the
# ones that are lists.
_FACT_KEYS = {
    "product_type": "product_type",
    "vendor": "vendor",
    "tag": "tags",
    "collection": "collections",
    "sku": "sku",
    "product_id": "product_id",
}
_LIST_FACTS = frozenset({"tag", "collection"})
# Printable ASCII; and without a space at either end.
_ASCII = "^[ -~]*$"
_TRIMMED_ASCII = "^([!-~]([ -~]*[!-~])?)?$"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"


def _plain_key(key: str) -> bool:
    """Whether a rule's key can equal the key of a plain fact (printable ASCII, lowered);
    one that cannot matches no order the database path rates."""
    return all(" " <= char <= "~" for char in key) and key == key.lower()


def _matches_sql(line: str, field_name: str, keys: list[str], param: str) -> str:
    """SQL true when the stored ``line`` (plain facts, see ``_odd_facts``) has a fact of
    ``field_name`` whose ``match_key`` is one of ``keys`` (the parameter ``param``); else
    false or null."""
    fact = _FACT_KEYS[field_name]
    if field_name in _LIST_FACTS:
        # Lowered in the JSON text: escapes are lower case or a backslash and a quote.
        return (
            f"translate(({line} -> '{fact}')::text, '{_UPPER}', '{_LOWER}')::jsonb"
            f" ?| %({param})s::text[]"
        )
    # An empty fact has no key (``_fact_keys``); else trimmed and lowered.
    key = f"translate(btrim(nullif({line} ->> '{fact}', '')), '{_UPPER}', '{_LOWER}')"
    if field_name == "product_id":
        key = f"split_part({key}, '/', -1)"
    return f"{key} = ANY(%({param})s::text[])"


def _line_multiplier_sql(rules: EarnRules, line: str, prefix: str) -> tuple[str, dict[str, Any]]:
    """The line rules' multiplier of the stored ``line`` as SQL, as ``_line_rule`` finds
    it: 0 when an exclusion matches, else the highest multiplier among the matching rules
    (each distinct multiplier tried from the highest down), else 1."""
    params: dict[str, Any] = {}
    groups: dict[Decimal | None, dict[str, list[str]]] = {}
    for rule in rules.line_rules:
        if not _plain_key(rule.key):
            continue
        value = None if rule.exclude else rule.multiplier
        keys = groups.setdefault(value, {}).setdefault(rule.field, [])
        if rule.key not in keys:
            keys.append(rule.key)
    order = ([None] if None in groups else []) + sorted(
        (value for value in groups if value is not None), reverse=True
    )
    cases = []
    for g, value in enumerate(order):
        tests = []
        for field_name, keys in groups[value].items():
            param = f"{prefix}keys_{g}_{field_name}"
            params[param] = keys
            tests.append(_matches_sql(line, field_name, keys, param))
        if value is None:
            then = "0::numeric"
        else:
            params[f"{prefix}mult_{g}"] = value
            then = f"%({prefix}mult_{g})s::numeric"
        cases.append(f"WHEN {' OR '.join(tests)} THEN {then}")
    if not cases:
        return "1::numeric", params
    return f"(CASE {' '.join(cases)} ELSE 1::numeric END)", params


def _weighted_sql(rules: EarnRules, prefix: str) -> tuple[str, dict[str, Any]]:
    """An order ``o``'s weighted merchandise as SQL: its lines' amounts (gift cards left
    out) times their line rules' multipliers; ``eligible_amount`` without line rules."""
    if not rules.line_rules:
        return "o.eligible_amount", {}
    terms = []
    params: dict[str, Any] = {}
    for i in range(MAX_LINES):
        line = f"(o.lines -> {i})"
        multiplier, line_params = _line_multiplier_sql(rules, line, prefix)
        params.update(line_params)
        terms.append(
            f"CASE WHEN {line} -> 'gift_card' = 'true'::jsonb THEN 0"
            f" ELSE coalesce(({line} ->> 'amount')::numeric * {multiplier}, 0) END"
        )
    return f"({' + '.join(terms)})", params


def _merchandise(table: str) -> str:
    """SQL: an order's merchandise as the calculation adds it up from its stored lines,
    the amounts of the lines that are not gift cards (for lines as ``_ODD_LINE`` lets
    through, at most ``MAX_LINES`` of them)."""
    return " + ".join(
        f"CASE WHEN {table}.lines -> {i} -> 'gift_card' = 'true'::jsonb THEN 0"
        f" ELSE coalesce(({table}.lines -> {i} ->> 'amount')::numeric, 0) END"
        for i in range(MAX_LINES)
    )


def _fact_fields(*ratings: Rating) -> list[str]:
    """The line facts the enabled programs' line rules match on, in ``MATCH_FIELDS`` order."""
    used = {
        rule.field
        for rating in ratings
        if rating.config.enabled
        for rule in rating.config.earn.line_rules
    }
    return [name for name in MATCH_FIELDS if name in used]


def _odd_facts(fields: Sequence[str]) -> str:
    """A JSON path that finds a line whose fact in ``fields`` the database path cannot
    match as ``match_key`` does: a scalar fact present and not a string of printable ASCII
    (then ``str()``, ``strip()`` and ``casefold()`` are a trim of spaces and a lowering of
    A-Z, which SQL does alike), a list fact present and not an array of such strings
    without spaces at either end."""
    odd = []
    for name in fields:
        key = _FACT_KEYS[name]
        if name in _LIST_FACTS:
            odd.append(
                f'(exists(@.{key}) && (@.{key}.type() != "array"'
                f' || exists(@.{key}[*] ? (@.type() != "string"'
                f' || !(@ like_regex "{_TRIMMED_ASCII}")))))'
            )
        else:
            odd.append(
                f'(exists(@.{key}) && (@.{key}.type() != "string"'
                f' || !(@.{key} like_regex "{_ASCII}")))'
            )
    return f"$[*] ? ({' || '.join(odd)})"


def _fast_condition(
    table: str, *, shop_id: int, fields: Sequence[str] = ()
) -> tuple[str, list[Any]]:
    """SQL true for an order the database path rates (see the module docstring): no
    refund, no campaign, at most ``MAX_LINES`` lines, each with a plain amount and
    gift-card flag, adding up to the order's ``eligible_amount`` (as ``order_sync``
    writes them), and each with plain facts (``_odd_facts``) in the ``fields`` the line
    rules match on. Never null, so the general path reads exactly the other orders."""
    refunds = OrderRefund._meta.db_table
    sql = (
        # A hashed subplan (not NOT EXISTS, correlated): parallel workers can run it.
        f"NOT {table}.id IN (SELECT r.order_id FROM {refunds} r"  # noqa: S608
        f" JOIN {Order._meta.db_table} ro ON ro.id = r.order_id WHERE ro.shop_id = %s)"
        f" AND {table}.campaigns = '[]'::jsonb"
        f" AND CASE WHEN jsonb_typeof({table}.lines) = 'array'"
        f" THEN jsonb_array_length({table}.lines) <= {MAX_LINES}"
        f" AND NOT coalesce({table}.lines @? '{_ODD_LINE}', true)"
        f" AND {table}.eligible_amount = ({_merchandise(table)})"
    )
    if fields:
        sql += f" AND NOT coalesce({table}.lines @? '{_odd_facts(fields)}', true)"
    sql += " ELSE false END"
    return sql, [shop_id]


def _points_sql(rules: EarnRules, multiplier: str, prefix: str) -> tuple[str, dict[str, Any]]:
    """The points of an order ``o`` the database path rates, as SQL. Its merchandise is
    ``eligible_amount``, which the condition above holds equal to its lines' (and which,
    unlike an expression over the lines, keeps the rows PostgreSQL sorts narrow); with
    line rules the weighted merchandise comes from the lines (``_weighted_sql``).

    As ``order_breakdown`` computes them for such an order: nothing without merchandise
    or under the minimum (compared with the merchandise, excluded lines included); else
    (weighted merchandise x tier multiplier + shipping and tax when counted, each at
    least 0) x rate, rounded once, capped.
    """
    weighted, params = _weighted_sql(rules, prefix)
    counted = f"{weighted} * {multiplier}"
    if rules.include_shipping:
        counted += " + greatest(o.shipping_amount, 0)"
    if rules.include_tax:
        counted += " + greatest(o.tax_amount, 0)"
    rounding = {"down": "floor", "up": "ceil", "nearest": "round"}[rules.rounding]
    points = f"{rounding}(({counted}) * %({prefix}rate)s::numeric)::bigint"
    params[f"{prefix}rate"] = rules.points_per_unit
    params[f"{prefix}minimum"] = rules.min_order_amount
    if rules.max_points_per_order is not None:
        points = f"least({points}, %({prefix}cap)s::bigint)"
        params[f"{prefix}cap"] = rules.max_points_per_order
    sql = (
        f"CASE WHEN o.eligible_amount = 0 OR o.eligible_amount < %({prefix}minimum)s::numeric "
        "THEN 0::bigint "
        f"ELSE {points} END"
    )
    return sql, params


def _multiplier_sql(rating: Rating, tier_names: list[str]) -> tuple[str, dict[str, Any]]:
    """The tier multiplier of an order ``o`` under ``rating``, as SQL."""
    if rating.tiers is None:
        return "o.tier_multiplier", {}
    params: dict[str, Any] = {}
    cases = []
    for i, name in enumerate(tier_names):
        value = rating.tiers.earn_multiplier(name or None)
        if value != ONE:
            params[f"tier_name_{i}"] = name
            params[f"tier_rate_{i}"] = value
            cases.append(f"WHEN %(tier_name_{i})s THEN %(tier_rate_{i})s::numeric")
    if not cases:
        return "1::numeric", {}
    return f"(CASE o.tier {' '.join(cases)} ELSE 1::numeric END)", params


def _replay_database(
    *,
    shop: Shop,
    since: datetime | None,
    end: datetime,
    start: datetime,
    proposed: Rating,
    current: Rating,
    current_id: int | None,
    windows: Any,
    replay_tiers: bool,
    totals: Totals,
    tiers: TierProgramConfig,
    tier_lower: datetime | None,
) -> tuple[dict[int, int], int] | None:
    """The orders the database path rates, added up by PostgreSQL (see the module
    docstring), in one statement.

    When the tiers count points, the members' metric is put together there too: these
    orders' points per member, the general path's (``totals.metric``, sent as arrays) and
    the action points of the ledger, then each member's tier index as ``tier_index`` finds
    it (the higher of the two periods' under retention). Returns (members per tier index,
    -1 for none; how many members have a metric), or None when the tiers do not count
    points. Nothing per member comes back, so memory stays flat however many members.
    """
    params: dict[str, Any] = {
        "shop": shop.pk,
        "end": end,
        "start": start,
        "current_id": current_id,
    }
    condition, _ = _fast_condition("o", shop_id=shop.pk, fields=_fact_fields(proposed, current))
    # Its one placeholder: the shop.
    condition = condition.replace("%s", "%(shop)s")
    where = (
        "o.shop_id = %(shop)s AND o.member_id IS NOT NULL AND o.has_snapshot AND o.paid"
        " AND NOT o.cancelled AND NOT o.fully_refunded AND NOT o.test"
        " AND o.placed_at < %(end)s"
    )
    if since is not None:
        where += " AND o.placed_at >= %(since)s"
        params["since"] = since
    tier_names: list[str] = []
    multiplied = proposed.tiers is not None and any(
        tier.earn_multiplier != ONE for tier in proposed.tiers.tiers
    )
    if multiplied and proposed.config.enabled:
        # The tier names the orders were placed in, to give each its proposed multiplier.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT o.tier FROM {Order._meta.db_table} o "  # noqa: S608
                f"WHERE {where} AND o.tier <> ''",
                params,
            )
            tier_names = [name for (name,) in cursor.fetchall()]
    if proposed.config.enabled:
        multiplier, multiplier_params = _multiplier_sql(proposed, tier_names)
        proposed_sql, proposed_params = _points_sql(proposed.config.earn, multiplier, "p_")
        params.update(multiplier_params, **proposed_params)
    else:
        proposed_sql = "0::bigint"
    if current.config.enabled:
        current_points, current_params = _points_sql(current.config.earn, "o.tier_multiplier", "c_")
        params.update(current_params)
    else:
        current_points = "0::bigint"
    current_sql = (
        "CASE WHEN o.program_id IS NOT DISTINCT FROM %(current_id)s THEN o.points_target "
        f"ELSE {current_points} END"
    )
    per_order = f"""
        SELECT o.member_id, o.placed_at, o.confirmed,
               o.placed_at >= %(start)s AS replayed,
               (greatest(o.eligible_amount - o.refunded_amount, 0) * 10000)::bigint
                   AS revenue,
               {proposed_sql} AS proposed, {current_sql} AS current
        FROM {Order._meta.db_table} o
        WHERE {where} AND {condition}
    """  # noqa: S608 - fixed text; values are parameters
    sums = """
        count(*) FILTER (WHERE replayed) AS orders,
        coalesce(sum(revenue) FILTER (WHERE replayed), 0) AS revenue,
        coalesce(sum(proposed) FILTER (WHERE replayed), 0) AS proposed,
        coalesce(sum(current) FILTER (WHERE replayed), 0) AS current
    """
    if not replay_tiers:
        statement = f"WITH per_order AS ({per_order}) SELECT {sums} FROM per_order"  # noqa: S608
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_NO_JIT)
            cursor.execute(statement, params)
            orders, revenue, issued_proposed, issued_current = cursor.fetchone()
        totals.add(orders, revenue, issued_proposed, issued_current)
        return None

    # Points earned per member in the tier period and the previous one (confirmed orders).
    if windows.start is None:
        in_period, in_previous = "true", "false"
    else:
        in_period = "placed_at >= %(period_start)s"
        params["period_start"] = windows.start
        if windows.previous is not None:
            in_previous = "placed_at >= %(previous_start)s AND placed_at < %(period_start)s"
            params["previous_start"] = windows.previous[0]
        else:
            in_previous = "false"
    # Action, referral and challenge points as ``_action_points`` reads them.
    split = windows.start if windows.previous is not None else None
    actions_where = (
        "e.shop_id = %(shop)s AND ((e.source_type = 'action' AND e.kind = %(action_kind)s"
        " AND e.points > 0) OR (e.source_type IN ('referral', 'challenge')"
        " AND e.kind IN ('referral', 'challenge'))) AND e.created_at < %(end)s"
    )
    params["action_kind"] = LedgerEntry.Kind.ACTION.value
    if tier_lower is not None:
        actions_where += " AND e.created_at >= %(tier_lower)s"
        params["tier_lower"] = tier_lower
    if split is None:
        action_sums = "sum(e.points) AS earned, 0 AS earned_before"
    else:
        action_sums = (
            "coalesce(sum(e.points) FILTER (WHERE e.created_at >= %(split)s), 0) AS earned,"
            " coalesce(sum(e.points) FILTER (WHERE e.created_at < %(split)s), 0)"
            " AS earned_before"
        )
        params["split"] = split
    extra = totals.metric
    params["extra_members"] = list(extra)
    params["extra_earned"] = [cur for cur, _ in extra.values()]
    params["extra_earned_before"] = [prev for _, prev in extra.values()]
    params["thresholds"] = [Decimal(tier.threshold) for tier in tiers.tiers]
    index_of = (
        "(SELECT max(t.i) - 1 FROM unnest(%(thresholds)s::numeric[]) WITH ORDINALITY"
        " AS t(threshold, i) WHERE {value} >= t.threshold)"
    )
    index = index_of.format(value="m.earned")
    if windows.previous is not None:
        # Retention: the higher of the two tiers (greatest() passes over a null).
        index = f"greatest({index}, {index_of.format(value='m.earned_before')})"
    statement = f"""
        WITH per_order AS ({per_order}),
        per_member AS MATERIALIZED (
            SELECT member_id, {sums},
                coalesce(sum(proposed) FILTER (WHERE confirmed AND {in_period}), 0) AS earned,
                coalesce(sum(proposed) FILTER (WHERE confirmed AND {in_previous}), 0)
                    AS earned_before
            FROM per_order GROUP BY member_id
        ),
        actions AS (
            SELECT e.member_id, {action_sums}
            FROM {LedgerEntry._meta.db_table} e WHERE {actions_where} GROUP BY e.member_id
        ),
        metric AS (
            SELECT member_id, sum(earned) AS earned, sum(earned_before) AS earned_before
            FROM (
                SELECT member_id, earned, earned_before FROM per_member
                WHERE earned > 0 OR earned_before > 0
                UNION ALL
                SELECT * FROM unnest(%(extra_members)s::bigint[], %(extra_earned)s::bigint[],
                                     %(extra_earned_before)s::bigint[])
                UNION ALL
                SELECT member_id, earned, earned_before FROM actions
            ) parts
            GROUP BY member_id
        )
        SELECT NULL::int, sum(orders), sum(revenue), sum(proposed), sum(current)
        FROM per_member
        UNION ALL
        SELECT coalesce(index, -1), count(*), NULL, NULL, NULL
        FROM (SELECT {index} AS index FROM metric m) indexed
        GROUP BY 1
    """  # noqa: S608 - fixed text; values are parameters
    counts: dict[int, int] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_NO_JIT)
        cursor.execute(statement, params)
        for index_found, count, revenue, issued_proposed, issued_current in cursor.fetchall():
            if index_found is None:
                totals.add(count, revenue, issued_proposed, issued_current)
            else:
                counts[int(index_found)] = int(count)
    return counts, sum(counts.values())


# The statement runs once over many rows: compiling it costs more than it saves.
_NO_JIT = "SET LOCAL jit = off"


# --- the comparison -----------------------------------------------------------------


def _tier_needs_replay(tiers: TierProgramConfig) -> bool:
    return bool(tiers.tiers) and tiers.metric == "points_earned"


def _earliest(*moments: datetime | None) -> datetime | None:
    if any(moment is None for moment in moments):
        return None
    return min(m for m in moments if m is not None)


def _action_points(
    *, shop: Shop, since: datetime | None, end: datetime, split: datetime | None
) -> dict[int, tuple[int, int]]:
    """Member -> (points earned other than by orders, from ``split`` on, before it) of
    entries in ``[since, end)``, as the tier engine counts them (``tiers.selectors``):
    actions, and referrals and challenges net of what was taken back. Without ``split``
    every point is in the first. One grouped query."""
    kinds = (LedgerEntry.Kind.REFERRAL, LedgerEntry.Kind.CHALLENGE)
    entries = LedgerEntry.objects.filter(
        Q(source_type="action", kind=LedgerEntry.Kind.ACTION, points__gt=0)
        | Q(source_type__in=("referral", "challenge"), kind__in=kinds),
        shop=shop,
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
    *, tiers: TierProgramConfig, metric: dict[int, list[int]], retention: bool
) -> dict[int, int]:
    """Members per tier index (-1: none) from the per-member (current, previous) points."""
    counts: dict[int, int] = {}
    for cur, prev in metric.values():
        index = tier_index(tiers, cur)
        if retention:
            kept = tier_index(tiers, prev)
            if kept is not None and (index is None or kept > index):
                index = kept
        key = -1 if index is None else index
        counts[key] = counts.get(key, 0) + 1
    return counts


def _distribution(
    *, shop: Shop, tiers: TierProgramConfig, counts: dict[int, int], with_metric: int
) -> list[tuple[str | None, int]]:
    """Members per tier from the counts per tier index of the ``with_metric`` members who
    have points; the others hold the tier a metric of 0 gives."""
    counts = dict(counts)
    rest = Member.objects.filter(shop=shop).count() - with_metric
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
    fast: bool = True,
) -> WhatIf:
    """Replay the shop's last ``months`` months of orders under ``program`` (and ``tiers``,
    default: the current tiers) and under the current rules, side by side. Reads only.

    ``fast=False`` sends every order through the general path (the tests compare both).
    The database path needs PostgreSQL; elsewhere every order takes the general path.
    """
    end = at or now()
    start = add_months(end, -months)
    current_version = program_current(shop=shop)
    current_id = current_version.pk if current_version is not None else None
    current = Rating(config=program_config(current_version))
    proposed = Rating(config=program, tiers=tiers)
    proposed_tiers = tiers if tiers is not None else tier_program_current_config(shop=shop)

    # The tier metric under the proposal needs the orders of the tiers' period as well.
    replay_tiers = _tier_needs_replay(proposed_tiers)
    windows = period_windows(proposed_tiers, at=end, zone=shop_zone(shop))
    tier_lower = windows.previous[0] if windows.previous is not None else windows.start
    since = _earliest(start, tier_lower) if replay_tiers else start

    totals = Totals()
    orders = _orders(shop=shop, since=since, end=end)
    general = dict(
        proposed=proposed,
        current=current,
        current_id=current_id,
        start=start,
        windows=windows,
        replay_tiers=replay_tiers,
        totals=totals,
    )
    counted: tuple[dict[int, int], int] | None = None
    on_postgres = fast and connection.vendor == "postgresql"
    if on_postgres:
        condition, condition_params = _fast_condition(
            Order._meta.db_table, shop_id=shop.pk, fields=_fact_fields(proposed, current)
        )
        # Fixed text from _fast_condition; the values are parameters.
        in_database = RawSQL(condition, condition_params, output_field=BooleanField())  # noqa: S611
        _replay_general(
            rows=_stream(orders.alias(fast=in_database).filter(fast=False), few=True), **general
        )
        counted = _replay_database(
            shop=shop, since=since, end=end, tiers=proposed_tiers, tier_lower=tier_lower, **general
        )
    else:
        _replay_general(rows=_read(orders), **general)

    if replay_tiers:
        if counted is None:
            actions = _action_points(
                shop=shop,
                since=tier_lower,
                end=end,
                split=windows.start if windows.previous else None,
            )
            for member_id, (cur, prev) in actions.items():
                totals.earn(member_id, cur, prev)
            metric = totals.metric
            buckets = _bucket(
                tiers=proposed_tiers, metric=metric, retention=windows.previous is not None
            )
            counted = (buckets, len(metric))
        proposed_distribution = _distribution(
            shop=shop, tiers=proposed_tiers, counts=counted[0], with_metric=counted[1]
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
    revenue = totals.revenue

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
        orders=totals.orders,
        revenue=revenue,
        redemption_rate=rate,
        point_value=value,
        current=side(totals.current, current_distribution),
        proposed=side(totals.proposed, proposed_distribution),
    )
