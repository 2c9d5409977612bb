"""Cash-back amounts: pure calculations, no Django, no I/O.

An order's cash-back is ``net merchandise x rate / 100``, rounded once on the order's total
to the currency's minor unit (cents for USD, whole yen for JPY, thousandths for KWD) with
``ROUND_HALF_EVEN``: halves go to the even neighbour, so over many orders rounding favours
neither the shop nor the shoppers. It is recomputed from the order's current state at every
change and only the difference is written, so the entries of an order always add up to the
rounded cash-back of what the shopper kept: rounding never accumulates across refunds.

Net merchandise is the earning's: line amounts after discounts, gift-card lines excluded,
less what was refunded of them; shipping and tax never count. An order that is not paid, or
is cancelled, fully refunded or a test, is worth nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

ZERO = Decimal("0")
HUNDRED = Decimal("100")

# ISO 4217 currencies whose minor unit is not the cent; every other one has two decimals.
_EXPONENTS = {
    **dict.fromkeys(
        ("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()),
        0,
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}


def currency_exponent(currency: str) -> int:
    """Decimals of the currency's minor unit (2 unless ISO 4217 says otherwise)."""
    return _EXPONENTS.get((currency or "").upper(), 2)


def money_quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def money_text(amount: Decimal, currency: str) -> str:
    """The amount as plain decimal text with the currency's decimals ("2.40", "120")."""
    return format(amount.quantize(money_quantum(currency)), "f")


@dataclass(frozen=True)
class OrderState:
    """What the cash-back of an order depends on (the engine's ``Order`` row)."""

    eligible: Decimal  # merchandise after discounts, gift cards excluded
    refunded: Decimal  # merchandise refunded, gift cards excluded
    paid: bool
    cancelled: bool = False
    fully_refunded: bool = False
    test: bool = False
    confirmed: bool = True  # past the return window


def net_merchandise(state: OrderState) -> Decimal:
    """What the shopper kept that earns: zero unless paid and live."""
    if state.test or state.cancelled or state.fully_refunded or not state.paid:
        return ZERO
    return max(ZERO, state.eligible - max(ZERO, state.refunded))


def cashback_amount(*, net: Decimal, rate: Decimal, currency: str) -> Decimal:
    """``rate`` percent of ``net``, rounded half-even to the currency's minor unit."""
    if net <= 0 or rate <= 0:
        return ZERO.quantize(money_quantum(currency))
    return (net * rate / HUNDRED).quantize(money_quantum(currency), rounding=ROUND_HALF_EVEN)


def order_cashback_target(*, state: OrderState, rate: Decimal, currency: str) -> Decimal:
    """What an order's cash-back entries must add up to now. Nothing is owed while the
    order is inside its return window (the same pending window as its points)."""
    if not state.confirmed:
        return ZERO.quantize(money_quantum(currency))
    return cashback_amount(net=net_merchandise(state), rate=rate, currency=currency)


@dataclass(frozen=True)
class CreditSplit:
    """A credit of ``amount`` against an outstanding ``debt``: ``repaid`` settles debt,
    ``sent`` reaches the shopper."""

    repaid: Decimal
    sent: Decimal


def credit_split(*, amount: Decimal, debt: Decimal) -> CreditSplit:
    """The debt rule: a new credit first pays back what earlier reversals could not take
    back from the shop (the shopper had spent the credit); only the rest is sent."""
    if amount <= 0:
        raise ValueError("a credit is positive")
    repaid = min(max(ZERO, debt), amount)
    return CreditSplit(repaid=repaid, sent=amount - repaid)
