"""Keeping the analytics rollups (models.py) up to date, incrementally.

A refresh reads what changed since the shop's watermark: ledger entries and actions by id
(and, for ids committed out of order, by time less ``LAG``), orders by id and by
``updated_at`` less ``LAG`` (a refund or a late snapshot updates an old order). It then
recomputes whole: the stats of every member those rows name, and every local day those
entries were written on or those members joined on. Each rollup table is written by one
``INSERT ... SELECT ... ON CONFLICT DO UPDATE``, so a rerun, or rows read twice because
of the lag, write the same values. The watermark row is locked for the whole refresh:
two refreshes of a shop (the beat job and a report) run one after the other.

The buyers (``AnalyticsOrder``, ``AnalyticsBuyerDay``): the touched members' order rows
(and the touched guest orders') are rewritten whole, and each buyer-day row changes by
the contributions of the new rows less those of the rows they replace, all in the same
transaction under the watermark lock. Rows read twice replace themselves with equal
rows, so a rerun changes nothing there either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

from loyalty_app.common.time import now
from loyalty_app.earning.models import ActionEvent, Order
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.selectors import shop_zone

from .models import (
    AnalyticsActiveDay,
    AnalyticsBuyerDay,
    AnalyticsDay,
    AnalyticsOrder,
    CustomerStats,
    RollupWatermark,
)

# Rows written this long before the watermark are read again: a transaction that took an
# id or a timestamp earlier but committed after the last refresh is still counted.
LAG = timedelta(minutes=10)
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
# The rollups' layout: a shop whose rows were built with another one is rebuilt in full
# (2: the buyers, AnalyticsOrder and AnalyticsBuyerDay).
ROLLUP_VERSION = 2

COUNTED = (
    "o.has_snapshot AND NOT o.test AND o.paid AND NOT o.cancelled "
    "AND NOT o.fully_refunded AND o.placed_at IS NOT NULL"
)
REVENUE = "GREATEST(o.eligible_amount - o.refunded_amount, 0)"
ISSUED = "('order', 'action', 'adjustment', 'import', 'tier_reward', 'referral', 'challenge')"
TAKEN_BACK = "('order', 'adjustment', 'referral', 'challenge')"
# An activity entry (the member earned or redeemed), on the alias given.
ACTIVE = "(({a}.kind IN ('order', 'action', 'tier_reward', 'referral', 'challenge') AND {a}.points > 0) OR {a}.kind = 'redemption')"


def _t(model: Any) -> str:
    return str(model._meta.db_table)


@dataclass(frozen=True)
class RefreshResult:
    members: int  # customer stats recomputed
    days: int  # analytics days recomputed
    full: bool  # a first build (or a rebuild after a time zone change)


def _execute(sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _one(sql: str, params: list[Any]) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(cursor.fetchone())


def rollups_behind(*, shop: Shop) -> bool:
    """Whether the shop has a ledger entry, an action or an order newer than its
    watermark (or no rollups yet): then a report refreshes before it reads. Index probes
    only; the re-read of the last ``LAG`` is the beat job's."""
    mark = RollupWatermark.objects.filter(shop=shop).first()
    if mark is None or mark.zone != shop_zone(shop).key or mark.version != ROLLUP_VERSION:
        return True
    sql = (
        f"SELECT EXISTS (SELECT 1 FROM {_t(LedgerEntry)} WHERE shop_id = %s AND id > %s)"  # noqa: S608 - fixed names; values are parameters
        f" OR EXISTS (SELECT 1 FROM {_t(ActionEvent)} WHERE shop_id = %s AND id > %s)"
        f" OR EXISTS (SELECT 1 FROM {_t(Order)} WHERE shop_id = %s AND id > %s)"
        f" OR EXISTS (SELECT 1 FROM {_t(Order)} WHERE shop_id = %s AND updated_at > %s)"
    )
    params = [shop.pk, mark.ledger_id, shop.pk, mark.action_id, shop.pk, mark.order_id]
    params += [shop.pk, mark.orders_at or EPOCH]
    return bool(_one(sql, params)[0])


def rollups_refresh(*, shop: Shop) -> RefreshResult:
    """Bring the shop's ``AnalyticsDay`` and ``CustomerStats`` rows up to date with its
    ledger, actions and orders. Idempotent; PostgreSQL only (the report's condition)."""
    with transaction.atomic():
        _execute(
            f"INSERT INTO {_t(RollupWatermark)} (shop_id, zone, version,"
            " ledger_id, action_id, order_id)"  # noqa: S608 - fixed names; values are parameters
            " VALUES (%s, '', 0, 0, 0, 0) ON CONFLICT (shop_id) DO NOTHING",
            [shop.pk],
        )
        mark = RollupWatermark.objects.select_for_update().get(shop=shop)
        zone = shop_zone(shop).key
        full = mark.zone != zone or mark.version != ROLLUP_VERSION
        if full:
            # Days are local: another time zone moves every entry's day, so rebuild; so
            # does another layout of the rollups (a new table starts empty).
            for model in (
                AnalyticsDay,
                AnalyticsActiveDay,
                CustomerStats,
                AnalyticsOrder,
                AnalyticsBuyerDay,
            ):
                _execute(f"DELETE FROM {_t(model)} WHERE shop_id = %s", [shop.pk])  # noqa: S608 - fixed names; values are parameters
            mark.ledger_id = mark.action_id = mark.order_id = 0
            mark.ledger_at = mark.orders_at = None
        # The new watermark, read before the changes: what commits meanwhile is read now
        # and again next time, never missed.
        ledger_id, ledger_at = _one(
            f"SELECT COALESCE(MAX(id), 0), MAX(created_at) FROM {_t(LedgerEntry)}"  # noqa: S608
            " WHERE shop_id = %s",
            [shop.pk],
        )
        (action_id,) = _one(
            f"SELECT COALESCE(MAX(id), 0) FROM {_t(ActionEvent)} WHERE shop_id = %s",  # noqa: S608
            [shop.pk],
        )
        order_id, orders_at = _one(
            f"SELECT COALESCE(MAX(id), 0), MAX(updated_at) FROM {_t(Order)} WHERE shop_id = %s",  # noqa: S608
            [shop.pk],
        )
        since_ledger = (mark.ledger_at - LAG) if mark.ledger_at else EPOCH
        since_orders = (mark.orders_at - LAG) if mark.orders_at else EPOCH
        members, days = _recompute(
            shop=shop,
            full=mark.ledger_id == 0 and mark.orders_at is None,
            zone=zone,
            ledger_id=mark.ledger_id,
            action_id=mark.action_id,
            order_id=mark.order_id,
            since_ledger=since_ledger,
            since_orders=since_orders,
        )
        mark.zone = zone
        mark.version = ROLLUP_VERSION
        mark.ledger_id = max(mark.ledger_id, int(ledger_id))
        mark.ledger_at = max(filter(None, [mark.ledger_at, ledger_at]), default=None)
        mark.action_id = max(mark.action_id, int(action_id))
        mark.order_id = max(mark.order_id, int(order_id))
        mark.orders_at = max(filter(None, [mark.orders_at, orders_at]), default=None)
        mark.refreshed_at = now()
        mark.save()
        return RefreshResult(members=members, days=days, full=full)


def _recompute(
    *,
    shop: Shop,
    full: bool,
    zone: str,
    ledger_id: int,
    action_id: int,
    order_id: int,
    since_ledger: datetime,
    since_orders: datetime,
) -> tuple[int, int]:
    """(members, days) recomputed. Temporary tables hold the touched keys for the
    transaction; each rollup is then one upsert over them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS analytics_touched_members"
            " (member_id bigint PRIMARY KEY) ON COMMIT DELETE ROWS"
        )
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS analytics_touched_days"
            " (day date PRIMARY KEY) ON COMMIT DELETE ROWS"
        )
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS analytics_joined_days"
            " (day date PRIMARY KEY) ON COMMIT DELETE ROWS"
        )
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS analytics_touched_orders"
            " (order_id bigint PRIMARY KEY) ON COMMIT DELETE ROWS"
        )
        cursor.execute(
            "TRUNCATE analytics_touched_members, analytics_touched_days, analytics_joined_days,"
            " analytics_touched_orders"
        )
    ledger_changed = (
        f"FROM {_t(LedgerEntry)} l WHERE l.shop_id = %s AND (l.id > %s OR l.created_at >= %s)"
    )
    _execute(
        "INSERT INTO analytics_touched_members (member_id)"  # noqa: S608 - fixed names; values are parameters
        f" SELECT l.member_id {ledger_changed}"
        f" UNION SELECT o.member_id FROM {_t(Order)} o WHERE o.shop_id = %s"
        " AND o.member_id IS NOT NULL AND (o.id > %s OR o.updated_at >= %s)"
        f" UNION SELECT a.member_id FROM {_t(ActionEvent)} a WHERE a.shop_id = %s"
        " AND (a.id > %s OR a.created_at >= %s)",
        [
            shop.pk,
            ledger_id,
            since_ledger,
            shop.pk,
            order_id,
            since_orders,
            shop.pk,
            action_id,
            since_ledger,
        ],
    )
    if not full:
        # The orders changed since the last run, guests' included; an order that now names
        # another member (or none) changes its former member's rows too.
        _execute(
            "INSERT INTO analytics_touched_orders (order_id)"  # noqa: S608 - fixed names; values are parameters
            f" SELECT o.id FROM {_t(Order)} o WHERE o.shop_id = %s"
            " AND (o.id > %s OR o.updated_at >= %s)",
            [shop.pk, order_id, since_orders],
        )
        _execute("ANALYZE analytics_touched_orders", [])
        _execute(
            "INSERT INTO analytics_touched_members (member_id)"  # noqa: S608 - fixed names; values are parameters
            f" SELECT r.member_id FROM analytics_touched_orders t JOIN {_t(AnalyticsOrder)} r"
            " ON r.shop_id = %s AND r.order_id = t.order_id WHERE r.member_id IS NOT NULL"
            " ON CONFLICT DO NOTHING",
            [shop.pk],
        )
    # Fresh temporary tables have no statistics: without them the planner guesses their
    # size and may scan every member or ledger entry instead of probing per key.
    _execute("ANALYZE analytics_touched_members", [])
    # The days whose points change: where the new entries were written. The days whose
    # new members change: where the touched members counted from before (and, below,
    # count from now).
    _execute(
        "INSERT INTO analytics_touched_days (day)"  # noqa: S608 - fixed names; values are parameters
        f" SELECT DISTINCT (l.created_at AT TIME ZONE %s)::date {ledger_changed}",
        [zone, shop.pk, ledger_id, since_ledger],
    )
    _execute(
        "INSERT INTO analytics_joined_days (day)"  # noqa: S608 - fixed names; values are parameters
        f" SELECT DISTINCT s.joined_day FROM {_t(CustomerStats)} s"
        " JOIN analytics_touched_members t ON t.member_id = s.member_id"
        " WHERE s.shop_id = %s AND s.joined_day IS NOT NULL",
        [shop.pk],
    )
    if not full:
        # A new activity entry is the previous one of the member's next entry (when it was
        # written out of order): that entry's day changes too.
        _execute(
            "INSERT INTO analytics_touched_days (day)"  # noqa: S608 - fixed names; values are parameters
            " SELECT DISTINCT (n.created_at AT TIME ZONE %s)::date"
            f" FROM {_t(LedgerEntry)} l CROSS JOIN LATERAL ("
            f" SELECT x.created_at FROM {_t(LedgerEntry)} x WHERE x.member_id = l.member_id"
            f" AND {ACTIVE.format(a='x')} AND (x.created_at, x.id) > (l.created_at, l.id)"
            " ORDER BY x.created_at, x.id LIMIT 1) n"
            " WHERE l.shop_id = %s AND (l.id > %s OR l.created_at >= %s)"
            f" AND {ACTIVE.format(a='l')} ON CONFLICT DO NOTHING",
            [zone, shop.pk, ledger_id, since_ledger],
        )
    _execute("ANALYZE analytics_touched_days", [])
    _active_days(shop=shop, zone=zone, full=full)
    members = _execute(
        f"INSERT INTO {_t(CustomerStats)} (shop_id, member_id, member_created_at, joined_at,"  # noqa: S608 - fixed names; values are parameters
        " joined_day, orders_count, revenue, first_order_at, last_order_at, max_points_target)"
        " SELECT m.shop_id, m.id, m.created_at, j.at,"
        " CASE WHEN j.at IS NOT NULL"
        " THEN (GREATEST(m.created_at, j.at) AT TIME ZONE %s)::date END,"
        " COALESCE(c.n, 0), COALESCE(c.rev, 0), c.first, c.last, COALESCE(c.earned, 0)"
        f" FROM analytics_touched_members t JOIN {_t(Member)} m ON m.id = t.member_id"
        " LEFT JOIN LATERAL ("
        f" SELECT COUNT(*) AS n, SUM({REVENUE}) AS rev, MIN(o.placed_at) AS first,"
        " MAX(o.placed_at) AS last, MAX(o.points_target) AS earned"
        f" FROM {_t(Order)} o WHERE o.member_id = m.id AND {COUNTED}) c ON true"
        " LEFT JOIN LATERAL (SELECT LEAST("
        f" (SELECT MIN(l.created_at) FROM {_t(LedgerEntry)} l WHERE l.member_id = m.id),"
        f" (SELECT MIN(a.created_at) FROM {_t(ActionEvent)} a WHERE a.member_id = m.id),"
        f" (SELECT MIN(e.placed_at) FROM {_t(Order)} e WHERE e.member_id = m.id"
        " AND e.points_target > 0)) AS at) j ON true"
        " WHERE m.shop_id = %s"
        " ON CONFLICT (shop_id, member_id) DO UPDATE SET"
        " member_created_at = EXCLUDED.member_created_at, joined_at = EXCLUDED.joined_at,"
        " joined_day = EXCLUDED.joined_day, orders_count = EXCLUDED.orders_count,"
        " revenue = EXCLUDED.revenue, first_order_at = EXCLUDED.first_order_at,"
        " last_order_at = EXCLUDED.last_order_at,"
        " max_points_target = EXCLUDED.max_points_target",
        [zone, shop.pk],
    )
    _buyers(shop=shop, zone=zone, full=full)
    _execute(
        "INSERT INTO analytics_joined_days (day)"  # noqa: S608 - fixed names; values are parameters
        f" SELECT DISTINCT s.joined_day FROM {_t(CustomerStats)} s"
        " JOIN analytics_touched_members t ON t.member_id = s.member_id"
        " WHERE s.shop_id = %s AND s.joined_day IS NOT NULL ON CONFLICT DO NOTHING",
        [shop.pk],
    )
    # Each touched day's ledger entries: one index range of the day per day.
    days = _execute(
        f"INSERT INTO {_t(AnalyticsDay)} (shop_id, day, points_net, points_issued,"  # noqa: S608 - fixed names; values are parameters
        " points_taken_back, points_redeemed, points_expired, members_joined)"
        " SELECT %s, d.day, COALESCE(p.net, 0), COALESCE(p.issued, 0),"
        " COALESCE(p.taken_back, 0), COALESCE(p.redeemed, 0), COALESCE(p.expired, 0), 0"
        " FROM analytics_touched_days d CROSS JOIN LATERAL ("
        " SELECT SUM(l.points) AS net,"
        f" SUM(l.points) FILTER (WHERE l.kind IN {ISSUED} AND l.points > 0) AS issued,"
        f" -SUM(l.points) FILTER (WHERE l.kind IN {TAKEN_BACK} AND l.points < 0) AS taken_back,"
        " -SUM(l.points) FILTER (WHERE l.kind IN ('redemption', 'redemption_return'))"
        " AS redeemed,"
        " -SUM(l.points) FILTER (WHERE l.kind = 'expiry') AS expired"
        f" FROM {_t(LedgerEntry)} l WHERE l.shop_id = %s"
        " AND l.created_at >= d.day::timestamp AT TIME ZONE %s"
        " AND l.created_at < (d.day + 1)::timestamp AT TIME ZONE %s) p"
        " ON CONFLICT (shop_id, day) DO UPDATE SET points_net = EXCLUDED.points_net,"
        " points_issued = EXCLUDED.points_issued,"
        " points_taken_back = EXCLUDED.points_taken_back,"
        " points_redeemed = EXCLUDED.points_redeemed,"
        " points_expired = EXCLUDED.points_expired",
        [shop.pk, shop.pk, zone, zone],
    )
    days += _execute(
        f"INSERT INTO {_t(AnalyticsDay)} (shop_id, day, points_net, points_issued,"  # noqa: S608 - fixed names; values are parameters
        " points_taken_back, points_redeemed, points_expired, members_joined)"
        " SELECT %s, d.day, 0, 0, 0, 0, 0, COALESCE(j.n, 0)"
        " FROM analytics_joined_days d LEFT JOIN ("
        f" SELECT s.joined_day AS day, COUNT(*) AS n FROM {_t(CustomerStats)} s"
        " WHERE s.shop_id = %s AND s.joined_day IN (SELECT day FROM analytics_joined_days)"
        " GROUP BY 1) j ON j.day = d.day"
        " ON CONFLICT (shop_id, day) DO UPDATE SET members_joined = EXCLUDED.members_joined",
        [shop.pk, shop.pk],
    )
    return members, days


def _active_days(*, shop: Shop, zone: str, full: bool) -> None:
    """Recompute the ``AnalyticsActiveDay`` rows of the touched days: delete them, then
    count the days' activity entries by the day of each one's previous entry. A first
    build reads the previous entries with one sorted pass (a window); an incremental run
    probes the ``analytics_ledger_active`` index per entry of the touched days."""
    _execute(
        f"DELETE FROM {_t(AnalyticsActiveDay)} WHERE shop_id = %s"  # noqa: S608 - fixed names; values are parameters
        " AND day IN (SELECT day FROM analytics_touched_days)",
        [shop.pk],
    )
    if full:
        entries = (
            "SELECT (l.created_at AT TIME ZONE %s)::date AS day,"  # noqa: S608 - fixed names; values are parameters
            " (LAG(l.created_at) OVER (PARTITION BY l.member_id ORDER BY l.created_at, l.id)"
            " AT TIME ZONE %s)::date AS previous_day"
            f" FROM {_t(LedgerEntry)} l WHERE l.shop_id = %s AND {ACTIVE.format(a='l')}"
        )
        params: list[Any] = [zone, zone, shop.pk]
    else:
        entries = (
            "SELECT (l.created_at AT TIME ZONE %s)::date AS day,"  # noqa: S608 - fixed names; values are parameters
            " (p.created_at AT TIME ZONE %s)::date AS previous_day"
            " FROM analytics_touched_days d"
            f" JOIN {_t(LedgerEntry)} l ON l.created_at >= d.day::timestamp AT TIME ZONE %s"
            " AND l.created_at < (d.day + 1)::timestamp AT TIME ZONE %s"
            " LEFT JOIN LATERAL ("
            f" SELECT x.created_at FROM {_t(LedgerEntry)} x WHERE x.member_id = l.member_id"
            f" AND {ACTIVE.format(a='x')} AND (x.created_at, x.id) < (l.created_at, l.id)"
            " ORDER BY x.created_at DESC, x.id DESC LIMIT 1) p ON true"
            f" WHERE l.shop_id = %s AND {ACTIVE.format(a='l')}"
        )
        params = [zone, zone, zone, zone, shop.pk]
    _execute(
        f"INSERT INTO {_t(AnalyticsActiveDay)} (shop_id, day, previous_day, entries)"  # noqa: S608 - fixed names; values are parameters
        f" SELECT %s, e.day, COALESCE(e.previous_day, DATE '{AnalyticsActiveDay.NO_PREVIOUS}'),"
        f" COUNT(*) FROM ({entries}) e"
        " WHERE e.day IN (SELECT day FROM analytics_touched_days) GROUP BY 1, 2, 3"
        " ON CONFLICT (shop_id, day, previous_day) DO UPDATE SET entries = EXCLUDED.entries",
        [shop.pk, *params],
    )


# The contributions of the ``AnalyticsOrder`` rows ``r`` to ``AnalyticsBuyerDay`` (its
# docstring says what they add up to), times the sign given as the first parameter: an
# order adds to its own day (the period's orders, and its customer's terms up to it),
# takes its customer's terms back on the next order's day, and counts its customer as a
# repeat buyer from its own day to the next order's day, anchored at the previous one's.
BUYER_CONTRIBUTIONS = (
    "SELECT v.day, v.anchor_day,"  # noqa: S608 - fixed names and dates; values are parameters
    f" CASE WHEN r.joined_day IS NULL THEN DATE '{AnalyticsBuyerDay.NEVER.isoformat()}'"
    f" WHEN r.joined_day <= v.anchor_day THEN DATE '{AnalyticsBuyerDay.JOINED.isoformat()}'"
    " ELSE r.joined_day END AS joined_day,"
    " sign.s * v.orders AS orders, sign.s * v.revenue AS revenue,"
    " sign.s * v.guest_orders AS guest_orders, sign.s * v.customers AS customers,"
    " sign.s * v.revenue_to_date AS revenue_to_date,"
    " sign.s * v.days_between_sum AS days_between_sum,"
    " sign.s * v.days_between_count AS days_between_count,"
    " sign.s * v.repeat_customers AS repeat_customers"
    " FROM (SELECT %s::int AS s) sign CROSS JOIN {source} r CROSS JOIN LATERAL (VALUES"
    " (r.day, r.day, 1, r.revenue, CASE WHEN r.member_id IS NULL THEN 1 ELSE 0 END, 1,"
    " r.revenue_to_date, r.days_between, CASE WHEN r.days_between IS NULL THEN 0 ELSE 1 END, 0),"
    " (r.next_day, r.day, 0, 0, 0, -1, -r.revenue_to_date, -r.days_between,"
    " CASE WHEN r.days_between IS NULL THEN 0 ELSE -1 END, 0),"
    " (r.day, r.previous_day, 0, 0, 0, 0, 0, NULL, 0, 1),"
    " (r.next_day, r.previous_day, 0, 0, 0, 0, 0, NULL, 0, -1)"
    ") v(day, anchor_day, orders, revenue, guest_orders, customers, revenue_to_date,"
    " days_between_sum, days_between_count, repeat_customers)"
    " WHERE v.day IS NOT NULL AND v.anchor_day IS NOT NULL"
)
BUYER_MEASURES = (
    "orders",
    "revenue",
    "guest_orders",
    "customers",
    "revenue_to_date",
    "days_between_sum",
    "days_between_count",
    "repeat_customers",
)
_SUMS = ", ".join(f"COALESCE(SUM(c.{m}), 0) AS {m}" for m in BUYER_MEASURES)
_NOT_ALL_ZERO = " OR ".join(f"{m} <> 0" for m in BUYER_MEASURES)


def _order_rows(*, shop: Shop, zone: str, members: str | None, guests: str | None) -> None:
    """Insert the ``AnalyticsOrder`` rows of the counted orders of the members that
    ``members`` selects and of the guest orders that ``guests`` selects (SQL without
    parameters; None: all of the shop's). Each member's orders are numbered in
    (placed_at, id) order by one window."""
    window = "OVER (PARTITION BY o.member_id ORDER BY o.placed_at, o.id ROWS UNBOUNDED PRECEDING)"
    columns = (
        f"INSERT INTO {_t(AnalyticsOrder)} (shop_id, order_id, member_id, placed_at, day,"
        " previous_day, next_day, revenue, orders_to_date, revenue_to_date, days_between,"
        " joined_day)"
    )
    _execute(
        f"{columns} SELECT o.shop_id, o.id, o.member_id, o.placed_at,"  # noqa: S608 - fixed names; values are parameters
        " (o.placed_at AT TIME ZONE %s)::date,"
        f" ((LAG(o.placed_at) {window}) AT TIME ZONE %s)::date,"
        f" ((LEAD(o.placed_at) {window}) AT TIME ZONE %s)::date,"
        f" {REVENUE}, COUNT(*) {window}, SUM({REVENUE}) {window},"
        f" CASE WHEN COUNT(*) {window} >= 2 THEN EXTRACT(EPOCH FROM"
        f" (o.placed_at - FIRST_VALUE(o.placed_at) {window})) / 86400.0"
        f" / (COUNT(*) {window} - 1) END,"
        " (s.joined_at AT TIME ZONE %s)::date"
        f" FROM {_t(Order)} o LEFT JOIN {_t(CustomerStats)} s"
        " ON s.shop_id = o.shop_id AND s.member_id = o.member_id"
        f" WHERE o.shop_id = %s AND o.member_id IS NOT NULL AND {COUNTED}"
        + (f" AND o.member_id IN ({members})" if members is not None else ""),
        [zone, zone, zone, zone, shop.pk],
    )
    _execute(
        f"{columns} SELECT o.shop_id, o.id, NULL, o.placed_at,"  # noqa: S608 - fixed names; values are parameters
        f" (o.placed_at AT TIME ZONE %s)::date, NULL, NULL, {REVENUE}, 1, {REVENUE}, NULL, NULL"
        f" FROM {_t(Order)} o WHERE o.shop_id = %s AND o.member_id IS NULL AND {COUNTED}"
        + (f" AND o.id IN ({guests})" if guests is not None else ""),
        [zone, shop.pk],
    )


def _buyers(*, shop: Shop, zone: str, full: bool) -> None:
    """Bring ``AnalyticsOrder`` and ``AnalyticsBuyerDay`` up to date for the touched
    members and orders (every one on a full build; the rows were deleted before). Runs
    after ``CustomerStats``, whose ``joined_at`` the rows carry."""
    shop_rows = f"{_t(AnalyticsOrder)} WHERE shop_id = {int(shop.pk)}"
    measures = ", ".join(BUYER_MEASURES)
    if full:
        # One sorted pass over every counted order: more memory than a report's query.
        _execute("SET LOCAL work_mem = '256MB'", [])
        _order_rows(shop=shop, zone=zone, members=None, guests=None)
        source = f"(SELECT * FROM {shop_rows})"  # noqa: S608 - fixed names; no values
        _execute(
            f"INSERT INTO {_t(AnalyticsBuyerDay)} (shop_id, day, anchor_day, joined_day,"  # noqa: S608 - fixed names; values are parameters
            f" {measures}) SELECT * FROM (SELECT %s AS shop_id, c.day, c.anchor_day,"  # noqa: S608
            f" c.joined_day, {_SUMS} FROM ({BUYER_CONTRIBUTIONS.format(source=source)}) c"
            f" GROUP BY 2, 3, 4) t WHERE {_NOT_ALL_ZERO}",
            [shop.pk, 1],
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS analytics_buyer_delta (day date, anchor_day date,"
            " joined_day date, orders bigint, revenue numeric, guest_orders bigint,"
            " customers bigint, revenue_to_date numeric, days_between_sum numeric,"
            " days_between_count bigint, repeat_customers bigint) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE analytics_buyer_delta")
    # The rows to replace: the touched members', and the touched guest orders'.
    touched = (
        f"{shop_rows} AND (member_id IN (SELECT member_id FROM analytics_touched_members)"
        " OR order_id IN (SELECT order_id FROM analytics_touched_orders))"  # noqa: S608
    )
    source = f"(SELECT * FROM {touched})"  # noqa: S608 - fixed names; no values
    delta = (
        f"INSERT INTO analytics_buyer_delta (day, anchor_day, joined_day, {measures})"  # noqa: S608
        f" {BUYER_CONTRIBUTIONS.format(source=source)}"
    )
    # Take back what the rows about to be replaced contributed, replace them, add what the
    # new rows contribute; then apply the sum of both to the buyer days at once.
    _execute(delta, [-1])
    _execute(f"DELETE FROM {touched}", [])  # noqa: S608 - fixed names; no values
    _order_rows(
        shop=shop,
        zone=zone,
        members="SELECT member_id FROM analytics_touched_members",
        guests="SELECT order_id FROM analytics_touched_orders",
    )
    _execute(delta, [1])
    updates = ", ".join(f"{m} = b.{m} + EXCLUDED.{m}" for m in BUYER_MEASURES)
    _execute(
        f"INSERT INTO {_t(AnalyticsBuyerDay)} AS b (shop_id, day, anchor_day, joined_day,"  # noqa: S608 - fixed names; values are parameters
        f" {measures}) SELECT %s, c.day, c.anchor_day, c.joined_day, {_SUMS}"
        " FROM analytics_buyer_delta c GROUP BY 2, 3, 4"
        f" ON CONFLICT (shop_id, day, anchor_day, joined_day) DO UPDATE SET {updates}",
        [shop.pk],
    )
    _execute(
        f"DELETE FROM {_t(AnalyticsBuyerDay)} WHERE shop_id = %s"  # noqa: S608 - fixed names; values are parameters
        " AND (day, anchor_day, joined_day) IN"
        " (SELECT day, anchor_day, joined_day FROM analytics_buyer_delta)"
        f" AND NOT ({_NOT_ALL_ZERO})",
        [shop.pk],
    )
