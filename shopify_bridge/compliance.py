"""What the bridge itself holds about customers and shops, for the compliance duties:
stored webhook payloads (scrubbed when a customer is redacted) and per-shop caches
(forgotten when a shop is uninstalled or erased). The engine's side is in
``loyalty_app.privacy``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q

from loyalty_app.privacy.scrub import PERSONAL_KEYS, personal_scrub
from loyalty_app.shops.models import Shop
from loyalty_app.shops.selectors import shop_cache_forget

from .models import ProductFacts, WebhookEvent

# Shopify's REST objects name people in these fields beyond the generic ones: whole
# customer and address objects, the buyer's browser, checkout notes and attributes,
# line-item properties (engraving text, gift messages).
SHOPIFY_PERSONAL_KEYS = PERSONAL_KEYS | frozenset(
    {
        "customer",
        "billing_address",
        "shipping_address",
        "default_address",
        "addresses",
        "client_details",
        "note_attributes",
        "properties",
        "landing_site",
        "referring_site",
        "customer_locale",
        "token",
        "cart_token",
        "checkout_token",
    }
)
CUSTOMER_TOPICS = ("customers/create", "customers/update", "customers/enable", "customers/disable")
ORDER_TOPIC_PREFIX = "orders/"
PRIVACY_TOPICS = ("customers/redact", "customers/data_request")


def _ints(values: Iterable[str]) -> list[int]:
    return sorted({int(v) for v in values if v and v.isdigit() and len(v) <= 19})


def _scrubbed(topic: str, payload: Any) -> Any:
    if topic in CUSTOMER_TOPICS:
        # A customer object is nothing but the person: only the fact of the event is kept.
        return {"redacted": True}
    data, _cleared = personal_scrub(payload, SHOPIFY_PERSONAL_KEYS)
    if isinstance(data, dict):
        data["redacted"] = True
    return data


def webhook_payloads_redact(
    *, shop: Shop, customer_ids: Iterable[str], emails: Iterable[str], order_ids: Iterable[str]
) -> int:
    """Scrub the personal fields of the shop's stored webhooks about a customer: their
    customer events, the orders and refunds named (by order id, or by the order's
    customer id or email), and the privacy requests that name them. Returns how many
    payloads changed. Only ``shop``'s events are read or written.
    """
    customers = _ints(customer_ids)
    orders = _ints(order_ids)
    addresses = sorted({e.strip().lower() for e in emails if e and e.strip()})
    about = Q()
    if customers:
        about |= Q(topic__in=CUSTOMER_TOPICS, payload__id__in=customers)
        about |= Q(topic__startswith=ORDER_TOPIC_PREFIX, payload__customer__id__in=customers)
        about |= Q(topic__in=PRIVACY_TOPICS, payload__customer__id__in=customers)
    if orders:
        about |= Q(topic__startswith=ORDER_TOPIC_PREFIX, payload__id__in=orders)
        about |= Q(topic="refunds/create", payload__order_id__in=orders)
    for email in addresses:
        about |= Q(topic__in=CUSTOMER_TOPICS, payload__email__iexact=email)
        about |= Q(topic__startswith=ORDER_TOPIC_PREFIX, payload__email__iexact=email)
        about |= Q(topic__in=PRIVACY_TOPICS, payload__customer__email__iexact=email)
    if not about:
        return 0
    changed = 0
    events = WebhookEvent.objects.filter(shop=shop).filter(about).only("pk", "topic", "payload")
    for event in events.iterator(chunk_size=500):
        if isinstance(event.payload, dict) and event.payload.get("redacted") is True:
            continue
        WebhookEvent.objects.filter(pk=event.pk).update(
            payload=_scrubbed(event.topic, event.payload)
        )
        changed += 1
    return changed


def bridge_shop_forget(*, shop: Shop) -> None:
    """Forget what the bridge remembers of a shop that went away: the receiver's shop
    lookup (after the commit, so no request re-caches the old row meanwhile) and the
    freshness of its product facts (no products/update arrives while uninstalled, so
    they are read again from the Admin API once the shop is back)."""
    ProductFacts.objects.filter(shop=shop).update(fetched_at=None)
    domain = shop.domain
    transaction.on_commit(lambda: shop_cache_forget(domain=domain))
