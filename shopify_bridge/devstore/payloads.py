"""Realistic Shopify REST webhook payloads for the demo, the tests and the benchmarks.

The shapes follow Shopify's own samples (see the order, refund and customer
webhooks): money as strings, ``*_set`` price sets with shop and presentment
money, discount allocations per line, gift-card lines, shipping and tax lines.
Amounts given here are in the shop's currency; presentment money is derived
with ``rate``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")

PRODUCTS = [
    ("House Blend Coffee 1kg", "COF-HB-1K", "Coffee", Decimal("24.00")),
    ("Single Origin Ethiopia 250g", "COF-ET-250", "Coffee", Decimal("13.50")),
    ("Pour-Over Kettle", "EQ-KETTLE", "Equipment", Decimal("59.00")),
    ("Ceramic Mug", "MUG-CER", "Merch", Decimal("16.00")),
    ("Burr Grinder", "EQ-GRIND", "Equipment", Decimal("129.99")),
    ("Paper Filters x100", "FLT-100", "Supplies", Decimal("6.49")),
    ("Cold Brew Bottle", "EQ-CB", "Equipment", Decimal("32.00")),
    ("Tote Bag", "MERCH-TOTE", "Merch", Decimal("18.00")),
]
GIFT_CARD = ("Gift Card", "GIFT-25", "Gift Cards", Decimal("25.00"))


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def money_set(amount: Decimal, currency: str, presentment: str, rate: Decimal) -> dict[str, Any]:
    return {
        "shop_money": {"amount": money(amount), "currency_code": currency},
        "presentment_money": {"amount": money(amount * rate), "currency_code": presentment},
    }


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True)
class LineSpec:
    """One order line. ``discount`` is the line's whole discount (all units)."""

    price: Decimal
    quantity: int = 1
    discount: Decimal = Decimal("0")
    gift_card: bool = False
    title: str = "Item"
    sku: str = "SKU"
    product_type: str = ""
    line_id: int | None = None
    product_id: int = 632910392
    variant_id: int = 808950810
    vendor: str = "Demo Roasters"

    def net(self) -> Decimal:
        return self.price * self.quantity - self.discount


def line_id_for(order_id: int, index: int) -> int:
    return order_id * 100 + index + 1


def customer_payload(
    *,
    customer_id: int,
    email: str,
    first_name: str = "Ada",
    last_name: str = "Lovelace",
    currency: str = "USD",
    when: datetime | None = None,
) -> dict[str, Any]:
    moment = iso(when or datetime.now(UTC))
    return {
        "id": customer_id,
        "email": email,
        "accepts_marketing": False,
        "created_at": moment,
        "updated_at": moment,
        "first_name": first_name,
        "last_name": last_name,
        "orders_count": 0,
        "state": "enabled",
        "total_spent": "0.00",
        "last_order_id": None,
        "note": None,
        "verified_email": True,
        "tax_exempt": False,
        "phone": None,
        "tags": "",
        "currency": currency,
        "addresses": [],
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
    }


def order_payload(
    *,
    order_id: int,
    lines: list[LineSpec],
    customer_id: int | None = None,
    email: str = "",
    first_name: str = "Ada",
    last_name: str = "Lovelace",
    currency: str = "USD",
    presentment_currency: str | None = None,
    rate: Decimal = Decimal("1"),
    financial_status: str = "paid",
    cancelled: bool = False,
    test: bool = False,
    shipping: Decimal = Decimal("0"),
    tax_rate: Decimal = Decimal("0"),
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
    refunds: list[dict[str, Any]] | None = None,
    discount_code: str | None = None,
) -> dict[str, Any]:
    """An order as Shopify's orders/* webhooks send it."""
    presentment = presentment_currency or currency
    created = created_at or datetime.now(UTC).replace(microsecond=0)
    updated = updated_at or created
    ms = lambda amount: money_set(amount, currency, presentment, rate)  # noqa: E731

    line_items = []
    for index, spec in enumerate(lines):
        tax = (spec.net() * tax_rate).quantize(CENT)
        line_items.append(
            {
                "id": spec.line_id or line_id_for(order_id, index),
                "admin_graphql_api_id": f"gid://shopify/LineItem/{spec.line_id or line_id_for(order_id, index)}",
                "variant_id": spec.variant_id,
                "product_id": spec.product_id,
                "title": spec.title,
                "name": spec.title,
                "quantity": spec.quantity,
                "current_quantity": spec.quantity,
                "sku": spec.sku,
                "vendor": spec.vendor,
                "fulfillment_service": "manual",
                "requires_shipping": not spec.gift_card,
                "taxable": not spec.gift_card,
                "gift_card": spec.gift_card,
                "product_exists": True,
                "fulfillable_quantity": spec.quantity,
                "grams": 0 if spec.gift_card else 500,
                "price": money(spec.price),
                "price_set": ms(spec.price),
                "total_discount": money(spec.discount),
                "total_discount_set": ms(spec.discount),
                "discount_allocations": (
                    [
                        {
                            "amount": money(spec.discount),
                            "amount_set": ms(spec.discount),
                            "discount_application_index": 0,
                        }
                    ]
                    if spec.discount
                    else []
                ),
                "fulfillment_status": None,
                "properties": [],
                "duties": [],
                "tax_lines": (
                    [
                        {
                            "title": "Sales tax",
                            "price": money(tax),
                            "rate": float(tax_rate),
                            "price_set": ms(tax),
                        }
                    ]
                    if tax
                    else []
                ),
            }
        )
    line_total = sum((s.price * s.quantity for s in lines), Decimal("0"))
    discounts = sum((s.discount for s in lines), Decimal("0"))
    subtotal = line_total - discounts
    tax_total = sum(
        ((s.net() * tax_rate).quantize(CENT) for s in lines if not s.gift_card), Decimal("0")
    )
    total = subtotal + shipping + tax_total
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "email": email,
        "contact_email": email,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "processed_at": iso(created),
        "closed_at": None,
        "number": order_id % 100000,
        "order_number": 1000 + order_id % 100000,
        "name": f"#{1000 + order_id % 100000}",
        "note": None,
        "token": f"tok{order_id}",
        "test": test,
        "confirmed": True,
        "currency": currency,
        "presentment_currency": presentment,
        "financial_status": financial_status,
        "fulfillment_status": None,
        "cancelled_at": iso(updated) if cancelled else None,
        "cancel_reason": "customer" if cancelled else None,
        "taxes_included": False,
        "total_line_items_price": money(line_total),
        "total_line_items_price_set": ms(line_total),
        "total_discounts": money(discounts),
        "total_discounts_set": ms(discounts),
        "subtotal_price": money(subtotal),
        "subtotal_price_set": ms(subtotal),
        "total_shipping_price_set": ms(shipping),
        "total_tax": money(tax_total),
        "total_tax_set": ms(tax_total),
        "total_price": money(total),
        "total_price_set": ms(total),
        "discount_codes": (
            [{"code": discount_code, "amount": money(discounts), "type": "fixed_amount"}]
            if discount_code
            else []
        ),
        "discount_applications": (
            [
                {
                    "type": "discount_code",
                    "value": money(discounts),
                    "value_type": "fixed_amount",
                    "allocation_method": "across",
                    "target_selection": "all",
                    "target_type": "line_item",
                    "code": discount_code or "SAVE",
                }
            ]
            if discounts
            else []
        ),
        "payment_gateway_names": ["shopify_payments"],
        "source_name": "web",
        "tags": "",
        "line_items": line_items,
        "shipping_lines": (
            [
                {
                    "id": order_id * 10 + 1,
                    "title": "Standard",
                    "price": money(shipping),
                    "price_set": ms(shipping),
                    "discounted_price": money(shipping),
                    "discounted_price_set": ms(shipping),
                    "discount_allocations": [],
                    "tax_lines": [],
                }
            ]
            if shipping
            else []
        ),
        "tax_lines": [],
        "refunds": refunds or [],
        "fulfillments": [],
        "customer": (
            {
                "id": customer_id,
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "state": "enabled",
                "verified_email": True,
                "tags": "",
                "currency": currency,
                "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
            }
            if customer_id
            else None
        ),
    }


def refund_payload(
    *,
    refund_id: int,
    order_id: int,
    lines: list[tuple[int, LineSpec, int]],
    currency: str = "USD",
    presentment_currency: str | None = None,
    rate: Decimal = Decimal("1"),
    created_at: datetime | None = None,
    amount_only: Decimal | None = None,
) -> dict[str, Any]:
    """A refunds/create payload. ``lines`` holds (line id, the line's spec, quantity refunded);
    the refunded subtotal is the line's net amount pro rata. ``amount_only`` makes a refund
    of money with no line items."""
    presentment = presentment_currency or currency
    moment = iso(created_at or datetime.now(UTC).replace(microsecond=0))
    refund_line_items = []
    refunded = Decimal("0")
    for index, (line_id, spec, quantity) in enumerate(lines):
        subtotal = (spec.net() * quantity / spec.quantity).quantize(CENT)
        refunded += subtotal
        refund_line_items.append(
            {
                "id": refund_id * 100 + index,
                "line_item_id": line_id,
                "quantity": quantity,
                "restock_type": "return",
                "subtotal": float(subtotal),
                "subtotal_set": money_set(subtotal, currency, presentment, rate),
                "total_tax": 0,
                "total_tax_set": money_set(Decimal("0"), currency, presentment, rate),
                "line_item": {
                    "id": line_id,
                    "title": spec.title,
                    "quantity": spec.quantity,
                    "price": money(spec.price),
                    "sku": spec.sku,
                    "gift_card": spec.gift_card,
                    "total_discount": money(spec.discount),
                },
            }
        )
    if amount_only is not None:
        refunded = amount_only
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": moment,
        "processed_at": moment,
        "note": "",
        "restock": True,
        "user_id": None,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "refund_line_items": refund_line_items,
        "transactions": [
            {
                "id": refund_id * 10,
                "order_id": order_id,
                "amount": money(refunded * rate),
                "kind": "refund",
                "gateway": "shopify_payments",
                "status": "success",
                "currency": presentment,
                "test": False,
            }
        ],
        "order_adjustments": [],
    }


def random_lines(rng: random.Random, *, gift_card_chance: float = 0.05) -> list[LineSpec]:
    """A plausible basket: 1-4 products, sometimes a discount, sometimes a gift card."""
    lines = []
    for title, sku, product_type, price in rng.sample(PRODUCTS, rng.randint(1, 4)):
        quantity = rng.choice([1, 1, 1, 2, 3])
        discount = Decimal("0")
        if rng.random() < 0.3:
            discount = (price * quantity * Decimal(rng.choice([5, 10, 15, 20])) / 100).quantize(
                CENT
            )
        lines.append(
            LineSpec(
                price=price,
                quantity=quantity,
                discount=discount,
                title=title,
                sku=sku,
                product_type=product_type,
            )
        )
    if rng.random() < gift_card_chance:
        title, sku, product_type, price = GIFT_CARD
        lines.append(
            LineSpec(price=price, gift_card=True, title=title, sku=sku, product_type=product_type)
        )
    return lines


def expected_points(lines: list[LineSpec], refunded: Decimal = Decimal("0")) -> int:
    """The default program's points for a paid order (1 per whole unit, gift cards excluded)."""
    net = sum((s.net() for s in lines if not s.gift_card), Decimal("0")) - refunded
    return max(0, int(net // 1))


def shift(moment: datetime, seconds: int) -> datetime:
    return moment + timedelta(seconds=seconds)


# --- a seeded stream of a shop's order webhooks (``manage.py devstore orders``) ----------

ORDER_ID_BASE = 5_000_000_000
CUSTOMER_ID_BASE = 8_000_000_000
REFUND_ID_BASE = 6_000_000_000
STREAM_PRODUCT_ID_BASE = 9_300_000_000
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Frances", "Donald")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Allen", "Knuth")
SHIPPING_PRICES = (Decimal("0"), Decimal("4.99"), Decimal("9.99"))
TAX_RATES = (Decimal("0"), Decimal("0.08"), Decimal("0.20"))
PRICES = (Decimal("6.49"), Decimal("13.50"), Decimal("24.00"), Decimal("32.00"), Decimal("59.00"))


@dataclass(frozen=True)
class StreamProduct:
    """A product a simulated shopper can buy."""

    product_id: int
    title: str
    sku: str
    product_type: str = ""
    vendor: str = "Demo Roasters"
    price: Decimal = Decimal("24.00")


def builtin_products() -> list[StreamProduct]:
    """The small catalogue used when the simulated shop has no products of its own."""
    return [
        StreamProduct(STREAM_PRODUCT_ID_BASE + index, title, sku, product_type, price=price)
        for index, (title, sku, product_type, price) in enumerate(PRODUCTS)
    ]


def product_price(product_id: int) -> Decimal:
    """A stable price for a product that has none of its own (the simulator stores none)."""
    return random.Random(product_id).choice(PRICES)  # noqa: S311 - a demo price, not a secret


@dataclass(frozen=True)
class Delivery:
    """One webhook to send: its topic, body and the webhook id that makes it unique."""

    topic: str
    payload: dict[str, Any]
    webhook_id: str


@dataclass
class OrderStream:
    deliveries: list[Delivery]
    customers: int
    orders: int
    refunds: int


def _stream_lines(rng: random.Random, products: list[StreamProduct]) -> list[LineSpec]:
    lines = []
    for product in rng.sample(products, min(len(products), rng.randint(1, 4))):
        quantity = rng.choice([1, 1, 1, 2, 3])
        discount = Decimal("0")
        if rng.random() < 0.25:
            percent = Decimal(rng.choice([5, 10, 15, 20]))
            discount = (product.price * quantity * percent / 100).quantize(CENT)
        lines.append(
            LineSpec(
                price=product.price,
                quantity=quantity,
                discount=discount,
                title=product.title,
                sku=product.sku,
                product_type=product.product_type,
                product_id=product.product_id,
                variant_id=product.product_id * 10 + 1,
                vendor=product.vendor,
            )
        )
    if rng.random() < 0.05:
        title, sku, product_type, price = GIFT_CARD
        lines.append(
            LineSpec(
                price=price,
                gift_card=True,
                title=title,
                sku=sku,
                product_type=product_type,
                product_id=STREAM_PRODUCT_ID_BASE - 1,
                variant_id=(STREAM_PRODUCT_ID_BASE - 1) * 10 + 1,
            )
        )
    return lines


def order_stream(
    *,
    seed: int,
    count: int,
    customers: int,
    refund_rate: float,
    products: list[StreamProduct],
    when: datetime,
    currency: str = "USD",
) -> OrderStream:
    """``count`` orders of ``customers`` shoppers as a shop would send them: a
    customers/create before a shopper's first order, orders/create (pending) then
    orders/paid for each order, and for about ``refund_rate`` of them a refunds/create
    of part of one line.

    Everything but the timestamps is a function of ``seed`` (ids, shoppers, baskets,
    discounts, shipping, tax, gift cards, refunds), and every webhook id is too, so a
    second run with the same seed is recognised as redeliveries. Timestamps start at
    ``when`` (the orders are placed "now", under the program in force).
    """
    rng = random.Random(seed)  # noqa: S311 - a seeded stream, not a secret
    id_base = seed * 1_000_000
    people = max(1, customers)
    created: set[int] = set()
    deliveries: list[Delivery] = []
    refunds = 0
    for number in range(count):
        moment = when + timedelta(seconds=number)
        index = rng.randrange(people)
        customer_id = CUSTOMER_ID_BASE + id_base + index
        first, last = FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[index % len(LAST_NAMES)]
        email = f"{first}.{last}.{seed}-{index}@example.com".lower()
        if customer_id not in created:
            created.add(customer_id)
            deliveries.append(
                Delivery(
                    "customers/create",
                    customer_payload(
                        customer_id=customer_id,
                        email=email,
                        first_name=first,
                        last_name=last,
                        currency=currency,
                        when=moment,
                    ),
                    f"devstore-{seed}-customer-{index}",
                )
            )
        order_id = ORDER_ID_BASE + id_base + number
        lines = _stream_lines(rng, products)
        details = {
            "order_id": order_id,
            "lines": lines,
            "customer_id": customer_id,
            "email": email,
            "first_name": first,
            "last_name": last,
            "currency": currency,
            "shipping": rng.choice(SHIPPING_PRICES),
            "tax_rate": rng.choice(TAX_RATES),
            "created_at": moment,
            "discount_code": "WELCOME10" if any(line.discount for line in lines) else None,
        }
        deliveries.append(
            Delivery(
                "orders/create",
                order_payload(**details, financial_status="pending"),
                f"devstore-{seed}-order-{number}-create",
            )
        )
        deliveries.append(
            Delivery(
                "orders/paid",
                order_payload(**details, financial_status="paid", updated_at=shift(moment, 1)),
                f"devstore-{seed}-order-{number}-paid",
            )
        )
        refundable = [(i, line) for i, line in enumerate(lines) if not line.gift_card]
        if refundable and rng.random() < refund_rate:
            position, line = rng.choice(refundable)
            refunds += 1
            deliveries.append(
                Delivery(
                    "refunds/create",
                    refund_payload(
                        refund_id=REFUND_ID_BASE + id_base + number,
                        order_id=order_id,
                        lines=[(line_id_for(order_id, position), line, 1)],
                        currency=currency,
                        created_at=shift(moment, 2),
                    ),
                    f"devstore-{seed}-order-{number}-refund",
                )
            )
    return OrderStream(deliveries=deliveries, customers=len(created), orders=count, refunds=refunds)
