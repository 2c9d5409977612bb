"""What each webhook topic means to the engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loyalty_app.actions.services import signup_on_account_created
from loyalty_app.earning.services import order_refund_record, order_sync
from loyalty_app.members.services import member_upsert
from loyalty_app.shops.models import Shop

from .translate import customer_from_payload, purchase_from_payload, refund_from_payload

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


def _order(shop: Shop, payload: Any, actor: str) -> None:
    order_sync(shop=shop, purchase=purchase_from_payload(payload), actor=actor)


def _refund(shop: Shop, payload: Any, actor: str) -> None:
    order_refund_record(shop=shop, refund=refund_from_payload(payload), actor=actor)


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


HANDLERS: dict[str, Callable[[Shop, Any, str], None]] = {
    **dict.fromkeys(ORDER_TOPICS, _order),
    "refunds/create": _refund,
    "customers/create": _customer_created,
    "customers/update": _customer,
}


def webhook_handle(*, shop: Shop, topic: str, payload: Any, actor: str) -> bool:
    """Apply one event. Returns False for topics the engine does not act on (stored only)."""
    handler = HANDLERS.get(topic)
    if handler is None:
        return False
    handler(shop, payload, actor)
    return True
