"""Reading the cash-back ledger: a member's account, and the shop's totals per tier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, Sum

from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

from .models import CashbackAccount, CashbackDelivery, CashbackEntry
from .policies import ZERO, money_quantum

MAX_ENTRIES = 200


@dataclass(frozen=True)
class MemberCashback:
    currency: str
    credited: Decimal
    reversed: Decimal  # positive: the sum of the reversals' magnitudes
    outstanding_debt: Decimal
    deliveries_failed: int
    entries: list[CashbackEntry]

    @property
    def net(self) -> Decimal:
        return self.credited - self.reversed


def _money(value: Decimal | None, currency: str) -> Decimal:
    return (value or ZERO).quantize(money_quantum(currency))


def member_cashback(*, shop: Shop, member: Member, limit: int = 100) -> MemberCashback:
    """A member's cash-back in the shop's currency: totals, debt, and the latest entries
    (newest first, each with its delivery). ``member`` must be the shop's (the caller found
    it through ``member_get``); every query is filtered on both anyway."""
    currency = (shop.currency or "USD").upper()
    entries = CashbackEntry.objects.filter(shop=shop, member=member, currency=currency)
    totals = entries.aggregate(
        credited=Sum("amount", filter=Q(kind=CashbackEntry.Kind.CREDIT)),
        reversed=Sum("amount", filter=Q(kind=CashbackEntry.Kind.REVERSAL)),
    )
    debt = (
        CashbackAccount.objects.filter(shop=shop, member=member, currency=currency)
        .values_list("debt", flat=True)
        .first()
    )
    failed = CashbackDelivery.objects.filter(
        shop=shop, member=member, status=CashbackDelivery.Status.FAILED
    ).count()
    latest = list(
        entries.select_related("delivery").order_by("-id")[: max(1, min(limit, MAX_ENTRIES))]
    )
    return MemberCashback(
        currency=currency,
        credited=_money(totals["credited"], currency),
        reversed=_money(-(totals["reversed"] or ZERO), currency),
        outstanding_debt=_money(debt, currency),
        deliveries_failed=failed,
        entries=latest,
    )


@dataclass(frozen=True)
class TierTotals:
    tier: str | None
    credited: Decimal
    reversed: Decimal
    orders: int

    @property
    def net(self) -> Decimal:
        return self.credited - self.reversed


@dataclass(frozen=True)
class ShopCashbackSummary:
    currency: str
    credited: Decimal
    reversed: Decimal
    outstanding_debt: Decimal
    tiers: list[TierTotals]

    @property
    def net(self) -> Decimal:
        return self.credited - self.reversed


def shop_cashback_summary(
    *, shop: Shop, start: datetime | None = None, end: datetime | None = None
) -> ShopCashbackSummary:
    """Cash-back credited and reversed by the shop's entries written in ``[start, end)``,
    in total and per tier (the tier whose rate the order earned; None: no tier). One
    aggregate query on the (shop, created_at) index, plus the debt outstanding now."""
    currency = (shop.currency or "USD").upper()
    entries = CashbackEntry.objects.filter(shop=shop, currency=currency)
    if start is not None:
        entries = entries.filter(created_at__gte=start)
    if end is not None:
        entries = entries.filter(created_at__lt=end)
    rows = (
        entries.values("tier_name")
        .annotate(
            credited=Sum("amount", filter=Q(kind=CashbackEntry.Kind.CREDIT)),
            reversed=Sum("amount", filter=Q(kind=CashbackEntry.Kind.REVERSAL)),
            orders=Count("order_external_id", distinct=True),
        )
        .order_by("tier_name")
    )
    tiers = [
        TierTotals(
            tier=row["tier_name"] or None,
            credited=_money(row["credited"], currency),
            reversed=_money(-(row["reversed"] or ZERO), currency),
            orders=row["orders"],
        )
        for row in rows
    ]
    debt = CashbackAccount.objects.filter(shop=shop, currency=currency).aggregate(d=Sum("debt"))
    return ShopCashbackSummary(
        currency=currency,
        credited=_money(sum((t.credited for t in tiers), ZERO), currency),
        reversed=_money(sum((t.reversed for t in tiers), ZERO), currency),
        outstanding_debt=_money(debt["d"], currency),
        tiers=tiers,
    )
