"""Who is asking: the storefront widget's shopper, through the platform port.

The platform (``settings.LOYALTY_PLATFORM_PORT``) turns a request into a
``ShopperIdentity`` (for Shopify: a request forwarded by the app proxy, whose signature
covers the shop and the logged-in customer) or raises ``ShopperAuthFailed``. Nothing
else the browser sends (a query parameter, a body field, a cookie) can name the
customer: the widget's views read the customer from the identity only.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings

from loyalty_app.shops.models import Shop


class ShopperAuthFailed(Exception):
    """The request does not carry valid proof that the platform forwarded it."""


@dataclass(frozen=True)
class ShopperIdentity:
    shop: Shop
    customer_id: str  # the platform's customer id; "" for a guest (not logged in)
    path_prefix: str = ""  # where the storefront serves the widget's endpoints

    @property
    def is_guest(self) -> bool:
        return not self.customer_id


def platform_port() -> Any:
    return import_module(settings.LOYALTY_PLATFORM_PORT)


def shopper_identity(request: Any) -> ShopperIdentity:
    """The identity the platform vouches for, or ``ShopperAuthFailed``."""
    identity: ShopperIdentity = platform_port().shopper_identity(request)
    return identity
