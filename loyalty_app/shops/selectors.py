from __future__ import annotations

import time

from loyalty_app.common.crypto import api_token_digest

from .models import ApiToken, Shop


def shop_by_domain(*, domain: str) -> Shop | None:
    return Shop.objects.filter(domain=domain.strip().lower()).first()


_BY_DOMAIN: dict[str, tuple[float, Shop]] = {}
_BY_DOMAIN_TTL = 30.0


def shop_by_domain_cached(*, domain: str) -> Shop | None:
    """``shop_by_domain`` remembered for 30 s in this process, for the webhook receiver's
    hot path. Callers must not rely on fields that change (state, tokens); a shop
    deleted meanwhile surfaces as a failed insert that the caller checks."""
    key = domain.strip().lower()
    hit = _BY_DOMAIN.get(key)
    moment = time.monotonic()
    if hit is not None and hit[0] > moment:
        return hit[1]
    shop = shop_by_domain(domain=key)
    if shop is not None:  # an unknown shop is looked up again next time
        if len(_BY_DOMAIN) > 10_000:
            _BY_DOMAIN.clear()
        _BY_DOMAIN[key] = (moment + _BY_DOMAIN_TTL, shop)
    return shop


def shop_cache_forget(*, domain: str) -> None:
    _BY_DOMAIN.pop(domain.strip().lower(), None)


def shop_by_api_token(*, token: str) -> Shop | None:
    row = (
        ApiToken.objects.select_related("shop")
        .filter(digest=api_token_digest(token), revoked_at__isnull=True)
        .first()
    )
    return row.shop if row else None
