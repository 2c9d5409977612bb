from __future__ import annotations

from loyalty_app.shops.models import Shop

from .models import Member, MemberEvent


def member_get(*, shop: Shop, external_id: str) -> Member | None:
    """The member of ``shop`` with this customer id; never another shop's.

    An id that no member can have (too long, or with a NUL, which PostgreSQL's text
    columns refuse) is simply not found.
    """
    external_id = str(external_id)
    if not external_id or len(external_id) > 64 or "\x00" in external_id:
        return None
    return Member.objects.filter(shop=shop, external_id=external_id).first()


def member_events_after(
    *, shop: Shop, after_id: int = 0, kind: str | None = None, limit: int = 100
) -> list[MemberEvent]:
    """The shop's member events with an id above ``after_id``, oldest first: a consumer
    keeps the last id it handled and asks again from there."""
    events = MemberEvent.objects.filter(shop=shop, pk__gt=after_id).select_related("member")
    if kind:
        events = events.filter(kind=kind)
    return list(events.order_by("pk")[:limit])
