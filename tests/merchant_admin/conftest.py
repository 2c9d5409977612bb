"""An embedded-admin client: requests carry an App Bridge session token as the store
admin would send it (query parameter on GET, form field on POST)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import ShopWithToken
from shopify_bridge.embedded import session_token_mint


class AdminClient:
    """Django's test client speaking for one shop's staff user."""

    def __init__(self, shop: Shop, user_id: str = "42") -> None:
        self.shop = shop
        self.user_id = user_id
        self.client = Client()

    def token(self, **kwargs: Any) -> str:
        return session_token_mint(shop_domain=self.shop.domain, user_id=self.user_id, **kwargs)

    def get(self, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        query = {"shop": self.shop.domain, "id_token": self.token(), **(params or {})}
        return self.client.get(path, query, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        body = {"id_token": self.token(), **(data or {})}
        return self.client.post(f"{path}?shop={self.shop.domain}", body, **kwargs)


@pytest.fixture
def admin(shop: ShopWithToken) -> AdminClient:
    return AdminClient(shop.shop)


@pytest.fixture
def other_admin(other_shop: ShopWithToken) -> AdminClient:
    return AdminClient(other_shop.shop)


def member_create(shop: Shop, n: int, **fields: Any) -> Member:
    values = {
        "external_id": str(7000 + n),
        "email": f"customer{n}@example.com",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
    }
    values.update(fields)
    return Member.objects.create(shop=shop, **values)
