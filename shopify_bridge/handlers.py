"""What each webhook topic means to the engine.

A topic's handler has two halves. ``prepare`` turns the payload into what the engine
needs; it may do slow I/O (Admin API lookups of product facts), so the event path runs it
before and outside its transaction. ``apply`` hands the result to the engine inside the
caller's transaction.

An uninstalled shop (``webhook_prepare`` decides):

- ``app/uninstalled`` and the three compliance topics are always processed: the
  platform's privacy duties outlive the install.
- Any other topic (orders, refunds, customers, products) is applied only when it
  happened before the uninstall (a late delivery or a retry of something that took
  place while the app was installed: the shopper bought under the program, so the
  order earns, and is there for the merchant should they come back). One that happened
  after it is stored and left alone ("ignored"), and is not replayed by a re-install:
  the program was not running then. When it happened is the delivery's
  ``X-Shopify-Triggered-At``, else when we received it.

A redacted customer (``customers/redact``) is never identified again: an order webhook
that names their customer id (or, for a redaction that only had an email, their email)
is applied to the anonymized member under its pseudonym, with no email or name, so the
order's points stay in the merchant's accounts and nothing personal is stored again
(the stored payload is scrubbed as it is applied); their customers/* webhooks change
nothing. A customer never a member when redacted stays a guest: their orders earn
nothing for anyone.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty_app.actions.services import signup_on_account_created
from loyalty_app.challenges.selectors import challenges_need_product_facts
from loyalty_app.earning.domain import CustomerRef, Purchase, Refund
from loyalty_app.earning.services import order_refund_record, order_sync
from loyalty_app.members.services import member_upsert
from loyalty_app.privacy.selectors import customer_redaction_find
from loyalty_app.privacy.services import customer_redact, data_request_record, shop_erase
from loyalty_app.rewards.lifecycle import redemptions_mark_used
from loyalty_app.rewards.punch_cards import punch_cards_evaluate, punch_cards_need_collections
from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import shop_uninstall

from .compliance import bridge_shop_forget, webhook_payloads_redact
from .product_facts import (
    product_facts_change,
    product_facts_forget,
    purchase_with_product_facts,
)
from .translate import (
    PayloadError,
    PrivacyRequest,
    ProductChange,
    customer_from_payload,
    customer_redact_from_payload,
    data_request_from_payload,
    product_change_from_payload,
    purchase_from_payload,
    refund_from_payload,
    shop_domain_from_payload,
)

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class _Order:
    purchase: Purchase
    redacted: bool = False


def _unredacted(shop: Shop, customer: CustomerRef) -> CustomerRef | None | bool:
    """The customer to record: ``True`` when not redacted (use the payload's), else the
    anonymized member's pseudonym, or None (redacted without ever being a member)."""
    redaction = customer_redaction_find(
        shop=shop, customer_id=customer.external_id, email=customer.email
    )
    if redaction is None:
        return True
    if redaction.member is None or not redaction.member.external_id:
        return None
    return CustomerRef(external_id=redaction.member.external_id)


def _purchase(shop: Shop, payload: Any) -> _Order:
    purchase = purchase_from_payload(payload)
    redacted = False
    if purchase.customer is not None:
        customer = _unredacted(shop, purchase.customer)
        if customer is not True:
            # Nor the buyer's email, address or card: their hashes were cleared too.
            purchase = dataclasses.replace(
                purchase,
                customer=customer or None,
                email="",
                shipping_fingerprint="",
                payment_fingerprint="",
            )
            redacted = True
    return _Order(purchase_with_product_facts(shop=_facts_shop(shop), purchase=purchase), redacted)


def _facts_shop(shop: Shop) -> Shop:
    """The shop as the product-facts lookup sees it: a punch card counting a collection
    needs the lines' collections stored with the order even when no earning rule uses
    them (the lookup asks the shop's flag, which only the earning rules keep); so does an
    active challenge counting product types or collections."""
    if shop.uses_product_facts or not (
        punch_cards_need_collections(shop=shop) or challenges_need_product_facts(shop=shop)
    ):
        return shop
    needed = copy.copy(shop)
    needed.uses_product_facts = True
    return needed


def _order(shop: Shop, order: _Order, actor: str) -> None:
    """Settle the order's points, then what follows from the order in the same
    transaction: the reward codes it used, and the punch-card fills it completes."""
    synced = order_sync(shop=shop, purchase=order.purchase, actor=actor)
    if not order.purchase.test:
        redemptions_mark_used(
            shop=shop,
            order_id=order.purchase.external_id,
            codes=order.purchase.discount_codes,
            used_at=order.purchase.placed_at,
            actor=actor,
        )
    if synced.member is not None:
        punch_cards_evaluate(shop=shop, member=synced.member, actor=actor)
    if order.redacted:
        # The delivery itself named the redacted customer: scrub it as it is applied.
        webhook_payloads_redact(
            shop=shop, customer_ids=(), emails=(), order_ids=(order.purchase.external_id,)
        )


def _refund(shop: Shop, refund: Refund, actor: str) -> None:
    order_refund_record(shop=shop, refund=refund, actor=actor)


def _refund_of(shop: Shop, payload: Any) -> Refund:
    return refund_from_payload(payload)


def _product_change_of(shop: Shop, payload: Any) -> ProductChange:
    return product_change_from_payload(payload)


def _product_update(shop: Shop, change: ProductChange, actor: str) -> None:
    product_facts_change(shop=shop, change=change)


def _product_delete(shop: Shop, change: ProductChange, actor: str) -> None:
    product_facts_forget(shop=shop, product_id=change.product_id)


@dataclass(frozen=True)
class _RedactedCustomer:
    """A customers/* event of a redacted customer: it changes nothing but is scrubbed."""

    customer_id: str


def _customer_of(shop: Shop, payload: Any) -> Any:
    ref = customer_from_payload(payload)
    if _unredacted(shop, ref) is not True:
        return _RedactedCustomer(ref.external_id)
    return payload


def _redacted_customer_scrub(shop: Shop, payload: Any) -> bool:
    if not isinstance(payload, _RedactedCustomer):
        return False
    webhook_payloads_redact(shop=shop, customer_ids=(payload.customer_id,), emails=(), order_ids=())
    return True


def _customer(shop: Shop, payload: Any, actor: str) -> None:
    if _redacted_customer_scrub(shop, payload):
        return
    member_upsert(shop=shop, customer=customer_from_payload(payload))


def _customer_created(shop: Shop, payload: Any, actor: str) -> None:
    """A new customer; one who created an account in the shop joins the program.

    Joining earns the program's ``signup`` action (when enabled), once per customer id.
    Only ``state: enabled`` is an account the shopper created: a guest checkout or a
    customer the merchant adds is ``disabled`` (or ``invited``) and joins later, by
    email through the API.
    """
    if _redacted_customer_scrub(shop, payload):
        return
    member = member_upsert(shop=shop, customer=customer_from_payload(payload))
    if isinstance(payload, dict) and payload.get("state") == "enabled":
        signup_on_account_created(shop=shop, member=member, source=actor)


def _same_shop(shop: Shop, named: str) -> None:
    """A payload that names another shop than the delivery's is refused: one shop's
    compliance request must never act on another's data."""
    if named and named != shop.domain:
        raise PayloadError(f"payload names shop {named!r}, delivered for {shop.domain!r}")


def _shop_of(shop: Shop, payload: Any) -> Any:
    _same_shop(shop, shop_domain_from_payload(payload))
    return payload


def _uninstall(shop: Shop, payload: Any, actor: str) -> None:
    """The app was removed: the shop is uninstalled at once (token dropped; periodic
    jobs skip it from now on) and the bridge forgets its caches."""
    shop_uninstall(domain=shop.domain)
    bridge_shop_forget(shop=shop)


def _data_request_of(shop: Shop, payload: Any) -> PrivacyRequest:
    request = data_request_from_payload(payload)
    _same_shop(shop, request.shop_domain)
    return request


def _data_request(shop: Shop, request: PrivacyRequest, actor: str) -> None:
    data_request_record(
        shop=shop,
        request_id=request.request_id,
        customer_id=request.customer_id,
        email=request.email,
        order_ids=list(request.order_ids),
    )


def _redaction_of(shop: Shop, payload: Any) -> PrivacyRequest:
    request = customer_redact_from_payload(payload)
    _same_shop(shop, request.shop_domain)
    return request


def _customer_redact(shop: Shop, request: PrivacyRequest, actor: str) -> None:
    """Anonymize the member in the engine, then scrub the stored webhooks about the
    customer and their orders (the redaction request's own payload included)."""
    redaction = customer_redact(
        shop=shop,
        customer_id=request.customer_id,
        email=request.email,
        order_ids=list(request.order_ids),
    )
    webhook_payloads_redact(
        shop=shop,
        customer_ids=(request.customer_id,),
        emails=(request.email,),
        order_ids=(*redaction.order_ids, *request.order_ids),
    )


def _shop_erase(shop: Shop, payload: Any, actor: str) -> None:
    """Erase the shop (``shop_erase``: only when uninstalled, else recorded and
    skipped). The stored webhooks and product facts go with the shop row."""
    erasure = shop_erase(domain=shop.domain, actor=actor)
    if erasure.outcome == erasure.Outcome.ERASED:
        bridge_shop_forget(shop=shop)


@dataclass(frozen=True)
class Handler:
    prepare: Callable[[Shop, Any], Any]
    apply: Callable[[Shop, Any, str], None]


COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
# Processed whatever the shop's state: the uninstall itself and the privacy duties.
ALWAYS_PROCESSED = COMPLIANCE_TOPICS | {"app/uninstalled"}

HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(ORDER_TOPICS, Handler(_purchase, _order)),
    "refunds/create": Handler(_refund_of, _refund),
    "customers/create": Handler(_customer_of, _customer_created),
    # A guest who later creates an account (or activates an invited one) joins then.
    "customers/enable": Handler(_customer_of, _customer_created),
    "customers/update": Handler(_customer_of, _customer),
    "products/update": Handler(_product_change_of, _product_update),
    "products/delete": Handler(_product_change_of, _product_delete),
    "app/uninstalled": Handler(_shop_of, _uninstall),
    "customers/data_request": Handler(_data_request_of, _data_request),
    "customers/redact": Handler(_redaction_of, _customer_redact),
    "shop/redact": Handler(_shop_of, _shop_erase),
}


@dataclass(frozen=True)
class Prepared:
    handler: Handler
    value: Any


def _skipped(shop: Shop, topic: str, occurred_at: datetime | None) -> str:
    """Why an event is not applied (see the module's docstring), or ""."""
    if topic == "app/uninstalled":
        if (
            shop.is_installed
            and occurred_at
            and shop.installed_at
            and (occurred_at < shop.installed_at)
        ):
            # Processed late (a worker outage): the shop was installed again since.
            return "the shop was installed again after this uninstall"
        return ""
    if topic in ALWAYS_PROCESSED or shop.is_installed:
        return ""
    if occurred_at and shop.uninstalled_at and occurred_at < shop.uninstalled_at:
        return ""
    return "the shop is uninstalled"


def webhook_prepare(
    *, shop: Shop, topic: str, payload: Any, occurred_at: datetime | None = None
) -> Prepared | None:
    """The first half: translate (and look up what the payload lacks). None for topics the
    engine does not act on, and for events an uninstalled shop does not take (stored
    only). ``occurred_at``: when the platform sent it (or we received it), if known.
    Raises ``PayloadError`` for a payload that cannot be understood, ``AdminApiError``
    when a lookup fails. No transaction needed."""
    handler = HANDLERS.get(topic)
    if handler is None:
        return None
    reason = _skipped(shop, topic, occurred_at)
    if reason:
        logger.info("%s for %s not applied: %s", topic, shop.domain, reason)
        return None
    return Prepared(handler, handler.prepare(shop, payload))


def webhook_apply(*, shop: Shop, prepared: Prepared, actor: str) -> None:
    """The second half, in the caller's transaction."""
    prepared.handler.apply(shop, prepared.value, actor)


def webhook_handle(
    *, shop: Shop, topic: str, payload: Any, actor: str, occurred_at: datetime | None = None
) -> bool:
    """Both halves at once (tools and tests; the event path runs them around its
    transaction). Returns False for topics the engine does not act on."""
    prepared = webhook_prepare(shop=shop, topic=topic, payload=payload, occurred_at=occurred_at)
    if prepared is None:
        return False
    webhook_apply(shop=shop, prepared=prepared, actor=actor)
    return True
