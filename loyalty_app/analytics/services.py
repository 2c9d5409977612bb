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
(and the touched guest orders') are recomputed whole; the rows that differ replace the
stored ones, and each buyer-day row changes by the contributions of the new rows less
those of the rows they replace, in the same transaction under the watermark lock. Rows
read twice compute equal to the stored ones, so a rerun changes nothing there either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

from loyalty_app.cashback.models import CashbackEntry
from loyalty_app.common.time import now
from loyalty_app.earning.models import ActionEvent, Order
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.selectors import shop_zone

from .models import (
    AnalyticsActiveDay,
    AnalyticsBuyerDay,
    AnalyticsCashbackDay,
    AnalyticsDay,
    AnalyticsOrder,
    CustomerStats,
    RollupWatermark,
)
from .periods import MAX_DAYS

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


def rollups_build_needed(*, shop: Shop) -> bool:
    """Whether the shop's rollups must be built from its whole history (none yet, another
    time zone, another layout): minutes for a large shop, so never inside a request."""
    mark = RollupWatermark.objects.filter(shop=shop).only("zone", "version").first()
    return mark is None or mark.zone != shop_zone(shop).key or mark.version != ROLLUP_VERSION


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
        # Per-key probes and sums over a few thousand rows: compiling them (JIT) costs
        # more than it saves; the grouping of the changes fits in memory.
        _execute("SET LOCAL jit = off", [])
        _execute("SET LOCAL work_mem = '64MB'", [])
        _execute(
            f"INSERT INTO {_t(RollupWatermark)} (shop_id, zone, version,"  # noqa: S608 - fixed names; values are parameters
            " ledger_id, action_id, order_id, cashback_id)"
            " VALUES (%s, '', 0, 0, 0, 0, 0) ON CONFLICT (shop_id) DO NOTHING",
            [shop.pk],
        )
        mark = RollupWatermark.objects.select_for_update().get(shop=shop)
        zone = shop_zone(shop).key
        full = mark.zone != zone or mark.version != ROLLUP_VERSION
        if full:
            # Days are local: another time zone moves every entry's day, so rebuild; so
            # does another layout of the rollups (a new table starts empty).
            for model in (
                AnalyticsCashbackDay,
                AnalyticsDay,
                AnalyticsActiveDay,
                CustomerStats,
                AnalyticsOrder,
                AnalyticsBuyerDay,
            ):
                _execute(f"DELETE FROM {_t(model)} WHERE shop_id = %s", [shop.pk])  # noqa: S608 - fixed names; values are parameters
            mark.ledger_id = mark.action_id = mark.order_id = mark.cashback_id = 0
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
        (cashback_id,) = _one(
            f"SELECT COALESCE(MAX(id), 0) FROM {_t(CashbackEntry)} WHERE shop_id = %s",  # noqa: S608
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
        # Cash-back entries are read from the last watermark's (the first time: all).
        _cashback_days(shop=shop, zone=zone, cashback_id=mark.cashback_id, since=since_ledger)
        mark.zone = zone
        mark.version = ROLLUP_VERSION
        mark.cashback_id = max(mark.cashback_id, int(cashback_id))
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
# The pairs of a member's orders (each order and each earlier one at most MAX_DAYS before:
# no period holds two orders further apart) and their terms of the period's days between
# orders (``AnalyticsBuyerDay.period_days_between_sum``), computed as the report computes
# one customer's: seconds / 86400.0 / (orders - 1). ``{source}``: rows of whole members.
PAIR_CONTRIBUTIONS = (
    "WITH m AS (SELECT r.member_id, r.orders_to_date AS n, r.placed_at, r.day, r.next_day,"  # noqa: S608 - fixed names and numbers; values are parameters
    " r.joined_day, LEAD(r.placed_at) OVER (PARTITION BY r.member_id ORDER BY r.orders_to_date)"
    " AS next_at FROM {source} r WHERE r.member_id IS NOT NULL)"
    " SELECT v.day, v.anchor_day,"
    f" CASE WHEN o.joined_day IS NULL THEN DATE '{AnalyticsBuyerDay.NEVER.isoformat()}'"
    f" WHEN o.joined_day <= v.anchor_day THEN DATE '{AnalyticsBuyerDay.JOINED.isoformat()}'"
    " ELSE o.joined_day END AS joined_day, sign.s * v.w AS period_days_between_sum"
    " FROM (SELECT %s::int AS s) sign CROSS JOIN m o JOIN m p ON p.member_id = o.member_id"
    f" AND p.n < o.n AND p.day > o.day - {MAX_DAYS}"
    " CROSS JOIN LATERAL (SELECT EXTRACT(EPOCH FROM (o.placed_at - p.placed_at)) / 86400.0"
    " / (o.n - p.n) - CASE WHEN o.n - p.n >= 2 THEN EXTRACT(EPOCH FROM"
    " (o.placed_at - p.next_at)) / 86400.0 / (o.n - p.n - 1) ELSE 0 END AS w) g"
    " CROSS JOIN LATERAL (VALUES (o.day, p.day, g.w), (o.next_day, p.day, -g.w))"
    " v(day, anchor_day, w) WHERE v.day IS NOT NULL"
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
    "period_days_between_sum",
)
# The measures of one order's own contributions (BUYER_CONTRIBUTIONS); the pairs of orders
# (PAIR_CONTRIBUTIONS) add to the last one only.
SINGLE_MEASURES = BUYER_MEASURES[:-1]
_SUMS = ", ".join(f"COALESCE(SUM(c.{m}), 0) AS {m}" for m in BUYER_MEASURES)
_SINGLE_SUMS = ", ".join(f"SUM(c.{m}) AS {m}" for m in SINGLE_MEASURES)
_ANY_NONZERO = " OR ".join(f"COALESCE(SUM(c.{m}), 0) <> 0" for m in BUYER_MEASURES)
_NOT_ALL_ZERO = " OR ".join(f"b.{m} <> 0" for m in BUYER_MEASURES)


ORDER_COLUMNS = (
    "shop_id, order_id, member_id, placed_at, day, previous_day, next_day, revenue,"
    " orders_to_date, revenue_to_date, days_between, joined_day"
)
# What an order's row says: two rows of an order with these equal are the same row.
ORDER_VALUES = (
    "member_id",
    "placed_at",
    "day",
    "previous_day",
    "next_day",
    "revenue",
    "orders_to_date",
    "revenue_to_date",
    "days_between",
    "joined_day",
)


def _order_rows(*, shop: Shop, zone: str, full: bool, table: str) -> None:
    """Insert into ``table`` the ``AnalyticsOrder`` rows of the touched members' counted
    orders and of the touched guest orders (every one of the shop's on a full build).
    Each member's orders are numbered in (placed_at, id) order by one window.

    Incrementally, each touched member's orders are read through the member's index
    (``OFFSET 0`` keeps the planner from turning the per-member probe into a scan of
    every order); a full build reads them all in one sorted pass."""
    window = "OVER (PARTITION BY o.member_id ORDER BY o.placed_at, o.id ROWS UNBOUNDED PRECEDING)"
    columns = f"INSERT INTO {table} ({ORDER_COLUMNS})"
    counted = (
        f"SELECT o.shop_id, o.id, o.member_id, o.placed_at, {REVENUE} AS revenue,"  # noqa: S608 - fixed names; values are parameters
        f" (SELECT s.joined_at FROM {_t(CustomerStats)} s WHERE s.shop_id = o.shop_id"
        f" AND s.member_id = o.member_id) AS joined_at FROM {_t(Order)} o"
        f" WHERE o.shop_id = %s AND o.member_id IS NOT NULL AND {COUNTED}"
    )
    if full:
        source = f"({counted}) o"
    else:
        source = (
            "analytics_touched_members t CROSS JOIN LATERAL"
            f" ({counted} AND o.member_id = t.member_id OFFSET 0) o"
        )
    _execute(
        f"{columns} SELECT o.shop_id, o.id, o.member_id, o.placed_at,"  # noqa: S608 - fixed names; values are parameters
        " (o.placed_at AT TIME ZONE %s)::date,"
        f" ((LAG(o.placed_at) {window}) AT TIME ZONE %s)::date,"
        f" ((LEAD(o.placed_at) {window}) AT TIME ZONE %s)::date,"
        f" o.revenue, COUNT(*) {window}, SUM(o.revenue) {window},"
        f" CASE WHEN COUNT(*) {window} >= 2 THEN EXTRACT(EPOCH FROM"
        f" (o.placed_at - FIRST_VALUE(o.placed_at) {window})) / 86400.0"
        f" / (COUNT(*) {window} - 1) END,"
        f" (o.joined_at AT TIME ZONE %s)::date FROM {source}",
        [zone, zone, zone, zone, shop.pk],
    )
    guests = "" if full else " AND o.id IN (SELECT order_id FROM analytics_touched_orders)"
    _execute(
        f"{columns} SELECT o.shop_id, o.id, NULL, o.placed_at,"  # noqa: S608 - fixed names; values are parameters
        f" (o.placed_at AT TIME ZONE %s)::date, NULL, NULL, {REVENUE}, 1, {REVENUE}, NULL, NULL"
        f" FROM {_t(Order)} o WHERE o.shop_id = %s AND o.member_id IS NULL AND {COUNTED}"
        f"{guests}",
        [zone, shop.pk],
    )


def _buyers(*, shop: Shop, zone: str, full: bool) -> None:
    """Bring ``AnalyticsOrder`` and ``AnalyticsBuyerDay`` up to date for the touched
    members and orders (every one on a full build; the rows were deleted before). Runs
    after ``CustomerStats``, whose ``joined_at`` the rows carry."""
    orders, days = _t(AnalyticsOrder), _t(AnalyticsBuyerDay)
    measures = ", ".join(BUYER_MEASURES)
    if full:
        # One sorted pass over every counted order: more memory than a report's query.
        _execute("SET LOCAL work_mem = '256MB'", [])
        _order_rows(shop=shop, zone=zone, full=True, table=orders)
        source = f"(SELECT * FROM {orders} WHERE shop_id = {int(shop.pk)})"  # noqa: S608 - fixed names; no values
        # The orders' own terms and the pairs' terms are summed apart (each with only its
        # own columns: most of the cost is adding numbers), then put side by side.
        singles = (
            f"SELECT c.day, c.anchor_day, c.joined_day, {_SINGLE_SUMS}"  # noqa: S608 - fixed names; values are parameters
            f" FROM ({BUYER_CONTRIBUTIONS.format(source=source)}) c GROUP BY 1, 2, 3"
        )
        pairs = (
            "SELECT c.day, c.anchor_day, c.joined_day, SUM(c.period_days_between_sum)"  # noqa: S608 - fixed names; values are parameters
            f" AS period_days_between_sum FROM ({PAIR_CONTRIBUTIONS.format(source=source)}) c"
            " GROUP BY 1, 2, 3"
        )
        values = ", ".join(f"COALESCE(s.{m}, 0) AS {m}" for m in SINGLE_MEASURES)
        _execute(
            f"INSERT INTO {days} (shop_id, day, anchor_day, joined_day, {measures})"  # noqa: S608 - fixed names; values are parameters
            " SELECT * FROM (SELECT %s AS shop_id, COALESCE(s.day, p.day) AS day,"
            " COALESCE(s.anchor_day, p.anchor_day) AS anchor_day,"
            f" COALESCE(s.joined_day, p.joined_day) AS joined_day, {values},"
            " COALESCE(p.period_days_between_sum, 0) AS period_days_between_sum"
            f" FROM ({singles}) s FULL JOIN ({pairs}) p ON p.day = s.day"
            " AND p.anchor_day = s.anchor_day AND p.joined_day = s.joined_day) b"
            f" WHERE {_NOT_ALL_ZERO}",
            [shop.pk, 1, 1],
        )
        # Fresh tables have no statistics yet; the incremental runs' plans need them.
        _execute(f"ANALYZE {orders}", [])
        _execute(f"ANALYZE {days}", [])
        return
    with connection.cursor() as cursor:
        for name in ("analytics_buyer_delta", "analytics_buyer_change"):
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {name} (day date, anchor_day date,"
                " joined_day date, orders bigint, revenue numeric, guest_orders bigint,"
                " customers bigint, revenue_to_date numeric, days_between_sum numeric,"
                " days_between_count bigint, repeat_customers bigint,"
                " period_days_between_sum numeric) ON COMMIT DELETE ROWS"
            )
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS analytics_changed_members"
            " (member_id bigint PRIMARY KEY) ON COMMIT DELETE ROWS"
        )
        for name in ("analytics_order_new", "analytics_order_gone"):
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {name} (shop_id bigint,"
                " order_id bigint PRIMARY KEY, member_id bigint, placed_at timestamptz,"
                " day date, previous_day date, next_day date, revenue numeric,"
                " orders_to_date integer, revenue_to_date numeric, days_between numeric,"
                " joined_day date) ON COMMIT DELETE ROWS"
            )
        cursor.execute(
            "TRUNCATE analytics_buyer_delta, analytics_buyer_change, analytics_order_new,"
            " analytics_order_gone, analytics_changed_members"
        )
    # The touched members' rows as they are (an order that changed member made both
    # members touched), and the touched guest orders'; index probes per key.
    pk = int(shop.pk)
    current = (
        f"(SELECT r.* FROM analytics_touched_members t JOIN {orders} r"  # noqa: S608 - fixed names; no values
        f" ON r.shop_id = {pk} AND r.member_id = t.member_id"
        f" UNION ALL SELECT r.* FROM analytics_touched_orders t JOIN {orders} r"
        f" ON r.shop_id = {pk} AND r.order_id = t.order_id WHERE r.member_id IS NULL)"
    )
    # The rows as they should be; then only the rows that differ are written: the old
    # ones that are gone or changed, the new ones that are new or changed. Most of a
    # touched member's orders keep their row (a new order changes the last one only).
    _order_rows(shop=shop, zone=zone, full=False, table="analytics_order_new")
    _execute("ANALYZE analytics_order_new", [])
    same = " AND ".join(f"n.{c} IS NOT DISTINCT FROM r.{c}" for c in ORDER_VALUES)
    _execute(
        f"INSERT INTO analytics_order_gone ({ORDER_COLUMNS})"  # noqa: S608 - fixed names; no values
        f" SELECT {ORDER_COLUMNS} FROM {current} r WHERE NOT EXISTS ("
        f" SELECT 1 FROM analytics_order_new n WHERE n.order_id = r.order_id AND {same})",
        [],
    )
    _execute(
        f"DELETE FROM analytics_order_new n USING {orders} r"  # noqa: S608 - fixed names; values are parameters
        f" WHERE r.shop_id = %s AND r.order_id = n.order_id AND {same}",
        [shop.pk],
    )
    # The members with a row that changes: their pairs of orders are taken back as they
    # were and added as they are (the unchanged pairs cancel out in the sum).
    _execute(
        "INSERT INTO analytics_changed_members (member_id) SELECT member_id"
        " FROM analytics_order_gone WHERE member_id IS NOT NULL UNION SELECT member_id"
        " FROM analytics_order_new WHERE member_id IS NOT NULL",
        [],
    )
    members_rows = (
        f"(SELECT r.* FROM analytics_changed_members t JOIN {orders} r"  # noqa: S608 - fixed names; no values
        f" ON r.shop_id = {pk} AND r.member_id = t.member_id)"
    )
    into = (
        "INSERT INTO analytics_buyer_delta (day, anchor_day, joined_day,"
        f" {', '.join(SINGLE_MEASURES)})"
    )
    into_pairs = (
        "INSERT INTO analytics_buyer_delta (day, anchor_day, joined_day, period_days_between_sum)"
    )
    # Take back what the replaced rows contributed and add what the new ones do.
    _execute(f"{into} {BUYER_CONTRIBUTIONS.format(source='analytics_order_gone')}", [-1])
    _execute(f"{into_pairs} {PAIR_CONTRIBUTIONS.format(source=members_rows)}", [-1])
    _execute(
        f"DELETE FROM {orders} r USING analytics_order_gone g"  # noqa: S608 - fixed names; values are parameters
        " WHERE r.shop_id = %s AND r.order_id = g.order_id",
        [shop.pk],
    )
    _execute(
        f"INSERT INTO {orders} ({ORDER_COLUMNS})"  # noqa: S608 - fixed names; no values
        f" SELECT {ORDER_COLUMNS} FROM analytics_order_new",
        [],
    )
    _execute(f"{into} {BUYER_CONTRIBUTIONS.format(source='analytics_order_new')}", [1])
    _execute(f"{into_pairs} {PAIR_CONTRIBUTIONS.format(source=members_rows)}", [1])
    _execute(
        f"INSERT INTO analytics_buyer_change (day, anchor_day, joined_day, {measures})"  # noqa: S608 - fixed names; no values
        f" SELECT c.day, c.anchor_day, c.joined_day, {_SUMS} FROM analytics_buyer_delta c"
        f" GROUP BY 1, 2, 3 HAVING {_ANY_NONZERO}",
        [],
    )
    updates = ", ".join(f"{m} = b.{m} + EXCLUDED.{m}" for m in BUYER_MEASURES)
    _execute(
        f"INSERT INTO {days} AS b (shop_id, day, anchor_day, joined_day, {measures})"  # noqa: S608 - fixed names; values are parameters
        f" SELECT %s, c.day, c.anchor_day, c.joined_day, {measures}"
        " FROM analytics_buyer_change c"
        f" ON CONFLICT (shop_id, day, anchor_day, joined_day) DO UPDATE SET {updates}",
        [shop.pk],
    )
    _execute(
        f"DELETE FROM {days} b USING analytics_buyer_change c WHERE b.shop_id = %s"  # noqa: S608 - fixed names; values are parameters
        " AND b.day = c.day AND b.anchor_day = c.anchor_day AND b.joined_day = c.joined_day"
        f" AND NOT ({_NOT_ALL_ZERO})",
        [shop.pk],
    )


def _cashback_days(*, shop: Shop, zone: str, cashback_id: int, since: datetime) -> None:
    """Recompute the ``AnalyticsCashbackDay`` rows of the local days of the cash-back
    entries written since the watermark (by id, and by time less ``LAG``): delete the
    days' rows, then sum each day's entries per currency (one index range per day)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS analytics_cashback_touched"
            " (day date PRIMARY KEY) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE analytics_cashback_touched")
    entries, days = _t(CashbackEntry), _t(AnalyticsCashbackDay)
    _execute(
        "INSERT INTO analytics_cashback_touched (day)"  # noqa: S608 - fixed names; values are parameters
        f" SELECT DISTINCT (c.created_at AT TIME ZONE %s)::date FROM {entries} c"
        " WHERE c.shop_id = %s AND (c.id > %s OR c.created_at >= %s)",
        [zone, shop.pk, cashback_id, since],
    )
    _execute(
        f"DELETE FROM {days} WHERE shop_id = %s"  # noqa: S608 - fixed names; values are parameters
        " AND day IN (SELECT day FROM analytics_cashback_touched)",
        [shop.pk],
    )
    _execute(
        f"INSERT INTO {days} (shop_id, day, currency, credited, reversed)"  # noqa: S608 - fixed names; values are parameters
        " SELECT %s, d.day, c.currency,"
        " COALESCE(SUM(c.amount) FILTER (WHERE c.kind = 'credit'), 0),"
        " COALESCE(SUM(c.amount) FILTER (WHERE c.kind = 'reversal'), 0)"
        f" FROM analytics_cashback_touched d JOIN {entries} c ON c.shop_id = %s"
        " AND c.created_at >= d.day::timestamp AT TIME ZONE %s"
        " AND c.created_at < (d.day + 1)::timestamp AT TIME ZONE %s GROUP BY d.day, c.currency",
        [shop.pk, shop.pk, zone, zone],
    )
