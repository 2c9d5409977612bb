"""The dev-store simulator over real HTTP: pytest-django's live server serves it, and the
app's Admin API client (the ShopifyAPI package) is pointed at it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from loyalty_app.common.time import now
from loyalty_app.earning.models import Program
from loyalty_app.shops.models import Shop
from shopify_bridge.devstore.models import DevStore, DevStoreProduct
from shopify_bridge.devstore.services import (
    devstore_fail,
    devstore_install,
    devstore_products_put,
)

COFFEE = 6_001
KETTLE = 6_002
MUG = 6_003
SALE_BEANS = 6_004

SALE = {"id": 450_001, "handle": "sale", "title": "Sale"}
BREWING = {"id": 450_002, "handle": "brewing", "title": "Brewing gear"}

CATALOGUE = [
    {
        "id": COFFEE,
        "title": "House Blend Coffee 1kg",
        "product_type": "Coffee",
        "vendor": "Demo Roasters",
        "tags": ["organic", "beans"],
        "collections": [],
    },
    {
        "id": KETTLE,
        "title": "Pour-Over Kettle",
        "product_type": "Equipment",
        "vendor": "Demo Roasters",
        "tags": ["gear"],
        "collections": [BREWING],
    },
    {
        "id": MUG,
        "title": "Ceramic Mug",
        "product_type": "Merch",
        "vendor": "Demo Roasters",
        "tags": [],
        "collections": [SALE],
    },
    {
        "id": SALE_BEANS,
        "title": "Last Season's Beans",
        "product_type": "Coffee",
        "vendor": "Demo Roasters",
        "tags": ["beans"],
        "collections": [SALE],
    },
]


@dataclass
class Simulator:
    """The simulated Shopify for one test: its URL, and what a test does to it."""

    url: str

    def install(self, shop: Shop) -> str:
        token = devstore_install(shop=shop)
        devstore_products_put(domain=shop.domain, products=CATALOGUE)
        return token

    def products(self, shop: Shop, products: list[dict[str, Any]]) -> None:
        devstore_products_put(domain=shop.domain, products=products)

    def delete(self, shop: Shop, product_id: int) -> None:
        DevStoreProduct.objects.filter(store__domain=shop.domain, product_id=product_id).delete()

    def fail(self, shop: Shop, mode: str, count: int = 1000, slow_ms: int = 0) -> None:
        devstore_fail(domain=shop.domain, mode=mode, count=count, slow_ms=slow_ms)

    def heal(self, shop: Shop) -> None:
        devstore_fail(domain=shop.domain, mode="", count=0)

    def calls(self, shop: Shop) -> int:
        store = DevStore.objects.filter(domain=shop.domain).first()
        return store.api_calls if store else 0


@pytest.fixture
def simulator(live_server: Any, settings: Any) -> Simulator:
    settings.SHOPIFY_ADMIN_API_ORIGIN = live_server.url + "/devstore/{shop}"
    settings.SHOPIFY_ADMIN_API_TIMEOUT_SECONDS = 5
    return Simulator(url=live_server.url)


def program_put(shop_api: Client, rules: dict[str, Any]) -> None:
    """Save the shop's rules through the API, in force since an hour ago (so orders placed
    "now" fall under them whatever the clock's rounding)."""
    response = shop_api.put(
        "/api/v1/program", data=json.dumps(rules), content_type="application/json"
    )
    assert response.status_code in (200, 201), response.content
    Program.objects.all().update(created_at=now() - timedelta(hours=1))
