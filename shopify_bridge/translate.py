"""Shopify REST webhook payloads -> the engine's domain values.

Shopify sends money as strings ("403.00") and, in older API versions, some refund
amounts as JSON numbers; ``*_set.shop_money`` holds the shop's currency when an
order was paid in another one. Points are always computed on shop money.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty_app.earning.domain import CustomerRef, Purchase, PurchaseLine, Refund, RefundLine

PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
MAX_AMOUNT = Decimal("1e12")


class PayloadError(ValueError):
    """The payload cannot be understood; retrying will not help."""


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be a JSON object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{what} must be a JSON array")
    return value


def _id(value: Any, what: str) -> str:
    if isinstance(value, bool) or value is None:
        raise PayloadError(f"{what} is missing")
    if isinstance(value, int):
        # Same bound as a string id: Shopify's ids are int64; the columns hold 64 characters.
        if not 0 < value < 10**20:
            raise PayloadError(f"{what} must be a positive integer, got {value!r:.40}")
        return str(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 20:
        return value.strip()
    raise PayloadError(f"{what} must be a positive integer, got {value!r:.40}")


def _money(value: Any, what: str) -> Decimal:
    if value is None or value == "":
        return Decimal("0")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise PayloadError(f"{what} must be a decimal amount")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise PayloadError(f"{what} is not a decimal amount: {value!r:.40}") from exc
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise PayloadError(f"{what} is out of range: {value!r:.40}")
    return amount


def _shop_money(obj: dict[str, Any], key: str, what: str) -> Decimal:
    """``obj[key + '_set'].shop_money.amount`` when present, else ``obj[key]``."""
    money_set = obj.get(f"{key}_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        return _money(money_set["shop_money"].get("amount"), f"{what}_set.shop_money.amount")
    return _money(obj.get(key), what)


def _int(value: Any, what: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{what} must be an integer")
    if not 0 <= value < 10**9:
        raise PayloadError(f"{what} is out of range")
    return value


def _time(value: Any, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{what} must be an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadError(f"{what} is not an ISO 8601 timestamp: {value!r:.40}") from exc
    if parsed.tzinfo is None:
        raise PayloadError(f"{what} has no time zone")
    return parsed


def _text(value: Any, limit: int = 255) -> str:
    return value[:limit] if isinstance(value, str) else ""


def customer_from_payload(payload: Any) -> CustomerRef:
    data = _obj(payload, "customer")
    email = _text(data.get("email"), 254)
    return CustomerRef(
        external_id=_id(data.get("id"), "customer.id"),
        email=email if "@" in email else "",
        first_name=_text(data.get("first_name")),
        last_name=_text(data.get("last_name")),
    )


def _line(data: Any, index: int) -> PurchaseLine:
    item = _obj(data, f"line_items[{index}]")
    where = f"line_items[{index}]"
    quantity = _int(item.get("quantity"), f"{where}.quantity", default=1)
    price = _shop_money(item, "price", f"{where}.price")
    if price < 0:
        raise PayloadError(f"{where}.price is negative")
    allocations = item.get("discount_allocations")
    if isinstance(allocations, list):
        discount = sum(
            (
                _shop_money(
                    _obj(a, f"{where}.discount_allocations[]"),
                    "amount",
                    f"{where}.discount_allocations[].amount",
                )
                for a in allocations
            ),
            Decimal("0"),
        )
    else:
        discount = _shop_money(item, "total_discount", f"{where}.total_discount")
    if price * quantity >= MAX_AMOUNT:
        # Each figure is in range, but their product would overflow the stored amounts.
        raise PayloadError(f"{where} amount is out of range: {price} x {quantity}")
    amount = max(Decimal("0"), price * quantity - discount)
    return PurchaseLine(
        line_id=_id(item.get("id"), f"{where}.id"),
        amount=amount,
        quantity=quantity,
        gift_card=bool(item.get("gift_card")),
        product_id=str(item.get("product_id") or ""),
        variant_id=str(item.get("variant_id") or ""),
        sku=_text(item.get("sku")),
        vendor=_text(item.get("vendor")),
    )


def refund_from_payload(payload: Any, order_id: str | None = None) -> Refund:
    data = _obj(payload, "refund")
    order_external_id = order_id or _id(data.get("order_id"), "order_id")
    lines = []
    for index, raw in enumerate(_list(data.get("refund_line_items"), "refund_line_items")):
        item = _obj(raw, f"refund_line_items[{index}]")
        line_item = item.get("line_item") if isinstance(item.get("line_item"), dict) else {}
        amount = _shop_money(item, "subtotal", f"refund_line_items[{index}].subtotal")
        if amount < 0:
            raise PayloadError(f"refund_line_items[{index}].subtotal is negative")
        lines.append(
            RefundLine(
                line_id=str(item.get("line_item_id") or line_item.get("id") or ""),
                amount=amount,
                quantity=_int(
                    item.get("quantity"), f"refund_line_items[{index}].quantity", default=0
                ),
                gift_card=bool(line_item.get("gift_card")),
            )
        )
    extra = Decimal("0")
    if not lines:
        # An amount-only refund: money refunded, less what went back for shipping.
        for index, raw in enumerate(_list(data.get("transactions"), "transactions")):
            tx = _obj(raw, f"transactions[{index}]")
            if tx.get("kind") == "refund" and tx.get("status") == "success":
                extra += abs(_money(tx.get("amount"), f"transactions[{index}].amount"))
        for index, raw in enumerate(_list(data.get("order_adjustments"), "order_adjustments")):
            adj = _obj(raw, f"order_adjustments[{index}]")
            if adj.get("kind") == "shipping_refund":
                extra -= abs(_money(adj.get("amount"), f"order_adjustments[{index}].amount"))
                extra -= abs(
                    _money(adj.get("tax_amount"), f"order_adjustments[{index}].tax_amount")
                )
        extra = max(Decimal("0"), extra)
    if sum((line.amount for line in lines), extra) >= MAX_AMOUNT:
        raise PayloadError("refund total is out of range")
    return Refund(
        external_id=_id(data.get("id"), "refund.id"),
        order_external_id=order_external_id,
        lines=tuple(lines),
        extra_amount=extra,
    )


# An order carries a handful of codes; anything beyond is not a checkout's.
MAX_DISCOUNT_CODES = 50


def _discount_codes(value: Any) -> tuple[str, ...]:
    """``discount_codes[].code``, trimmed, first seen first, without repeats (case-blind).
    An entry that is not an object with a text code is skipped: the codes only serve to
    recognise a reward's code, never to compute points."""
    codes: dict[str, str] = {}
    for entry in _list(value, "discount_codes")[:MAX_DISCOUNT_CODES]:
        code = entry.get("code") if isinstance(entry, dict) else None
        if isinstance(code, str) and code.strip():
            codes.setdefault(code.strip().casefold(), code.strip()[:255])
    return tuple(codes.values())


def _order_email(data: dict[str, Any], customer: CustomerRef | None) -> str:
    """The order's email (``email``, else ``contact_email``), else its customer's."""
    for key in ("email", "contact_email"):
        email = _text(data.get(key), 254).strip()
        if "@" in email:
            return email
    return customer.email if customer is not None else ""


def _collapsed(value: Any) -> str:
    """Lower case, letters and digits only, one space between words."""
    text = _text(value).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def shipping_fingerprint(value: Any) -> str:
    """The shipping address as one normalized text (street, unit, city, postcode, country),
    so "12 Main St." and "12 main st" match; "" when there is no street."""
    if not isinstance(value, dict):
        return ""
    street = _collapsed(value.get("address1"))
    if not street:
        return ""
    parts = [
        street,
        _collapsed(value.get("address2")),
        _collapsed(value.get("city")),
        _collapsed(value.get("zip")).replace(" ", ""),
        _collapsed(value.get("country_code") or value.get("country")),
    ]
    return "|".join(parts)


def payment_fingerprint(value: Any) -> str:
    """The card as ``bin:last4`` from REST ``payment_details`` (``credit_card_bin``, and
    the digits ending ``credit_card_number`` "•••• •••• •••• 4242"); "" unless both are
    there. Only this goes on, to be hashed: never the rest of the card's details."""
    if not isinstance(value, dict):
        return ""
    card_bin = "".join(ch for ch in _text(value.get("credit_card_bin"), 20) if ch.isdigit())
    digits = "".join(ch for ch in _text(value.get("credit_card_number"), 40) if ch.isdigit())
    if not card_bin or len(digits) < 4:
        return ""
    return f"{card_bin}:{digits[-4:]}"


def purchase_from_payload(payload: Any) -> Purchase:
    data = _obj(payload, "order")
    order_id = _id(data.get("id"), "id")
    customer_data = data.get("customer")
    customer = customer_from_payload(customer_data) if customer_data else None
    status = data.get("financial_status")
    status = status if isinstance(status, str) else ""
    currency = _text(data.get("currency"), 3).upper()
    lines = tuple(
        _line(raw, i) for i, raw in enumerate(_list(data.get("line_items"), "line_items"))
    )
    if sum((line.amount for line in lines), Decimal("0")) >= MAX_AMOUNT:
        raise PayloadError("line_items total is out of range")
    refunds = tuple(
        refund_from_payload(raw, order_id=order_id) for raw in _list(data.get("refunds"), "refunds")
    )
    return Purchase(
        external_id=order_id,
        currency=currency,
        customer=customer,
        name=_text(data.get("name"), 64),
        updated_at=_time(data.get("updated_at"), "updated_at"),
        placed_at=_time(data.get("processed_at") or data.get("created_at"), "created_at"),
        paid=status in PAID_STATUSES,
        cancelled=bool(data.get("cancelled_at")),
        fully_refunded=status == "refunded",
        test=bool(data.get("test")),
        lines=lines,
        shipping=_shop_money(data, "total_shipping_price", "total_shipping_price"),
        tax=_shop_money(data, "total_tax", "total_tax"),
        refunds=refunds,
        discount_codes=_discount_codes(data.get("discount_codes")),
        email=_order_email(data, customer),
        shipping_fingerprint=shipping_fingerprint(data.get("shipping_address")),
        payment_fingerprint=payment_fingerprint(data.get("payment_details")),
    )


@dataclass(frozen=True)
class ProductChange:
    """A products/update or products/delete webhook, as far as product facts go.

    Shopify's REST product carries ``product_type`` and ``tags`` (one comma-separated
    string) but not its collections.
    """

    product_id: str
    product_type: str = ""
    tags: tuple[str, ...] = ()
    updated_at: datetime | None = None


def tags_from_text(value: Any) -> tuple[str, ...]:
    """Shopify's REST ``tags`` ("organic, fair trade") as a tuple, order kept, blanks dropped."""
    if isinstance(value, list):
        parts = [str(tag) for tag in value]
    elif isinstance(value, str):
        parts = value.split(",")
    else:
        return ()
    seen: dict[str, None] = {}
    for part in parts:
        tag = part.strip()[:255]
        if tag:
            seen.setdefault(tag, None)
    return tuple(seen)


def product_change_from_payload(payload: Any) -> ProductChange:
    data = _obj(payload, "product")
    return ProductChange(
        product_id=_id(data.get("id"), "id"),
        product_type=_text(data.get("product_type")),
        tags=tags_from_text(data.get("tags")),
        updated_at=_time(data.get("updated_at"), "updated_at"),
    )


@dataclass(frozen=True)
class PrivacyRequest:
    """A compliance webhook about one customer (customers/data_request, customers/redact).

    ``customer_id`` may be "" when the platform only knows the email; one of the two is
    always there. ``request_id`` is the data request's id (data requests only).
    """

    shop_domain: str
    customer_id: str
    email: str
    order_ids: tuple[str, ...]
    request_id: str = ""


def _privacy_request(data: dict[str, Any]) -> PrivacyRequest:
    customer = data.get("customer")
    customer = customer if isinstance(customer, dict) else {}
    raw_id = customer.get("id")
    customer_id = "" if raw_id in (None, "") else _id(raw_id, "customer.id")
    email = _text(customer.get("email"), 254).strip()
    email = email if "@" in email else ""
    if not customer_id and not email:
        raise PayloadError("customer needs an id or an email")
    orders = data.get("orders_to_redact", data.get("orders_requested"))
    order_ids = tuple(
        _id(raw, f"orders[{index}]") for index, raw in enumerate(_list(orders, "orders"))
    )
    return PrivacyRequest(
        shop_domain=_text(data.get("shop_domain")).strip().lower(),
        customer_id=customer_id,
        email=email,
        order_ids=order_ids,
    )


def data_request_from_payload(payload: Any) -> PrivacyRequest:
    """customers/data_request: ``{shop_id, shop_domain, orders_requested, customer:
    {id, email, phone}, data_request: {id}}``."""
    data = _obj(payload, "data request")
    request = _obj(data.get("data_request"), "data_request")
    base = _privacy_request(data)
    return PrivacyRequest(
        shop_domain=base.shop_domain,
        customer_id=base.customer_id,
        email=base.email,
        order_ids=base.order_ids,
        request_id=_id(request.get("id"), "data_request.id"),
    )


def customer_redact_from_payload(payload: Any) -> PrivacyRequest:
    """customers/redact: ``{shop_id, shop_domain, customer: {id, email, phone},
    orders_to_redact}``; the customer may come with only an email."""
    return _privacy_request(_obj(payload, "customer redaction"))


def shop_domain_from_payload(payload: Any) -> str:
    """The shop a compliance or app/uninstalled payload names: ``shop_domain`` (compliance
    topics) or ``myshopify_domain`` (the Shop object of app/uninstalled; its ``domain``
    may be the shop's own custom domain, so it is not read). "" when not given."""
    data = _obj(payload, "shop")
    for key in ("shop_domain", "myshopify_domain"):
        value = _text(data.get(key)).strip().lower()
        if value:
            return value
    return ""
