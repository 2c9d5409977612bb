"""The analytics report on any database: the ORM reads a shop's rows, Python aggregates.

``selectors.report`` computes the figures with PostgreSQL aggregates (FILTER, arrays,
time zones) over rollups that PostgreSQL upserts keep. The embedded SQLite database of
``./dev demo`` (and any database other than PostgreSQL) has neither, so ``report`` there
comes from here: the same ``Report``, every figure defined exactly as in the selectors'
direct computations (their module docstring states the definitions), read from the base
tables (orders, ledger, members, actions, redemptions, cash-back, tiers), never from the
rollups.

Meant for small shops: the counted orders of the shop up to the period's end and the
ledger entries from the period's start are loaded into memory (a few columns each), so
the cost grows with the shop's history. A shop of any size belongs on PostgreSQL.
``tests/analytics/test_portable.py`` proves this module and the PostgreSQL report equal,
figure by figure, on the hand-checked datasets of ``tests/analytics``.

The selectors that are plain ORM queries (point value, pending points, redemptions per
reward, tiers, cash-back) run on every database and are shared, so each of those figures
has one definition; ``selectors.report_assemble`` puts the ``Report`` together for both.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet

from loyalty_app.common.time import now
from loyalty_app.earning.models import ActionEvent, Order
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Redemption
from loyalty_app.shops.models import Shop

from .periods import Period
from .selectors import (
    EARNING_KINDS,
    ISSUED_KINDS,
    RETURN_WINDOWS,
    TAKEN_BACK_KINDS,
    ZERO,
    Behaviour,
    CodeOrders,
    Detail,
    Points,
    PointsDay,
    Report,
    ReturnRow,
    cashback,
    report_assemble,
)

REDEEM_KINDS = ("redemption", "redemption_return")


@dataclass(frozen=True)
class CountedOrder:
    """A counted order as the figures read it (``selectors.COUNTED`` and ``REVENUE``)."""

    id: int
    member_id: int | None
    placed_at: datetime
    revenue: Decimal  # net merchandise, never below 0
    points_target: int

    @property
    def who(self) -> int:
        """The customer: the member, or the negative order id for a guest order."""
        return self.member_id if self.member_id is not None else -self.id


def _counted(*, shop: Shop) -> QuerySet[Order]:
    """The shop's counted orders (``selectors.COUNTED``): paid, neither cancelled nor fully
    refunded, not a test, with a snapshot and a time placed."""
    return Order.objects.filter(
        shop=shop,
        has_snapshot=True,
        test=False,
        paid=True,
        cancelled=False,
        fully_refunded=False,
        placed_at__isnull=False,
    )


def counted_orders(
    *, shop: Shop, before: datetime, since: datetime | None = None
) -> list[CountedOrder]:
    """The shop's counted orders placed before ``before`` (and at or after ``since``).
    One query."""
    rows = _counted(shop=shop).filter(placed_at__lt=before)
    if since is not None:
        rows = rows.filter(placed_at__gte=since)
    return [
        CountedOrder(
            id=pk,
            member_id=member_id,
            placed_at=placed_at,
            revenue=max(eligible - refunded, ZERO),
            points_target=int(target),
        )
        for pk, member_id, placed_at, eligible, refunded, target in rows.values_list(
            "pk", "member_id", "placed_at", "eligible_amount", "refunded_amount", "points_target"
        )
    ]


def joined_before(*, shop: Shop, moment: datetime) -> set[int]:
    """The ids of the shop's customer records that joined or earned before ``moment``: a
    ledger entry, a recorded action or an order with points (pending ones included).
    Three queries."""
    ids: set[int] = set(
        LedgerEntry.objects.filter(shop=shop, created_at__lt=moment)
        .values_list("member_id", flat=True)
        .distinct()
    )
    ids.update(
        ActionEvent.objects.filter(shop=shop, created_at__lt=moment)
        .values_list("member_id", flat=True)
        .distinct()
    )
    ids.update(
        Order.objects.filter(
            shop=shop, member__isnull=False, points_target__gt=0, placed_at__lt=moment
        )
        .values_list("member_id", flat=True)
        .distinct()
    )
    return ids


def members_counts(*, shop: Shop, period: Period, joined: set[int]) -> tuple[int, int]:
    """(members at the period's end, of them whose record was created in the period).
    ``joined``: ``joined_before(period.end)``."""
    created = Member.objects.filter(shop=shop, created_at__lt=period.end).values_list(
        "pk", "created_at"
    )
    total = new = 0
    for pk, created_at in created:
        if pk in joined:
            total += 1
            new += created_at >= period.start
    return total, new


def members_per_day(*, shop: Shop, period: Period) -> dict[date, int]:
    """Customer records created per local day of the period. One query."""
    days: dict[date, int] = defaultdict(int)
    for created_at in Member.objects.filter(
        shop=shop, created_at__gte=period.start, created_at__lt=period.end
    ).values_list("created_at", flat=True):
        days[created_at.astimezone(period.zone).date()] += 1
    return dict(days)


def _days_between(first: datetime, last: datetime) -> Decimal:
    delta = last - first
    seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 10**6
    return seconds / Decimal(86400)


def behaviour(
    *,
    period: Period,
    orders: list[CountedOrder],
    joined: set[int],
    lifetime: bool = True,
) -> tuple[Behaviour, Behaviour, list[int]]:
    """(members, non-members, the ids of the identified non-members who bought), as
    ``selectors.behaviour``. ``orders``: the counted orders placed before the period's end
    (the period's only, when ``lifetime`` is False); ``joined``: ``joined_before(end)``."""
    start = period.start
    by_who: dict[int, list[CountedOrder]] = defaultdict(list)
    for order in orders:
        if order.placed_at >= start or (lifetime and order.member_id is not None):
            by_who[order.who].append(order)
    groups: dict[bool, dict[str, list]] = {
        True: defaultdict(list),
        False: defaultdict(list),
    }
    outsiders: list[int] = []
    for customer_orders in by_who.values():
        in_period = [o for o in customer_orders if o.placed_at >= start]
        if not in_period:
            continue
        member_id = customer_orders[0].member_id
        is_member = member_id is not None and (
            max(o.points_target for o in customer_orders) > 0 or member_id in joined
        )
        group = groups[is_member]
        group["n"].append(len(in_period))
        group["revenue"].append(sum((o.revenue for o in in_period), ZERO))
        group["to_date"].append(sum((o.revenue for o in customer_orders), ZERO))
        if len(customer_orders) >= 2:
            times = [o.placed_at for o in customer_orders]
            group["gaps"].append(_days_between(min(times), max(times)) / (len(times) - 1))
        if member_id is not None and not is_member:
            outsiders.append(member_id)

    def summed(group: dict[str, list]) -> Behaviour:
        gaps = group["gaps"]
        return Behaviour(
            customers=len(group["n"]),
            orders=sum(group["n"]),
            revenue=sum(group["revenue"], ZERO),
            repeat_customers=sum(1 for n in group["n"] if n >= 2),
            revenue_to_date=sum(group["to_date"], ZERO),
            mean_days_between_orders=(
                (sum(gaps, ZERO) / len(gaps)).quantize(Decimal("0.1")) if gaps else None
            ),
            period_days=period.days,
        )

    return summed(groups[True]), summed(groups[False]), sorted(outsiders)


def revenue_per_day(
    *, period: Period, orders: list[CountedOrder], outsiders: list[int]
) -> dict[date, tuple[Decimal, Decimal]]:
    """Local day -> (members' revenue, non-members' revenue) of the period's orders."""
    excluded = set(outsiders)
    days: dict[date, tuple[Decimal, Decimal]] = {}
    for order in orders:
        if not period.start <= order.placed_at < period.end:
            continue
        day = order.placed_at.astimezone(period.zone).date()
        members, others = days.get(day, (ZERO, ZERO))
        if order.member_id is not None and order.member_id not in excluded:
            members += order.revenue
        else:
            others += order.revenue
        days[day] = (members, others)
    return days


def points(*, shop: Shop, period: Period) -> Points:
    """Points by kind written in the period, and the members who earned or redeemed."""
    issued = taken_back = redeemed = expired = 0
    active: set[int] = set()
    for member_id, kind, amount in LedgerEntry.objects.filter(
        shop=shop, created_at__gte=period.start, created_at__lt=period.end
    ).values_list("member_id", "kind", "points"):
        if kind in ISSUED_KINDS and amount > 0:
            issued += amount
        if kind in TAKEN_BACK_KINDS and amount < 0:
            taken_back -= amount
        if kind in REDEEM_KINDS:
            redeemed -= amount
        if kind == "expiry":
            expired -= amount
        if (kind in EARNING_KINDS and amount > 0) or kind == "redemption":
            active.add(member_id)
    return Points(
        issued=issued,
        taken_back=taken_back,
        redeemed=redeemed,
        expired=expired,
        active_members=len(active),
    )


def points_per_day(*, shop: Shop, period: Period) -> list[PointsDay]:
    """Points issued, redeemed and outstanding (the ledger's sum) per local day."""
    outstanding = 0
    by_day: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    for created_at, kind, amount in LedgerEntry.objects.filter(
        shop=shop, created_at__lt=period.end
    ).values_list("created_at", "kind", "points"):
        if created_at < period.start:
            outstanding += amount
            continue
        day = by_day[created_at.astimezone(period.zone).date()]
        day[0] += amount
        if kind in ISSUED_KINDS and amount > 0:
            day[1] += amount
        if kind in REDEEM_KINDS:
            day[2] -= amount
    series = []
    for day in period.day_list():
        net, issued, redeemed = by_day.get(day, (0, 0, 0))
        outstanding += net
        series.append(PointsDay(day=day, issued=issued, redeemed=redeemed, outstanding=outstanding))
    return series


def _used_codes(*, shop: Shop) -> dict[str, list[int]]:
    """Order platform id -> the members whose reward's code it used."""
    used: dict[str, list[int]] = defaultdict(list)
    for order_id, member_id in (
        Redemption.objects.filter(shop=shop)
        .exclude(used_order_id="")
        .values_list("used_order_id", "member_id")
    ):
        used[order_id].append(member_id)
    return used


def code_orders(*, shop: Shop, period: Period) -> CodeOrders:
    """Counted orders placed in the period that used a reward's code, and their revenue."""
    used = _used_codes(shop=shop)
    rows = (
        _counted(shop=shop)
        .filter(
            placed_at__gte=period.start,
            placed_at__lt=period.end,
            external_id__in=list(used),
        )
        .values_list("eligible_amount", "refunded_amount")
        if used
        else []
    )
    revenues = [max(eligible - refunded, ZERO) for eligible, refunded in rows]
    return CodeOrders(orders=len(revenues), revenue=sum(revenues, ZERO))


def coupon_return(
    *, shop: Shop, period: Period, orders: list[CountedOrder], at: datetime | None = None
) -> list[ReturnRow]:
    """As ``selectors.coupon_return``: of the members who used a reward's code in an order
    placed in the period (any such order, counted or not; the first one), how many placed
    another counted order within 30, 60 and 90 days, once the window is over."""
    at = at or now()
    used = _used_codes(shop=shop)
    first_use: dict[int, datetime] = {}
    if used:
        for external_id, placed_at in Order.objects.filter(
            shop=shop,
            external_id__in=list(used),
            placed_at__gte=period.start,
            placed_at__lt=period.end,
        ).values_list("external_id", "placed_at"):
            for member_id in used[external_id]:
                if member_id not in first_use or placed_at < first_use[member_id]:
                    first_use[member_id] = placed_at
    placed: dict[int, list[datetime]] = defaultdict(list)
    for order in orders:
        if order.member_id in first_use:
            placed[order.member_id].append(order.placed_at)
    rows = []
    for days in RETURN_WINDOWS:
        window = timedelta(days=days)
        over = [(m, t) for m, t in first_use.items() if t + window <= at]
        returned = sum(1 for m, t in over if any(t < p <= t + window for p in placed[m]))
        rows.append(ReturnRow(days=days, customers=len(over), returned=returned))
    return rows


def report(*, shop: Shop, period: Period, detail: bool = True) -> Report:
    """Every figure of the period, as ``selectors.report``. ``detail=False`` leaves out
    the day series, tables and tiers (the previous period's headline figures only)."""
    joined = joined_before(shop=shop, moment=period.end)
    members_total, new_members = members_counts(shop=shop, period=period, joined=joined)
    # Orders after the period cannot count; the lifetime columns need the ones before it,
    # and ``coupon_return`` the ones up to 90 days after it.
    reach = period.end + timedelta(days=max(RETURN_WINDOWS)) if detail else period.end
    every = counted_orders(shop=shop, before=reach, since=None if detail else period.start)
    orders = [o for o in every if o.placed_at < period.end]
    members, others, outsiders = behaviour(
        period=period, orders=orders, joined=joined, lifetime=detail
    )
    extra = None
    if detail:
        extra = Detail(
            code_orders=code_orders(shop=shop, period=period),
            coupon_return=coupon_return(shop=shop, period=period, orders=every),
            members_days=members_per_day(shop=shop, period=period),
            revenue_days=revenue_per_day(period=period, orders=orders, outsiders=outsiders),
        )
    return report_assemble(
        shop=shop,
        period=period,
        members_total=members_total,
        new_members=new_members,
        members=members,
        non_members=others,
        guest_orders=sum(1 for o in orders if o.member_id is None and o.placed_at >= period.start),
        points=points(shop=shop, period=period),
        days=points_per_day(shop=shop, period=period),
        cash=cashback(shop=shop, period=period),
        detail=extra,
    )
