"""Merchandise amounts of an order and its refunds, and the default program's formula.

Pure: no Django, no platform, no I/O. The engine computes points with
``earning.rules.order_breakdown`` (the shop's configured rules); ``order_points`` is
the default program written out plainly, kept as the reference that the rules
engine's defaults are property-tested against (``tests/earning/test_rules.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from .domain import PurchaseLine, Refund

ZERO = Decimal("0")


@dataclass(frozen=True)
class EarnRule:
    """The default program: 1 point per whole unit of currency, rounded down."""

    points_per_unit: Decimal = Decimal("1")


DEFAULT_RULE = EarnRule()


def eligible_amount(lines: Iterable[PurchaseLine]) -> Decimal:
    """Merchandise after discounts; gift-card lines (buying a gift card) excluded."""
    return sum((line.amount for line in lines if not line.gift_card), ZERO)


def refunded_amount(refunds: Iterable[Refund]) -> Decimal:
    """Merchandise refunded; refunds of gift-card lines excluded."""
    total = ZERO
    for refund in refunds:
        total += sum((line.amount for line in refund.lines if not line.gift_card), ZERO)
        total += refund.extra_amount
    return total


def order_points(
    *,
    eligible: Decimal,
    refunded: Decimal,
    paid: bool,
    cancelled: bool = False,
    fully_refunded: bool = False,
    test: bool = False,
    rule: EarnRule = DEFAULT_RULE,
) -> int:
    """Points an order is worth now. Never negative; zero unless paid and live."""
    if test or cancelled or fully_refunded or not paid:
        return 0
    net = max(ZERO, eligible - max(ZERO, refunded))
    return int((net * rule.points_per_unit).to_integral_value(rounding=ROUND_FLOOR))
