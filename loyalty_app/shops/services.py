"""Writes for shops and their API tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from loyalty_app.common.crypto import api_token_digest, api_token_generate
from loyalty_app.common.time import now

from .models import ApiToken, Shop

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
)


def shop_domain_normalize(domain: str) -> str:
    """Lower-case a shop's host name and reject anything that is not one."""
    value = (domain or "").strip().lower()
    value = re.sub(r"^https?://", "", value).rstrip("/")
    if not _HOSTNAME.match(value):
        raise ValidationError({"domain": f"{domain!r} is not a valid shop host name"})
    return value


@dataclass(frozen=True)
class ShopWithToken:
    shop: Shop
    api_token: str
    created: bool


@transaction.atomic
def shop_create(*, domain: str, name: str = "", currency: str = "USD") -> ShopWithToken:
    """Create a shop (or find the existing one) and issue it a new merchant API token.

    Running it twice for one domain is safe: the shop is not duplicated, and each
    call returns a fresh token (earlier tokens stay valid until revoked).
    """
    normalized = shop_domain_normalize(domain)
    currency = (currency or "USD").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValidationError({"currency": "must be an ISO 4217 code such as USD"})
    try:
        with transaction.atomic():
            shop = Shop.objects.create(
                domain=normalized,
                name=name or normalized.split(".")[0],
                currency=currency,
                installed_at=now(),
            )
            created = True
    except IntegrityError:
        shop = Shop.objects.get(domain=normalized)
        created = False
    token = api_token_issue(shop=shop)
    return ShopWithToken(shop=shop, api_token=token, created=created)


def api_token_issue(*, shop: Shop, name: str = "default") -> str:
    """Issue a token; the plain value is returned once and never stored."""
    token = api_token_generate()
    ApiToken.objects.create(shop=shop, digest=api_token_digest(token), name=name)
    return token


def api_token_revoke(*, shop: Shop, token_id: int) -> None:
    ApiToken.objects.filter(shop=shop, pk=token_id, revoked_at__isnull=True).update(
        revoked_at=now()
    )
