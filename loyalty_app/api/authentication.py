"""Merchant API authentication: ``Authorization: Bearer <api_token>`` names one shop."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from loyalty_app.shops.models import Shop
from loyalty_app.shops.selectors import shop_by_api_token


class ShopPrincipal:
    """The authenticated caller: a shop's API token. Every query is scoped to ``shop``."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    def __str__(self) -> str:
        return f"api:{self.shop.domain}"


class ShopTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ShopPrincipal, Shop] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            raise exceptions.AuthenticationFailed("expected 'Authorization: Bearer <api_token>'")
        shop = shop_by_api_token(token=parts[1])
        if shop is None:
            raise exceptions.AuthenticationFailed("invalid or revoked API token")
        return ShopPrincipal(shop), shop

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class IsShopAuthenticated(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, ShopPrincipal)


class ShopTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "loyalty_app.api.authentication.ShopTokenAuthentication"
    name = "ShopToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A shop's merchant API token"}
