"""Plain domain values a platform bridge hands to the engine. No Django, no platform.

Amounts are ``Decimal`` in the shop's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class CustomerRef:
    external_id: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class PurchaseLine:
    """One line of an order. ``amount`` is price x quantity less its discounts.

    ``product_type``, ``tags`` and ``collections`` are facts of the product that the
    order itself may not carry; the bridge fills them in when the shop's rules use them
    (a collection may be named by several identifiers: id, handle, title).
    """

    line_id: str
    amount: Decimal
    quantity: int = 1
    gift_card: bool = False
    product_id: str = ""
    variant_id: str = ""
    sku: str = ""
    vendor: str = ""
    product_type: str = ""
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefundLine:
    line_id: str
    amount: Decimal
    quantity: int = 1
    gift_card: bool = False


@dataclass(frozen=True)
class Refund:
    """A refund of (part of) an order. Refunds are immutable facts.

    ``extra_amount`` is merchandise money refunded without line items (an amount-only
    refund), already net of shipping and tax.
    """

    external_id: str
    order_external_id: str
    lines: tuple[RefundLine, ...] = ()
    extra_amount: Decimal = Decimal("0")


@dataclass(frozen=True)
class Purchase:
    """An order as the platform says it is now.

    ``updated_at`` orders snapshots of one order: an older snapshot never replaces
    a newer one. ``paid``, ``cancelled``, ``fully_refunded`` and ``test`` only ever
    move one way in a real shop, so the engine keeps them once seen.
    """

    external_id: str
    currency: str
    customer: CustomerRef | None = None
    name: str = ""
    updated_at: datetime | None = None
    placed_at: datetime | None = None
    paid: bool = False
    cancelled: bool = False
    fully_refunded: bool = False
    test: bool = False
    lines: tuple[PurchaseLine, ...] = ()
    shipping: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")
    refunds: tuple[Refund, ...] = field(default_factory=tuple)
    # The discount codes the shopper entered, as typed (a reward's code is matched
    # without regard to case: rewards.lifecycle).
    discount_codes: tuple[str, ...] = ()
    # Who placed it and how, for referral fraud rules. The bridge normalizes them; the
    # engine stores only salted hashes (``earning.fingerprints``), never the text.
    email: str = ""
    shipping_fingerprint: str = ""  # the shipping address, normalized; "" when none
    payment_fingerprint: str = ""  # the card's BIN and last digits; "" when not given
