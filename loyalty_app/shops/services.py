"""Writes for shops and their API tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


@transaction.atomic
def shop_install(
    *, domain: str, access_token: str, scopes: str = "", name: str = "", currency: str = ""
) -> tuple[Shop, bool]:
    """Record a completed install (OAuth or token exchange): store the access token and
    mark the shop installed. Returns ``(shop, created)``.

    A re-install finds the existing row, so the shop's program, members and ledger come
    back exactly as they were at uninstall. Idempotent: installing twice with the same
    token changes nothing but ``access_scopes``.
    """
    normalized = shop_domain_normalize(domain)
    if not access_token:
        raise ValidationError({"access_token": "an install needs the platform's access token"})
    shop, created = Shop.objects.select_for_update().get_or_create(
        domain=normalized,
        defaults={
            "name": name or normalized.split(".")[0],
            "currency": (currency or "USD").upper(),
            "installed_at": now(),
        },
    )
    if not created and shop.state != Shop.State.INSTALLED:
        shop.installed_at = now()
        shop.uninstalled_at = None
    shop.state = Shop.State.INSTALLED
    shop.access_token = access_token
    shop.access_scopes = scopes
    if name and not shop.name:
        shop.name = name
    shop.save()
    return shop, created


@transaction.atomic
def shop_uninstall(*, domain: str) -> Shop | None:
    """The app was removed from the shop: mark it uninstalled and drop its access token
    at once. Its data stays (a re-install restores the program) until the platform asks
    for it to be erased. Periodic jobs skip uninstalled shops. Idempotent."""
    shop = Shop.objects.select_for_update().filter(domain=domain.strip().lower()).first()
    if shop is None:
        return None
    if shop.state != Shop.State.UNINSTALLED:
        shop.state = Shop.State.UNINSTALLED
        shop.uninstalled_at = now()
    shop.access_token_encrypted = ""
    shop.save(update_fields=["state", "uninstalled_at", "access_token_encrypted"])
    return shop


@transaction.atomic
def shop_profile_update(
    *, shop: Shop, name: str = "", currency: str = "", timezone: str = ""
) -> Shop:
    """What the platform says of the shop now: its name, currency (ISO 4217) and IANA
    time zone, which the program's money and calendar (campaigns, birthdays, tier
    years) follow. Values that are empty or not valid keep what was stored."""
    locked = Shop.objects.select_for_update().get(pk=shop.pk)
    if name:
        locked.name = name[:255]
    if currency and re.fullmatch(r"[A-Za-z]{3}", currency):
        locked.currency = currency.upper()
    if timezone and _known_timezone(timezone):
        locked.timezone = timezone
    locked.save(update_fields=["name", "currency", "timezone"])
    return locked


def _known_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
