"""What the engine may ask of the platform outside a webhook: read an order payload as
the platform sends it, and fill in product facts an order or a cart does not carry.

The engine finds this module through ``settings.LOYALTY_PLATFORM_PORT`` and knows it
only by these two functions; another platform's bridge would offer the same two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loyalty_app.earning.domain import Purchase, PurchaseLine
from loyalty_app.shops.models import Shop

from .admin_api import AdminApiError
from .product_facts import purchase_with_product_facts
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
