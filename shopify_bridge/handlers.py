"""What each webhook topic means to the engine.

A topic's handler has two halves. ``prepare`` turns the payload into what the engine
needs; it may do slow I/O (Admin API lookups of product facts), so the event path runs it
before and outside its transaction. ``apply`` hands the result to the engine inside the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loyalty_app.actions.services import signup_on_account_created
from loyalty_app.earning.domain import Purchase, Refund
from loyalty_app.earning.services import order_refund_record, order_sync
from loyalty_app.members.services import member_upsert
from loyalty_app.shops.models import Shop

from .product_facts import (
    product_facts_change,
    product_facts_forget,
    purchase_with_product_facts,
)
from .translate import (
    ProductChange,
    customer_from_payload,
    product_change_from_payload,
    purchase_from_payload,
    refund_from_payload,
)

ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/paid",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)


def _purchase(shop: Shop, payload: Any) -> Purchase:
    return purchase_with_product_facts(shop=shop, purchase=purchase_from_payload(payload))


def _order(shop: Shop, purchase: Purchase, actor: str) -> None:
    order_sync(shop=shop, purchase=purchase, actor=actor)


def _refund(shop: Shop, refund: Refund, actor: str) -> None:
    order_refund_record(shop=shop, refund=refund, actor=actor)


def _refund_of(shop: Shop, payload: Any) -> Refund:
    return refund_from_payload(payload)


def _payload(shop: Shop, payload: Any) -> Any:
    return payload


def _product_change_of(shop: Shop, payload: Any) -> ProductChange:
    return product_change_from_payload(payload)


def _product_update(shop: Shop, change: ProductChange, actor: str) -> None:
    product_facts_change(shop=shop, change=change)


def _product_delete(shop: Shop, change: ProductChange, actor: str) -> None:
    product_facts_forget(shop=shop, product_id=change.product_id)


def _customer(shop: Shop, payload: Any, actor: str) -> None:
    member_upsert(shop=shop, customer=customer_from_payload(payload))


def _customer_created(shop: Shop, payload: Any, actor: str) -> None:
    """A new customer; one who created an account in the shop joins the program.

    Joining earns the program's ``signup`` action (when enabled), once per customer id.
    Only ``state: enabled`` is an account the shopper created: a guest checkout or a
    customer the merchant adds is ``disabled`` (or ``invited``) and joins later, by
    email through the API.
    """
    member = member_upsert(shop=shop, customer=customer_from_payload(payload))
    if isinstance(payload, dict) and payload.get("state") == "enabled":
        signup_on_account_created(shop=shop, member=member, source=actor)


@dataclass(frozen=True)
class Handler:
    prepare: Callable[[Shop, Any], Any]
    apply: Callable[[Shop, Any, str], None]


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(ORDER_TOPICS, Handler(_purchase, _order)),
    "refunds/create": Handler(_refund_of, _refund),
    "customers/create": Handler(_payload, _customer_created),
    # A guest who later creates an account (or activates an invited one) joins then.
    "customers/enable": Handler(_payload, _customer_created),
    "customers/update": Handler(_payload, _customer),
    "products/update": Handler(_product_change_of, _product_update),
    "products/delete": Handler(_product_change_of, _product_delete),
}


@dataclass(frozen=True)
class Prepared:
    handler: Handler
    value: Any


def webhook_prepare(*, shop: Shop, topic: str, payload: Any) -> Prepared | None:
    """The first half: translate (and look up what the payload lacks). None for topics the
    engine does not act on (stored only). Raises ``PayloadError`` for a payload that cannot
    be understood, ``AdminApiError`` when a lookup fails. No transaction needed."""
    handler = HANDLERS.get(topic)
    if handler is None:
        return None
    return Prepared(handler, handler.prepare(shop, payload))


def webhook_apply(*, shop: Shop, prepared: Prepared, actor: str) -> None:
    """The second half, in the caller's transaction."""
    prepared.handler.apply(shop, prepared.value, actor)


def webhook_handle(*, shop: Shop, topic: str, payload: Any, actor: str) -> bool:
    """Both halves at once (tools and tests; the event path runs them around its
    transaction). Returns False for topics the engine does not act on."""
    prepared = webhook_prepare(shop=shop, topic=topic, payload=payload)
    if prepared is None:
        return False
    webhook_apply(shop=shop, prepared=prepared, actor=actor)
    return True
