"""The embedded admin's reads. Every one is scoped to one shop and sized for a shop with
100,000 members: figures are single aggregate queries, lists are bounded (a limit, or a
keyset on ``id``), and nothing counts a whole table to draw a page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Lower, TruncDate

from loyalty_app.common.time import now
from loyalty_app.earning.models import Campaign, Order, Program
from loyalty_app.imports.models import ImportJob
from loyalty_app.imports.selectors import import_jobs_for_shop
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Reward
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.models import TierProgram

from .models import AuditEntry, WidgetSettings

# Ledger kinds that spend points on a reward. The rewards package writes "redemption".
REDEMPTION_KINDS = ("redemption",)
# Kinds that count as points issued (given to members). Corrections downwards (refunds,
# deductions) are not "issued"; only credits are.
ISSUED_KINDS = (
    LedgerEntry.Kind.ORDER,
    LedgerEntry.Kind.ACTION,
    LedgerEntry.Kind.ADJUSTMENT,
    LedgerEntry.Kind.IMPORT,
)


def widget_settings_get(*, shop: Shop) -> WidgetSettings:
    """The shop's widget settings; an unsaved row with the defaults when it has none."""
    return WidgetSettings.objects.filter(shop=shop).first() or WidgetSettings(shop=shop)


# --- Home -------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One key figure: this period, the period before, and the change in percent."""

    label: str
    current: int
    previous: int

    @property
    def change(self) -> int | None:
        if self.previous == 0:
            return None
        return round((self.current - self.previous) * 100 / self.previous)

    @property
    def trend(self) -> str:
        if self.current > self.previous:
            return "up"
        return "down" if self.current < self.previous else "flat"


@dataclass(frozen=True)
class DayPoints:
    day: date
    issued: int
    redeemed: int


@dataclass(frozen=True)
class HomeFigures:
    period_days: int
    figures: list[Figure]
    days: list[DayPoints]


HOME_FIGURES_TTL_SECONDS = 300


def home_figures_cached(*, shop: Shop, days: int = 30) -> HomeFigures:
    """``home_figures``, computed at most every five minutes per shop: they are 30-day
    trends, and in a shop with a long, busy ledger they take a few hundred milliseconds."""
    key = f"merchant-admin:home-figures:{shop.pk}:{days}"
    figures = cache.get(key)
    if figures is None:
        figures = home_figures(shop=shop, days=days)
        cache.set(key, figures, HOME_FIGURES_TTL_SECONDS)
    return figures


def home_figures(*, shop: Shop, days: int = 30) -> HomeFigures:
    """The key figures of the last ``days`` days against the ``days`` before, and the
    points issued and redeemed per day of the last ``days`` days. Four aggregate queries:
    members, active members (ledger), orders with points (orders), points per day."""
    end = now()
    start = end - timedelta(days=days)
    before = start - timedelta(days=days)
    current, previous = Q(created_at__gte=start), Q(created_at__gte=before, created_at__lt=start)

    members = Member.objects.filter(shop=shop).aggregate(
        total=Count("id"),
        at_start=Count("id", filter=Q(created_at__lt=start)),
        new=Count("id", filter=current),
        new_before=Count("id", filter=previous),
    )
    ledger = LedgerEntry.objects.filter(shop=shop, created_at__gte=before)
    # Distinct members only: a count of distinct order ids here would sort every entry's
    # text id; the orders table answers "orders with points" with a plain count.
    active = ledger.aggregate(
        now=Count("member_id", filter=current, distinct=True),
        before=Count("member_id", filter=previous, distinct=True),
    )
    placed_now, placed_before = (
        Q(placed_at__gte=start),
        Q(placed_at__gte=before, placed_at__lt=start),
    )
    orders = Order.objects.filter(
        shop=shop, placed_at__gte=before, has_snapshot=True, test=False, points_awarded__gt=0
    ).aggregate(now=Count("id", filter=placed_now), before=Count("id", filter=placed_before))
    per_day = (
        ledger.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            issued=Sum("points", filter=Q(kind__in=ISSUED_KINDS, points__gt=0), default=0),
            redeemed=Sum("points", filter=Q(kind__in=REDEMPTION_KINDS), default=0),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in per_day}
    issued_now = issued_before = redeemed_now = redeemed_before = 0
    chart: list[DayPoints] = []
    for offset in range(2 * days, -1, -1):
        day = (end - timedelta(days=offset)).date()
        row = by_day.get(day)
        issued = int(row["issued"]) if row else 0
        redeemed = -int(row["redeemed"]) if row else 0
        # Days are whole UTC days; the first and last are partial, and belong to the
        # period their majority does not matter for a trend line, so split at ``start``.
        if day >= start.date():
            issued_now += issued
            redeemed_now += redeemed
            chart.append(DayPoints(day=day, issued=issued, redeemed=redeemed))
        else:
            issued_before += issued
            redeemed_before += redeemed
    return HomeFigures(
        period_days=days,
        figures=[
            Figure("Members", members["total"], members["at_start"]),
            Figure("New members", members["new"], members["new_before"]),
            Figure("Points issued", issued_now, issued_before),
            Figure("Points redeemed", redeemed_now, redeemed_before),
            Figure("Orders with points", orders["now"], orders["before"]),
            Figure("Active members", active["now"], active["before"]),
        ],
        days=chart,
    )


@dataclass(frozen=True)
class ChecklistStep:
    key: str
    label: str
    done: bool
    url_name: str
    action: str


def onboarding_checklist(*, shop: Shop) -> list[ChecklistStep]:
    """What a new shop still has to do, from facts already stored. One query."""
    exists = {
        "program": Program.objects.filter(shop=OuterRef("pk")),
        "widget": WidgetSettings.objects.filter(shop=OuterRef("pk"), enabled=True),
        "order": Order.objects.filter(shop=OuterRef("pk"), has_snapshot=True, test=False),
        "reward": Reward.objects.filter(shop=OuterRef("pk")),
        "tiers": TierProgram.objects.filter(shop=OuterRef("pk")).exclude(definition__tiers=[]),
    }
    facts = (
        Shop.objects.filter(pk=shop.pk)
        .annotate(**{name: Exists(qs) for name, qs in exists.items()})
        .values(*exists)
        .get()
    )
    steps = [
        ChecklistStep(
            "earn_rate",
            "Review how customers earn points",
            bool(facts["program"]),
            "merchant_admin:program",
            "Review earning",
        ),
    ]
    steps += [
        ChecklistStep(
            "reward",
            "Create a reward",
            bool(facts["reward"]),
            "merchant_admin:rewards",
            "Create a reward",
        ),
        ChecklistStep(
            "tiers", "Define tiers", bool(facts["tiers"]), "merchant_admin:tiers", "Add tiers"
        ),
        ChecklistStep(
            "widget",
            "Turn on the storefront widget",
            bool(facts["widget"]),
            "merchant_admin:settings",
            "Open settings",
        ),
        ChecklistStep(
            "first_order",
            "Receive a first order with points",
            bool(facts["order"]),
            "merchant_admin:activity",
            "See activity",
        ),
    ]
    return steps


# --- Customers ----------------------------------------------------------------------

SEARCH_LIMIT = 50
_DIGITS = re.compile(r"^\d{1,64}$")


@dataclass
class MemberPage:
    members: list[Member]
    next_after: int | None = None
    limited: bool = False
    query: str = ""


def _prefix_range(field_name: str, prefix: str) -> Q:
    """``field`` starts with ``prefix``, written as a range so a b-tree index on the
    (lower-cased) column answers it in any collation; the ``startswith`` keeps it exact."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return Q(**{f"{field_name}__gte": prefix, f"{field_name}__lt": upper}) & Q(
        **{f"{field_name}__startswith": prefix}
    )


def members_search(
    *, shop: Shop, query: str = "", after_id: int | None = None, page_size: int = 25
) -> MemberPage:
    """Find members of ``shop``.

    - no query: every member, newest first, ``page_size`` at a time (keyset on id);
    - an email, or part of one with ``@``: by the start of the email, through the
      (shop, lower(email)) index;
    - digits: the customer id, exactly (unique index), or the start of an email;
    - words: the start of the first name, the last name or the email; two words, first
      and last name in either order.

    A search answers at most ``SEARCH_LIMIT`` members (``limited`` says there may be
    more): the merchant refines it rather than pages through thousands. Nothing here
    counts the shop's members.
    """
    # The stored VIP tier rides along in the same query (a one-to-one LEFT JOIN); the
    # list falls back to a tier imported from a previous program.
    members = Member.objects.filter(shop=shop).annotate(tier_name=F("vip_tier__tier"))
    text = " ".join(query.split())[:254].lower()
    if not text:
        if after_id is not None:
            members = members.filter(pk__lt=after_id)
        rows = list(members.order_by("-pk")[: page_size + 1])
        more = len(rows) > page_size
        rows = rows[:page_size]
        return MemberPage(members=rows, next_after=rows[-1].pk if more else None)
    members = members.annotate(email_lower=Lower("email"))
    if "@" in text:
        condition = _prefix_range("email_lower", text)
        order = ("email_lower", "pk")
    elif _DIGITS.match(text):
        condition = Q(external_id=text) | _prefix_range("email_lower", text)
        order = ("-pk",)
    else:
        members = members.annotate(first_lower=Lower("first_name"), last_lower=Lower("last_name"))
        words = text.split(" ")
        if len(words) == 1:
            condition = (
                _prefix_range("first_lower", text)
                | _prefix_range("last_lower", text)
                | _prefix_range("email_lower", text)
            )
        else:
            first, last = words[0], " ".join(words[1:])
            condition = (
                _prefix_range("first_lower", first) & _prefix_range("last_lower", last)
            ) | (_prefix_range("first_lower", last) & _prefix_range("last_lower", first))
        order = ("-pk",)
    rows = list(members.filter(condition).order_by(*order)[: SEARCH_LIMIT + 1])
    return MemberPage(
        members=rows[:SEARCH_LIMIT], limited=len(rows) > SEARCH_LIMIT, query=query.strip()
    )


def member_for_admin(*, shop: Shop, member_id: int) -> Member | None:
    """One of ``shop``'s members by its row id; another shop's is simply not found."""
    return Member.objects.filter(shop=shop, pk=member_id).first()


@dataclass
class LedgerPage:
    entries: list[LedgerEntry]
    next_before: int | None


def member_ledger_page(
    *, member: Member, before_id: int | None = None, size: int = 25
) -> LedgerPage:
    """A member's ledger, newest first, ``size`` entries from ``before_id`` (keyset on
    id, through the (member, -id) index)."""
    entries = LedgerEntry.objects.filter(shop_id=member.shop_id, member=member)
    if before_id is not None:
        entries = entries.filter(pk__lt=before_id)
    rows = list(entries.order_by("-pk")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return LedgerPage(entries=rows, next_before=rows[-1].pk if more else None)


# --- Activity -------------------------------------------------------------------------

ACTIVITY_KINDS: dict[str, tuple[str, ...]] = {
    "all": (),
    "awards": (LedgerEntry.Kind.ORDER, LedgerEntry.Kind.ACTION),
    "adjustments": (LedgerEntry.Kind.ADJUSTMENT,),
    "expiries": (LedgerEntry.Kind.EXPIRY,),
    "imports": (LedgerEntry.Kind.IMPORT,),
    "redemptions": REDEMPTION_KINDS,
}


@dataclass
class Activity:
    entries: list[LedgerEntry]
    imports: list[ImportJob]
    audit: list[AuditEntry]
    kind: str
    extra: dict[str, Any] = field(default_factory=dict)


def activity_recent(*, shop: Shop, kind: str = "all", limit: int = 50) -> Activity:
    """The newest ledger entries (of one group of kinds, or all), imports and admin
    changes of ``shop``: three bounded queries, members joined in the first."""
    kinds = ACTIVITY_KINDS.get(kind, ())
    # Only the last 90 days: the created_at index bounds the scan in a shop with a long
    # history, and older activity is in each member's ledger.
    entries = LedgerEntry.objects.filter(shop=shop, created_at__gte=now() - timedelta(days=90))
    if kinds:
        entries = entries.filter(kind__in=kinds)
    return Activity(
        entries=list(
            entries.select_related("member")
            .only(
                "id",
                "kind",
                "points",
                "balance_after",
                "reason",
                "actor",
                "source_type",
                "source_id",
                "created_at",
                "member__id",
                "member__email",
                "member__first_name",
                "member__last_name",
                "member__external_id",
            )
            .order_by("-pk")[:limit]
        ),
        imports=list(
            import_jobs_for_shop(shop=shop).defer("rejected_lines", "columns").order_by("-pk")[:10]
        ),
        audit=list(AuditEntry.objects.filter(shop=shop).order_by("-pk")[:limit]),
        kind=kind if kind in ACTIVITY_KINDS else "all",
    )


def campaigns_for_shop(*, shop: Shop) -> list[Campaign]:
    """The shop's campaigns, the ones still to end first (newest start first)."""
    return list(Campaign.objects.filter(shop=shop).order_by("-ends_at", "-pk")[:500])
