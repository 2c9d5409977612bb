"""What the engine may ask of the platform outside a webhook: read an order payload as
the platform sends it, and fill in product facts an order or a cart does not carry.

It also tells the embedded merchant admin who is asking (``admin_identity``) and how its
pages are framed. The engine finds this module through ``settings.LOYALTY_PLATFORM_PORT``
and knows it only by the functions here; another platform's bridge would offer the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shopify.utils.shop_url import sanitize_shop_domain

from loyalty_app.earning.domain import Purchase, PurchaseLine
from loyalty_app.shops.models import Shop

from .admin_api import AdminApiError
from .app_proxy import shopper_identity
from .billing import usage_charge_send
from .cashback_delivery import cashback_deliver
from .embedded import admin_frame_ancestors, admin_identity, admin_page_head
from .outbox.selectors import admin_calls_failed_count, admin_calls_recent
from .outbox.services import AdminCallNotRetryable, admin_call_retry
from .product_facts import purchase_with_product_facts
from .referral_delivery import referral_welcome_deliver
from .rewards_delivery import redemption_deliver
from .tier_sync import tier_changes_publish
from .translate import PayloadError, purchase_from_payload


class PlatformUnavailable(Exception):
    """The platform could not answer now (its Admin API failed); try again later."""


def purchase_from_order_payload(*, shop: Shop, payload: Any) -> Purchase:
    """A Shopify order (REST JSON, as order webhooks send it) with its product facts.

    Raises ``ValueError`` naming what is wrong with the payload, or
    ``PlatformUnavailable``."""
    try:
        purchase = purchase_from_payload(payload)
    except PayloadError as exc:
        raise ValueError(str(exc)) from exc
    return _with_facts(shop, purchase)


def lines_with_product_facts(*, shop: Shop, lines: Sequence[PurchaseLine]) -> list[PurchaseLine]:
    """Cart lines with product type, tags and collections filled in where the shop's
    rules use them and the line names a product. Raises ``PlatformUnavailable``."""
    purchase = Purchase(external_id="", currency=shop.currency, lines=tuple(lines))
    return list(_with_facts(shop, purchase).lines)


def _with_facts(shop: Shop, purchase: Purchase) -> Purchase:
    try:
        return purchase_with_product_facts(shop=shop, purchase=purchase)
    except AdminApiError as exc:
        raise PlatformUnavailable(str(exc)) from exc


# The Admin API outbox, as the admin's Activity page shows it: failed calls and a retry.
__all__ = [
    "AdminCallNotRetryable",
    "PlatformUnavailable",
    "admin_call_retry",
    "admin_calls_failed_count",
    "admin_calls_recent",
    "admin_frame_ancestors_for",
    "admin_identity",
    "admin_page_head_for",
    "cashback_deliver",
    "lines_with_product_facts",
    "purchase_from_order_payload",
    "redemption_deliver",
    "referral_welcome_deliver",
    "shopper_identity",
    "tier_changes_publish",
    "usage_charge_send",
]


def admin_page_head_for(*, shop_domain: str, host: str = "") -> dict[str, str]:
    """The App Bridge head for a page shown before the request is authenticated (the
    bounce page), for a shop named only by the query: nothing unless it is a shop
    domain."""
    domain = sanitize_shop_domain(shop_domain or "")
    return admin_page_head(shop_domain=domain, host=host) if domain else {}


def admin_frame_ancestors_for(*, shop_domain: str) -> list[str]:
    domain = sanitize_shop_domain(shop_domain or "")
    return admin_frame_ancestors(shop_domain=domain) if domain else []
