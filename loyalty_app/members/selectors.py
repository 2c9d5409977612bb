from __future__ import annotations

from loyalty_app.shops.models import Shop

from .models import Member


def member_get(*, shop: Shop, external_id: str) -> Member | None:
    """The member of ``shop`` with this customer id; never another shop's."""
    return Member.objects.filter(shop=shop, external_id=str(external_id)).first()
