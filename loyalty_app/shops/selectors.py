from __future__ import annotations

from loyalty_app.common.crypto import api_token_digest

from .models import ApiToken, Shop


def shop_by_domain(*, domain: str) -> Shop | None:
    return Shop.objects.filter(domain=domain.strip().lower()).first()


def shop_by_api_token(*, token: str) -> Shop | None:
    row = (
        ApiToken.objects.select_related("shop")
        .filter(digest=api_token_digest(token), revoked_at__isnull=True)
        .first()
    )
    return row.shop if row else None
