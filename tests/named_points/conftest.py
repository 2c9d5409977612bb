"""Clients for the admin, the widget and the API, and a shop that calls its points stars."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client

from loyalty_app.earning.services import program_update
from loyalty_app.merchant_admin.models import WidgetSettings
from loyalty_app.widget.selectors import shop_program_forget
from tests.merchant_admin.conftest import AdminClient
from tests.widget.conftest import ProxyClient

STARS = {"points_name": {"singular": "star", "plural": "stars"}}


@pytest.fixture(autouse=True)
def _fresh_widget_cache() -> None:
    caches["ratelimit"].clear()
    shop_program_forget()


@pytest.fixture
def admin(shop: Any) -> AdminClient:
    return AdminClient(shop.shop)


@pytest.fixture
def other_admin(other_shop: Any) -> AdminClient:
    return AdminClient(other_shop.shop)


@pytest.fixture
def proxy(client: Client, shop: Any) -> ProxyClient:
    return ProxyClient(client, shop.shop.domain)


@pytest.fixture
def widgets_on(shop: Any, other_shop: Any) -> None:
    for each in (shop, other_shop):
        WidgetSettings.objects.create(shop=each.shop, enabled=True)


def name_points(shop: Any, extra: dict[str, Any] | None = None) -> None:
    """The shop's program, with its points called stars."""
    program_update(shop=shop, data={**STARS, **(extra or {})}, actor="test")
    shop_program_forget()
