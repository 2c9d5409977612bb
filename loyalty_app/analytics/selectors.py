"""The program's figures for one shop and one period: whether the program pays.

Every figure is an aggregate computed by the database (a few queries per section, none
per member), scoped to one shop. The sums over the shop's whole history are read from the
rollups (models.py, kept by services.rollups_refresh): points and new members per local
day, activity entries per day and previous activity day, each member's orders to date,
the buyer days (a period's customers, repeat buyers, revenue to date and days between
orders, members against non-members, as one sum over at most its days squared) and
cash-back per day: a period's figures cost the same at any number of members.
The direct computations stay beside them: they define the figures (the rollup tests
compare both) and serve a period in another time zone than the shop's. Definitions (the README's "Analytics" states the same):

- A counted order is paid, neither cancelled nor fully refunded, not a test, and its
  revenue is its net merchandise: line amounts after discounts, gift cards excluded, less
  what was refunded of them (shipping and tax never count), as the earning engine sees it.
- A customer is a buyer of counted orders. An identified customer (with a customer id) is
  counted once; a guest checkout carries no identity the engine keeps, so each guest order
  counts as one customer.
- A member is a customer record that joined or earned by the period's end: it has a
  points ledger entry, a recorded action (sign-up, e-mail join, review...) or an order
  that earns points (pending ones included). The app enrols every identified buyer, so
  identified buyers become members with their first points; non-members are the guests
  and the identified buyers who never earned (the program was paused, or their orders
  earned nothing).
- Points issued are the credits of order, action, adjustment, import and tier entries;
  points taken back are the debits of order and adjustment entries (refunds, cancellations,
  manual deductions); redeemed is what redemptions spent less what came back; expired is
  what expiry took.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from loyalty_app.cashback.models import CashbackEntry
from loyalty_app.common.time import now
from loyalty_app.earning.models import ActionEvent, Order
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.referrals.selectors import ReferralFigures, referral_figures
from loyalty_app.rewards.models import Redemption, Reward
from loyalty_app.shops.models import Shop
from loyalty_app.surveys.selectors import Nps, nps
from loyalty_app.tiers.models import MemberTier, TierEvent
from loyalty_app.tiers.selectors import shop_zone

from .models import (
    AnalyticsActiveDay,
    AnalyticsBuyerDay,
    AnalyticsCashbackDay,
    AnalyticsDay,
    CustomerStats,
)
from .periods import Period
from .services import rollups_behind, rollups_build_needed, rollups_refresh

ZERO = Decimal("0")
ISSUED_KINDS = ("order", "action", "adjustment", "import", "tier_reward", "referral", "challenge")
TAKEN_BACK_KINDS = ("order", "adjustment", "referral", "challenge")
EARNING_KINDS = ("order", "action", "tier_reward", "referral", "challenge")
# Rewards whose value is money, so a point has a price in the shop's currency.
POINT_PRICED_KINDS = (
    Reward.Kind.FIXED_AMOUNT,
    Reward.Kind.STORE_CREDIT,
    Reward.Kind.VARIABLE_CREDIT,
)
# Redemptions whose value is money the shop gives (a percent, free shipping, a product or
# an experience has no stored money value and is not counted in the program's cost).
MONEY_KINDS = (
    Reward.Kind.FIXED_AMOUNT,
    Reward.Kind.STORE_CREDIT,
    Reward.Kind.VARIABLE_CREDIT,
    Reward.Kind.DONATION,
)
RETURN_WINDOWS = (30, 60, 90)
PROJECTION_DAYS = 365


def _t(model: Any) -> str:
    return str(model._meta.db_table)


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return list(cursor.fetchall())


def _dec(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value))


def ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """``part / whole`` to four places, or None when ``whole`` is 0 (no basis)."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))


# SQL of "a counted order" on the alias ``o`` (the shop is the first parameter).
COUNTED = (
    "o.shop_id = %s AND o.has_snapshot AND NOT o.test AND o.paid AND NOT o.cancelled "
    "AND NOT o.fully_refunded AND o.placed_at IS NOT NULL"
)
REVENUE = "GREATEST(o.eligible_amount - o.refunded_amount, 0)"


def _joined_sql(member_column: str) -> str:
    """SQL: the member in ``member_column`` has a ledger entry, an action or an order with
    points from before the moment given as the next three parameters (one per table).
    Each EXISTS reads the member's own index; callers put a cheaper sufficient test first.
    """
    return (
        f"(EXISTS (SELECT 1 FROM {_t(LedgerEntry)} l WHERE l.member_id = {member_column} "  # noqa: S608 - fixed names; values are parameters
        "AND l.created_at < %s) "
        f"OR EXISTS (SELECT 1 FROM {_t(ActionEvent)} a WHERE a.member_id = {member_column} "
        "AND a.created_at < %s) "
        f"OR EXISTS (SELECT 1 FROM {_t(Order)} e WHERE e.member_id = {member_column} "
        "AND e.points_target > 0 AND e.placed_at < %s))"
    )


# --- program size -----------------------------------------------------------------


@dataclass(frozen=True)
class ProgramSize:
    members: int  # at the period's end
    new_members: int
    customers: int  # who bought in the period
    member_customers: int
    guest_orders: int
    active_members: int

    @property
    def participation_rate(self) -> Decimal | None:
        return ratio(self.member_customers, self.customers)


def _members_counts_rolled(*, shop: Shop, period: Period) -> tuple[int, int]:
    """``_members_counts`` from the rollups: the members who count from a day before the
    period's end (a sum over the days), and of them the records created in the period (the
    stats' index on creation). Two small queries."""
    total = AnalyticsDay.objects.filter(shop=shop, day__lte=period.last_day).aggregate(
        n=Sum("members_joined", default=0)
    )["n"]
    new = CustomerStats.objects.filter(
        shop=shop,
        member_created_at__gte=period.start,
        member_created_at__lt=period.end,
        joined_at__lt=period.end,
    ).count()
    return int(total), int(new)


def _members_counts(*, shop: Shop, period: Period) -> tuple[int, int]:
    """(members at the period's end, of them joined in the period). One query.

    For a period that ends now or later, a balance other than 0 proves a ledger entry
    before the end, so only the members at 0 are looked up in the other tables.
    """
    end = period.end
    sql = (
        f"SELECT COUNT(*), COUNT(*) FILTER (WHERE m.created_at >= %s) FROM {_t(Member)} m "  # noqa: S608 - fixed names; values are parameters
        "WHERE m.shop_id = %s AND m.created_at < %s "
        f"AND ((%s AND m.points_balance <> 0) OR {_joined_sql('m.id')})"
    )
    rows = _fetch(sql, [period.start, shop.pk, end, end >= now(), end, end, end])
    return int(rows[0][0]), int(rows[0][1])


def members_per_day(*, shop: Shop, period: Period) -> dict[date, int]:
    """Customer records created per local day of the period (joined, enrolled by a first
    order, or imported). One grouped query, index only (``analytics_member_created``)."""
    rows = (
        Member.objects.filter(shop=shop, created_at__gte=period.start, created_at__lt=period.end)
        .annotate(day=TruncDate("created_at", tzinfo=period.zone))
        .values("day")
        .annotate(n=Count("*"))
        .values_list("day", "n")
    )
    return {day: int(n) for day, n in rows}


# --- behaviour ----------------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    """One group's buying in the period (members or non-members)."""

    customers: int
    orders: int
    revenue: Decimal
    repeat_customers: int  # two or more counted orders in the period
    revenue_to_date: Decimal  # every counted order of these customers up to the period's end
    mean_days_between_orders: Decimal | None
    period_days: int

    @property
    def repeat_purchase_rate(self) -> Decimal | None:
        return ratio(self.repeat_customers, self.customers)

    @property
    def orders_per_customer(self) -> Decimal | None:
        return ratio(self.orders, self.customers)

    @property
    def average_order_value(self) -> Decimal | None:
        return None if not self.orders else self.revenue / self.orders

    @property
    def revenue_per_customer(self) -> Decimal | None:
        return None if not self.customers else self.revenue / self.customers

    @property
    def clv_to_date(self) -> Decimal | None:
        return None if not self.customers else self.revenue_to_date / self.customers

    @property
    def clv_projected(self) -> Decimal | None:
        """CLV to date plus the next 365 days at this period's pace:
        ``clv_to_date + revenue_per_customer x 365 / period_days``."""
        if not self.customers:
            return None
        pace = self.revenue / self.customers * PROJECTION_DAYS / self.period_days
        return self.revenue_to_date / self.customers + pace


def behaviour(
    *, shop: Shop, period: Period, lifetime: bool = True
) -> tuple[Behaviour, Behaviour, list[int]]:
    """(members, non-members, the ids of the identified non-members who bought): the
    customers who bought in the period, their orders, revenue, repeat buyers, revenue to
    date and mean days between orders. One query.

    A customer is keyed by member id, or by the negative order id for a guest order (so a
    guest is one customer per order). The lifetime columns read every counted order of the
    period's identified customers up to the period's end (the ``analytics_order_counted``
    index holds them). An order with points proves membership; only customers without one
    are looked up in the ledger and the actions. ``lifetime=False`` reads the period's
    orders only (revenue to date and days between orders are then the period's): the
    previous period is compared on its headline figures, and the lifetime sums are most of
    the query's cost (bench/analytics.py).
    """
    start, end = period.start, period.end
    since = (
        " AND (o.member_id IS NOT NULL OR o.placed_at >= %s)"
        if lifetime
        else " AND o.placed_at >= %s"
    )
    sql = (
        "WITH o AS ("  # noqa: S608 - fixed names; values are parameters
        " SELECT COALESCE(o.member_id, -o.id) AS who, o.member_id, o.placed_at,"
        f" {REVENUE} AS rev, o.points_target"
        f" FROM {_t(Order)} o WHERE {COUNTED} AND o.placed_at < %s{since}"
        "), c AS ("
        " SELECT who, MIN(member_id) AS member_id,"
        " COUNT(*) FILTER (WHERE placed_at >= %s) AS n,"
        " COALESCE(SUM(rev) FILTER (WHERE placed_at >= %s), 0) AS rev,"
        " COUNT(*) AS n_all, SUM(rev) AS rev_all, MIN(placed_at) AS first,"
        " MAX(placed_at) AS last, MAX(points_target) AS earned"
        " FROM o GROUP BY who HAVING COUNT(*) FILTER (WHERE placed_at >= %s) > 0"
        "), k AS ("
        " SELECT c.*, (c.member_id IS NOT NULL"
        f" AND (c.earned > 0 OR {_joined_sql('c.member_id')})) AS joined FROM c"
        ")"
        " SELECT joined, COUNT(*), SUM(n), SUM(rev), COUNT(*) FILTER (WHERE n >= 2),"
        " SUM(rev_all), AVG(EXTRACT(EPOCH FROM (last - first)) / 86400.0 / (n_all - 1))"
        " FILTER (WHERE n_all >= 2),"
        " ARRAY_AGG(member_id) FILTER (WHERE member_id IS NOT NULL AND NOT joined)"
        " FROM k GROUP BY joined"
    )
    rows = _fetch(sql, [shop.pk, end, start, start, start, start, end, end, end])
    return _behaviour_groups(rows, period)


def _behaviour_groups(
    rows: list[tuple[Any, ...]], period: Period
) -> tuple[Behaviour, Behaviour, list[int]]:
    empty = Behaviour(0, 0, ZERO, 0, ZERO, None, period.days)
    groups = {True: empty, False: empty}
    outsiders: list[int] = []
    for joined, customers, orders, revenue, repeat, to_date, gap, ids in rows:
        groups[bool(joined)] = Behaviour(
            customers=int(customers),
            orders=int(orders or 0),
            revenue=_dec(revenue),
            repeat_customers=int(repeat),
            revenue_to_date=_dec(to_date),
            mean_days_between_orders=(
                None if gap is None else Decimal(str(gap)).quantize(Decimal("0.1"))
            ),
            period_days=period.days,
        )
        outsiders += [int(i) for i in ids or ()]
    return groups[True], groups[False], sorted(outsiders)


def buyers_rolled(
    *, shop: Shop, period: Period, lifetime: bool = True
) -> tuple[Behaviour, Behaviour]:
    """(members, non-members) as ``behaviour`` computes them, from the rollups: the
    period's ``AnalyticsBuyerDay`` rows (anchored in the period, up to its last day: at
    most the period's days squared, whatever the number of customers). Exact for any
    period, orders after it or not. One query.

    ``lifetime=False`` (the previous period's headline figures) keeps ``behaviour``'s
    meaning: revenue to date is the period's revenue, and the days between orders are
    those of the period's orders (``period_days_between_sum``).
    """
    # The days between orders: the lifetime ones (the customer's last order up to the
    # period's end), or the period's own orders' ones.
    gap = (
        "SUM(b.days_between_sum) / NULLIF(SUM(b.days_between_count), 0)"
        if lifetime
        else "SUM(b.period_days_between_sum) / NULLIF(SUM(b.repeat_customers), 0)"
    )
    sql = (
        "SELECT b.joined_day <= %s, SUM(b.customers), SUM(b.orders), SUM(b.revenue),"  # noqa: S608 - fixed names; values are parameters
        f" SUM(b.repeat_customers), SUM(b.revenue_to_date), {gap}"
        f" FROM {_t(AnalyticsBuyerDay)} b WHERE b.shop_id = %s AND b.anchor_day >= %s"
        " AND b.day >= %s AND b.day <= %s GROUP BY 1"
    )
    first, last = period.first_day, period.last_day
    rows = [
        # ``lifetime=False``: revenue to date is the period's orders' revenue.
        (joined, customers, orders, revenue, repeat, to_date if lifetime else revenue, gap, None)
        for joined, customers, orders, revenue, repeat, to_date, gap in _fetch(
            sql, [last, shop.pk, first, first, last]
        )
        if customers  # else the group's terms cancel out: nobody of it bought in the period
    ]
    members, others, _ = _behaviour_groups(rows, period)
    return members, others


def guest_orders_rolled(*, shop: Shop, period: Period) -> int:
    """``guest_orders`` from the period's ``AnalyticsBuyerDay`` rows of its days."""
    total = AnalyticsBuyerDay.objects.filter(
        shop=shop,
        day__gte=period.first_day,
        day__lte=period.last_day,
        anchor_day__gte=period.first_day,
    ).aggregate(n=Sum("guest_orders", default=0))["n"]
    return int(total)


def revenue_per_day_rolled(*, shop: Shop, period: Period) -> dict[date, tuple[Decimal, Decimal]]:
    """``revenue_per_day`` from the ``AnalyticsBuyerDay`` rows of the period's days (the
    rows of a day's own orders: ``anchor_day == day``), members being those who joined
    by the period's last day. One query."""
    sql = (
        "SELECT b.day, b.joined_day <= %s, SUM(b.revenue)"  # noqa: S608 - fixed names; values are parameters
        f" FROM {_t(AnalyticsBuyerDay)} b WHERE b.shop_id = %s AND b.anchor_day = b.day"
        " AND b.day >= %s AND b.day <= %s AND b.anchor_day >= %s GROUP BY 1, 2"
        " HAVING SUM(b.orders) > 0"
    )
    last = period.last_day
    return _revenue_split(_fetch(sql, [last, shop.pk, period.first_day, last, period.first_day]))


def _revenue_split(rows: list[tuple[Any, ...]]) -> dict[date, tuple[Decimal, Decimal]]:
    """Rows of (day, joined, revenue) -> day -> (members' revenue, non-members')."""
    days: dict[date, tuple[Decimal, Decimal]] = {}
    for day, joined, revenue in rows:
        members, others = days.get(day, (ZERO, ZERO))
        if joined:
            members += _dec(revenue)
        else:
            others += _dec(revenue)
        days[day] = (members, others)
    return days


def guest_orders(*, shop: Shop, period: Period) -> int:
    sql = (
        f"SELECT COUNT(*) FROM {_t(Order)} o WHERE {COUNTED} AND o.member_id IS NULL "  # noqa: S608 - fixed names; values are parameters
        "AND o.placed_at >= %s AND o.placed_at < %s"
    )
    return int(_fetch(sql, [shop.pk, period.start, period.end])[0][0])


def revenue_per_day(
    *, shop: Shop, period: Period, outsiders: Sequence[int]
) -> dict[date, tuple[Decimal, Decimal]]:
    """Local day -> (members' revenue, non-members' revenue) of the period's counted
    orders. ``outsiders``: the identified customers who are not members (``behaviour``
    found them), so membership is read once per customer, not once per order. One query.
    """
    sql = (
        "SELECT (o.placed_at AT TIME ZONE %s)::date AS day,"  # noqa: S608 - fixed names; values are parameters
        " (o.member_id IS NOT NULL AND NOT (o.member_id = ANY(%s::bigint[]))) AS joined,"
        f" SUM({REVENUE}) FROM {_t(Order)} o WHERE {COUNTED}"
        " AND o.placed_at >= %s AND o.placed_at < %s GROUP BY 1, 2"
    )
    params = [str(period.zone.key), list(outsiders), shop.pk, period.start, period.end]
    return _revenue_split(_fetch(sql, params))


# --- points ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Points:
    issued: int
    taken_back: int
    redeemed: int
    expired: int
    active_members: int

    @property
    def redemption_rate(self) -> Decimal | None:
        return ratio(self.redeemed, self.issued)

    @property
    def breakage(self) -> Decimal | None:
        """Points expired as a share of points issued in the same period."""
        return ratio(self.expired, self.issued)


def points(*, shop: Shop, period: Period) -> Points:
    return points_between(shop=shop, start=period.start, end=period.end)


def points_rolled(*, shop: Shop, period: Period) -> Points:
    """``points`` from the rollups: the sums from the period's ``AnalyticsDay`` rows, the
    active members from its ``AnalyticsActiveDay`` rows (the entries whose member's
    previous activity is before the period: one per active member). Two queries."""
    sums = AnalyticsDay.objects.filter(
        shop=shop, day__gte=period.first_day, day__lte=period.last_day
    ).aggregate(
        issued=Sum("points_issued", default=0),
        taken_back=Sum("points_taken_back", default=0),
        redeemed=Sum("points_redeemed", default=0),
        expired=Sum("points_expired", default=0),
    )
    active = AnalyticsActiveDay.objects.filter(
        shop=shop,
        day__gte=period.first_day,
        day__lte=period.last_day,
        previous_day__lt=period.first_day,
    ).aggregate(n=Sum("entries", default=0))["n"]
    return Points(
        issued=int(sums["issued"]),
        taken_back=int(sums["taken_back"]),
        redeemed=int(sums["redeemed"]),
        expired=int(sums["expired"]),
        active_members=int(active),
    )


def points_between(*, shop: Shop, start: datetime, end: datetime) -> Points:
    """Points by kind written in ``[start, end)``, and the active members (who earned or
    redeemed). One aggregate query on the ledger's ``created_at`` index."""
    kinds = LedgerEntry.objects.filter(
        shop=shop, created_at__gte=start, created_at__lt=end
    ).aggregate(
        issued=Sum("points", filter=Q(kind__in=ISSUED_KINDS, points__gt=0), default=0),
        taken_back=Sum("points", filter=Q(kind__in=TAKEN_BACK_KINDS, points__lt=0), default=0),
        redeemed=Sum("points", filter=Q(kind__in=("redemption", "redemption_return")), default=0),
        expired=Sum("points", filter=Q(kind="expiry"), default=0),
        active=Count(
            "member_id",
            filter=Q(kind__in=EARNING_KINDS, points__gt=0) | Q(kind="redemption"),
            distinct=True,
        ),
    )
    return Points(
        issued=int(kinds["issued"]),
        taken_back=-int(kinds["taken_back"]),
        redeemed=-int(kinds["redeemed"]),
        expired=-int(kinds["expired"]),
        active_members=int(kinds["active"]),
    )


@dataclass(frozen=True)
class PointsDay:
    day: date
    issued: int
    redeemed: int
    outstanding: int  # every member's points at the day's end (the ledger's sum)


def points_per_day(*, shop: Shop, period: Period) -> list[PointsDay]:
    """Points issued, redeemed and outstanding per local day of the period.

    The outstanding points at a moment are the members' balances now less what the ledger
    wrote since, so the history is read from the period onwards only, never from the
    ledger's beginning. Two queries.
    """
    balances = int(Member.objects.filter(shop=shop).aggregate(s=Sum("points_balance"))["s"] or 0)
    rows = (
        LedgerEntry.objects.filter(shop=shop, created_at__gte=period.start)
        .annotate(day=TruncDate("created_at", tzinfo=period.zone))
        .values("day")
        .annotate(
            net=Sum("points"),
            issued=Sum("points", filter=Q(kind__in=ISSUED_KINDS, points__gt=0), default=0),
            redeemed=Sum(
                "points", filter=Q(kind__in=("redemption", "redemption_return")), default=0
            ),
        )
        .values_list("day", "net", "issued", "redeemed")
    )
    by_day = {day: (int(net), int(issued), -int(redeemed)) for day, net, issued, redeemed in rows}
    outstanding = balances - sum(net for net, _, _ in by_day.values())  # at the period's start
    series = []
    for day in period.day_list():
        net, issued, redeemed = by_day.get(day, (0, 0, 0))
        outstanding += net
        series.append(PointsDay(day=day, issued=issued, redeemed=redeemed, outstanding=outstanding))
    return series


def points_per_day_rolled(*, shop: Shop, period: Period) -> list[PointsDay]:
    """``points_per_day`` from the ``AnalyticsDay`` rows of the period and after it."""
    # The members' balances are the ledger's sum, so the points outstanding at the period's
    # start are the net points of the days before it (one sum, no read of the members).
    outstanding = int(
        AnalyticsDay.objects.filter(shop=shop, day__lt=period.first_day).aggregate(
            s=Sum("points_net", default=0)
        )["s"]
    )
    rows = AnalyticsDay.objects.filter(
        shop=shop, day__gte=period.first_day, day__lte=period.last_day
    ).values_list("day", "points_net", "points_issued", "points_redeemed")
    by_day = {day: (int(net), int(issued), int(redeemed)) for day, net, issued, redeemed in rows}
    series = []
    for day in period.day_list():
        net, issued, redeemed = by_day.get(day, (0, 0, 0))
        outstanding += net
        series.append(PointsDay(day=day, issued=issued, redeemed=redeemed, outstanding=outstanding))
    return series


def points_pending(*, shop: Shop) -> int:
    """Points of orders still inside their return window, now."""
    total = Order.objects.filter(shop=shop, confirmed=False).aggregate(
        s=Sum("points_target", default=0)
    )["s"]
    return int(total)


@dataclass(frozen=True)
class PointValue:
    """The money a point is worth in the reward that gives the least per point."""

    value: Decimal | None
    reward_id: int | None
    reward_title: str


def point_value(*, shop: Shop) -> PointValue:
    """The lowest money per point among the shop's live rewards whose value is money:
    ``value / points_cost`` (amount off, store credit) or ``value_per_step /
    points_per_step`` (points for credit). The lowest, so the liability is never overstated.
    None: no such reward, so points have no price yet. One query."""
    candidates = Reward.objects.filter(
        shop=shop, kind__in=POINT_PRICED_KINDS, archived_at__isnull=True, grant_only=False
    ).values_list(
        "pk", "title", "kind", "value", "points_cost", "value_per_step", "points_per_step"
    )
    best: tuple[Decimal, int, str] | None = None
    for pk, title, kind, value, cost, step_value, step_points in candidates:
        if kind == Reward.Kind.VARIABLE_CREDIT:
            per_point = step_value / step_points if step_value and step_points else None
        else:
            per_point = value / cost if value and cost else None
        if per_point is not None and (best is None or per_point < best[0]):
            best = (per_point, pk, title)
    if best is None:
        return PointValue(value=None, reward_id=None, reward_title="")
    return PointValue(value=best[0], reward_id=best[1], reward_title=best[2])


# --- rewards ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RewardRow:
    reward_id: int
    title: str
    kind: str
    redemptions: int
    points: int  # spent, less what came back
    value: Decimal  # money value (money kinds only)
    used: int


def redemptions_by_reward(*, shop: Shop, period: Period) -> list[RewardRow]:
    """Redemptions made in the period per reward, failed deliveries left out. One query."""
    rows = (
        Redemption.objects.filter(
            shop=shop, created_at__gte=period.start, created_at__lt=period.end
        )
        .exclude(status=Redemption.Status.FAILED)
        .values("reward_id", "reward__title", "reward__kind")
        .annotate(
            n=Count("id"),
            spent=Sum("points", default=0),
            back=Sum("points_returned", default=0),
            value=Sum(
                "value",
                filter=Q(kind__in=MONEY_KINDS) & ~Q(status=Redemption.Status.EXPIRED),
            ),
            used=Count("id", filter=Q(status=Redemption.Status.USED)),
        )
        .order_by("-n", "reward_id")
    )
    return [
        RewardRow(
            reward_id=row["reward_id"],
            title=row["reward__title"],
            kind=row["reward__kind"],
            redemptions=int(row["n"]),
            points=int(row["spent"]) - int(row["back"]),
            value=_dec(row["value"]),
            used=int(row["used"]),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class CodeOrders:
    orders: int
    revenue: Decimal


def code_orders(*, shop: Shop, period: Period) -> CodeOrders:
    """Counted orders placed in the period that used a reward's code, and their revenue.
    One query: the redemptions name their order by its platform id."""
    sql = (
        f"SELECT COUNT(*), SUM({REVENUE}) FROM {_t(Order)} o WHERE {COUNTED}"  # noqa: S608 - fixed names; values are parameters
        " AND o.placed_at >= %s AND o.placed_at < %s AND EXISTS ("
        f" SELECT 1 FROM {_t(Redemption)} r WHERE r.shop_id = o.shop_id"
        " AND r.used_order_id = o.external_id AND r.used_order_id <> '')"
    )
    count, revenue = _fetch(sql, [shop.pk, period.start, period.end])[0]
    return CodeOrders(orders=int(count), revenue=_dec(revenue))


@dataclass(frozen=True)
class ReturnRow:
    days: int
    customers: int  # used a code in the period, and the window is over
    returned: int  # of them, ordered again within the window

    @property
    def rate(self) -> Decimal | None:
        return ratio(self.returned, self.customers)


def coupon_return(*, shop: Shop, period: Period, at: datetime | None = None) -> list[ReturnRow]:
    """Of the members who used a reward's code in an order placed in the period (their
    first such order in it), how many placed another counted order within 30, 60 and 90
    days after it. A customer counts for a window only once the window is over (``at``,
    default now), so a recent use is not read as "never came back". One query."""
    at = at or now()
    window = (
        "COUNT(*) FILTER (WHERE u.t + %s * interval '1 day' <= %s),"  # noqa: S608 - fixed names; values are parameters
        " COUNT(*) FILTER (WHERE u.t + %s * interval '1 day' <= %s AND EXISTS ("
        f" SELECT 1 FROM {_t(Order)} o WHERE {COUNTED} AND o.member_id = u.member_id"
        " AND o.placed_at > u.t AND o.placed_at <= u.t + %s * interval '1 day'))"
    )
    sql = (
        "WITH u AS ("  # noqa: S608 - fixed names; values are parameters
        f" SELECT r.member_id, MIN(o.placed_at) AS t FROM {_t(Redemption)} r"
        f" JOIN {_t(Order)} o ON o.shop_id = r.shop_id AND o.external_id = r.used_order_id"
        " WHERE r.shop_id = %s AND r.used_order_id <> '' AND o.placed_at >= %s"
        " AND o.placed_at < %s GROUP BY r.member_id"
        f") SELECT {', '.join([window] * len(RETURN_WINDOWS))} FROM u"
    )
    params: list[Any] = [shop.pk, period.start, period.end]
    for days in RETURN_WINDOWS:
        params += [days, at, days, at, shop.pk, days]
    row = _fetch(sql, params)[0]
    return [
        ReturnRow(days=d, customers=int(row[2 * i]), returned=int(row[2 * i + 1]))
        for i, d in enumerate(RETURN_WINDOWS)
    ]


# --- tiers and cash-back ------------------------------------------------------------------


@dataclass(frozen=True)
class TierMove:
    from_tier: str
    to_tier: str
    members: int


@dataclass(frozen=True)
class Tiers:
    members: list[tuple[str | None, int]]  # (tier, members) now; None: no tier
    moves: list[TierMove] = field(default_factory=list)


def tiers(*, shop: Shop, period: Period, members_total: int) -> Tiers:
    """Members per tier now (members without a stored tier under None), and the tier
    changes recorded in the period. Two grouped queries."""
    held = dict(
        MemberTier.objects.filter(shop=shop, tier__isnull=False)
        .values("tier")
        .annotate(n=Count("id"))
        .values_list("tier", "n")
    )
    in_tier = sum(held.values())
    members = [(None, max(members_total - in_tier, 0))] + sorted(held.items())
    moves = (
        TierEvent.objects.filter(shop=shop, created_at__gte=period.start, created_at__lt=period.end)
        .values("from_tier", "to_tier")
        .annotate(n=Count("id"))
        .order_by("-n", "from_tier", "to_tier")
    )
    return Tiers(
        members=members,
        moves=[TierMove(m["from_tier"], m["to_tier"], int(m["n"])) for m in moves],
    )


@dataclass(frozen=True)
class Cashback:
    credited: Decimal
    reversed: Decimal

    @property
    def net(self) -> Decimal:
        return self.credited - self.reversed


def cashback_rolled(*, shop: Shop, period: Period) -> Cashback:
    """``cashback`` from the period's ``AnalyticsCashbackDay`` rows. One query."""
    totals = AnalyticsCashbackDay.objects.filter(
        shop=shop,
        currency=(shop.currency or "USD").upper(),
        day__gte=period.first_day,
        day__lte=period.last_day,
    ).aggregate(credited=Sum("credited"), reversed=Sum("reversed"))
    return Cashback(credited=_dec(totals["credited"]), reversed=-_dec(totals["reversed"]))


def cashback(*, shop: Shop, period: Period) -> Cashback:
    """Cash-back credited and reversed by entries written in the period, in the shop's
    currency. One query on the (shop, created_at) index."""
    totals = CashbackEntry.objects.filter(
        shop=shop,
        currency=(shop.currency or "USD").upper(),
        created_at__gte=period.start,
        created_at__lt=period.end,
    ).aggregate(
        credited=Sum("amount", filter=Q(kind=CashbackEntry.Kind.CREDIT)),
        reversed=Sum("amount", filter=Q(kind=CashbackEntry.Kind.REVERSAL)),
    )
    return Cashback(credited=_dec(totals["credited"]), reversed=-_dec(totals["reversed"]))


# --- the whole report ---------------------------------------------------------------------


@dataclass(frozen=True)
class Roi:
    """The program's cost and the revenue attributed to it.

    - cost = money value of rewards redeemed in the period (money kinds, expired codes
      left out) + cash-back credited less reversed;
    - attributed revenue = members' revenue - non-members' revenue per customer x member
      customers: what members bought above what as many non-members would have bought;
    - ROI = (attributed revenue - cost) / cost.
    """

    rewards_value: Decimal
    cashback_net: Decimal
    members_revenue: Decimal
    baseline_per_customer: Decimal | None
    member_customers: int

    @property
    def cost(self) -> Decimal:
        return self.rewards_value + self.cashback_net

    @property
    def cost_share_of_members_revenue(self) -> Decimal | None:
        return ratio(self.cost, self.members_revenue)

    @property
    def attributed_revenue(self) -> Decimal | None:
        if self.baseline_per_customer is None:
            return None
        return self.members_revenue - self.baseline_per_customer * self.member_customers

    @property
    def roi(self) -> Decimal | None:
        attributed = self.attributed_revenue
        if attributed is None or not self.cost:
            return None
        return ratio(attributed - self.cost, self.cost)


@dataclass(frozen=True)
class Report:
    shop: Shop
    period: Period
    size: ProgramSize
    points: Points
    pending: int
    point_value: PointValue
    outstanding: int  # at the period's end
    members: Behaviour
    non_members: Behaviour
    rewards: list[RewardRow]
    code_orders: CodeOrders
    coupon_return: list[ReturnRow]
    tiers: Tiers | None
    cashback: Cashback
    roi: Roi
    days: list[PointsDay]
    members_days: dict[date, int]
    revenue_days: dict[date, tuple[Decimal, Decimal]]
    nps: Nps  # the survey's answers given in the period (surveys.selectors)
    # Refer-a-friend in the period (referrals.selectors); set by ``report`` for both
    # implementations.
    referrals: ReferralFigures | None = None

    @property
    def liability(self) -> Decimal | None:
        if self.point_value.value is None:
            return None
        return max(self.outstanding, 0) * self.point_value.value


def report(*, shop: Shop, period: Period, detail: bool = True) -> Report:
    """Every figure of the period (off PostgreSQL from ``portable``). ``detail=False``
    leaves out what only the period shown needs (day series, tables, tiers): the previous
    period is read for its headline figures only."""
    figures = _figures(shop=shop, period=period, detail=detail)
    referred = referral_figures(shop=shop, period_start=period.start, period_end=period.end)
    return replace(figures, referrals=referred)


def _figures(*, shop: Shop, period: Period, detail: bool = True) -> Report:
    if connection.vendor != "postgresql":
        # The embedded SQLite database: the same figures from the ORM and Python.
        from .portable import report as portable_report

        return portable_report(shop=shop, period=period, detail=detail)
    with transaction.atomic(), connection.cursor() as cursor:
        # Aggregates over a million rows make the planner compile them (JIT), which costs
        # more than it saves here (bench/analytics.py: 0.6 s of 2 s), and a shop's
        # per-customer sums fit in memory without spilling to disk.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # The rollups first: when something is newer than the watermark, a refresh bounded
        # by what changed since the beat job's last run (analytics.services), so the
        # figures below are never behind the ledger and the orders.
        if rollups_build_needed(shop=shop):
            # A first build (or a rebuild for a new zone or layout) reads the shop's whole
            # history: minutes for a large shop. It runs in a worker; meanwhile the figures
            # are read from the ledger and the orders, slower but the same.
            _rollups_build_enqueue(shop)
            return _report(shop=shop, period=period, detail=detail, rolled=False)
        if rollups_behind(shop=shop):
            rollups_refresh(shop=shop)
        return _report(shop=shop, period=period, detail=detail)


def _rollups_build_enqueue(shop: Shop) -> None:
    from .tasks import rollups_refresh_shop  # tasks import the services

    transaction.on_commit(lambda: rollups_refresh_shop.delay(shop.pk))


def _report(*, shop: Shop, period: Period, detail: bool, rolled: bool = True) -> Report:
    # The rollup days are local days of the shop's zone: a period in another zone (a
    # shop's zone changed since) is read from the ledger and the orders.
    rolled = rolled and period.zone.key == shop_zone(shop).key
    if rolled:
        members_total, new_members = _members_counts_rolled(shop=shop, period=period)
    else:
        members_total, new_members = _members_counts(shop=shop, period=period)
    outsiders: list[int] = []
    if rolled:
        joined, others = buyers_rolled(shop=shop, period=period, lifetime=detail)
    else:
        joined, others, outsiders = behaviour(shop=shop, period=period, lifetime=detail)
    pts = points_rolled(shop=shop, period=period) if rolled else points(shop=shop, period=period)
    days = (
        points_per_day_rolled(shop=shop, period=period)
        if rolled
        else points_per_day(shop=shop, period=period)
    )
    cash = (
        cashback_rolled(shop=shop, period=period) if rolled else cashback(shop=shop, period=period)
    )
    extra = None
    if detail:
        extra = Detail(
            code_orders=code_orders(shop=shop, period=period),
            coupon_return=coupon_return(shop=shop, period=period),
            members_days=members_per_day(shop=shop, period=period),
            revenue_days=(
                revenue_per_day_rolled(shop=shop, period=period)
                if rolled
                else revenue_per_day(shop=shop, period=period, outsiders=outsiders)
            ),
        )
    return report_assemble(
        shop=shop,
        period=period,
        members_total=members_total,
        new_members=new_members,
        members=joined,
        non_members=others,
        guest_orders=(
            guest_orders_rolled(shop=shop, period=period)
            if rolled
            else guest_orders(shop=shop, period=period)
        ),
        points=pts,
        days=days,
        cash=cash,
        detail=extra,
    )


@dataclass(frozen=True)
class Detail:
    """The figures only the period shown needs, which each implementation (``_report``
    here, ``portable.report``) computes its own way."""

    code_orders: CodeOrders
    coupon_return: list[ReturnRow]
    members_days: dict[date, int]
    revenue_days: dict[date, tuple[Decimal, Decimal]]


def report_assemble(
    *,
    shop: Shop,
    period: Period,
    members_total: int,
    new_members: int,
    members: Behaviour,
    non_members: Behaviour,
    guest_orders: int,
    points: Points,
    days: list[PointsDay],
    cash: Cashback,
    detail: Detail | None,
) -> Report:
    """The ``Report`` of both implementations from the figures each computes its own way.
    The figures that are plain ORM queries (rewards, pending points, point value, tiers,
    NPS) and the derived ones (ROI, program size, outstanding points) are made here, so
    each has one definition. ``detail`` None: the previous period's headline figures only
    (no day series, tables or tiers)."""
    rewards = redemptions_by_reward(shop=shop, period=period)
    roi = Roi(
        rewards_value=sum((row.value for row in rewards), ZERO),
        cashback_net=cash.net,
        members_revenue=members.revenue,
        baseline_per_customer=non_members.revenue_per_customer,
        member_customers=members.customers,
    )
    size = ProgramSize(
        members=members_total,
        new_members=new_members,
        customers=members.customers + non_members.customers,
        member_customers=members.customers,
        guest_orders=guest_orders,
        active_members=points.active_members,
    )
    return Report(
        shop=shop,
        period=period,
        size=size,
        points=points,
        pending=points_pending(shop=shop),
        point_value=point_value(shop=shop),
        outstanding=days[-1].outstanding if days else 0,
        members=members,
        non_members=non_members,
        rewards=rewards,
        code_orders=detail.code_orders if detail else CodeOrders(0, ZERO),
        coupon_return=detail.coupon_return if detail else [],
        tiers=tiers(shop=shop, period=period, members_total=members_total) if detail else None,
        cashback=cash,
        roi=roi,
        days=days if detail else [],
        members_days=detail.members_days if detail else {},
        revenue_days=detail.revenue_days if detail else {},
        nps=nps(shop=shop, period=period),
    )


def percent_change(current: Decimal | int | None, previous: Decimal | int | None) -> int | None:
    """The change in whole percent, or None when there is no basis (previous 0 or unknown)."""
    if current is None or previous is None or not previous:
        return None
    return round((Decimal(current) - Decimal(previous)) * 100 / abs(Decimal(previous)))
