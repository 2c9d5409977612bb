"""The widget's endpoints called as Shopify's app proxy calls them: a signed query naming
the shop and the logged-in customer."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import caches
from django.test import Client

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.merchant_admin.models import WidgetSettings
from loyalty_app.shops.models import Shop
from loyalty_app.widget.selectors import shop_program_forget
from shopify_bridge.devstore.storefront import app_proxy_query


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # The counters live in Redis (this run's own database) when REDIS_URL is set.
    caches["ratelimit"].clear()
    # Each test changes its shop's program as it goes: nothing kept from a moment before.
    shop_program_forget()


class ProxyClient:
    """Requests to ``/proxy/<path>`` signed as the app proxy signs them."""

    def __init__(self, client: Client, shop: str) -> None:
        self.client = client
        self.shop = shop

    def url(self, path: str, *, customer: str = "", shop: str | None = None, **params: Any) -> str:
        query = app_proxy_query(
            shop=shop or self.shop,
            customer_id=customer,
            extra=[(k, str(v)) for k, v in params.items()],
        )
        return f"/proxy/{path}?{urlencode(query)}"

    def get(self, path: str, *, customer: str = "", shop: str | None = None, **params: Any) -> Any:
        return self.client.get(self.url(path, customer=customer, shop=shop, **params))

    def post(
        self, path: str, data: dict[str, Any], *, customer: str = "", shop: str | None = None
    ) -> Any:
        return self.client.post(
            self.url(path, customer=customer, shop=shop),
            data=json.dumps(data),
            content_type="application/json",
        )


@pytest.fixture
def proxy(client: Client, shop: Any) -> ProxyClient:
    return ProxyClient(client, shop.shop.domain)


@pytest.fixture
def widget_on(shop: Any) -> WidgetSettings:
    return WidgetSettings.objects.create(shop=shop.shop, enabled=True, primary_colour="#123456")


def member_with_points(shop: Shop, customer_id: str, points: int, *, email: str = "") -> Member:
    member = Member.objects.create(
        shop=shop, external_id=customer_id, email=email or f"c{customer_id}@example.com"
    )
    if points:
        ledger_entry_add(
            member=member,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            points=points,
            idempotency_key=f"test-grant:{customer_id}",
            reason="Welcome gift",
        )
        member.refresh_from_db()
    return member
