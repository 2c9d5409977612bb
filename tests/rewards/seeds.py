"""The members and rewards the redemption tests start from, and the balance they check."""

from __future__ import annotations

from typing import Any

from django.db.models import Sum

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Reward
from loyalty_app.rewards.services import reward_create
from loyalty_app.shops.models import Shop


def member_with(shop: Shop, points: int, customer_id: str | None = "501", **fields: Any) -> Member:
    """A member of `shop` (customer `customer_id`, None for an email-only member) whose
    balance is `points`, as one opening adjustment in the ledger."""
    member = Member.objects.create(
        shop=shop, external_id=customer_id, email=f"{customer_id or 'guest'}@example.com", **fields
    )
    if points:
        ledger_entry_add(
            member=member,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            points=points,
            idempotency_key=f"seed:{member.pk}",
            reason="opening balance",
        )
    return member


def reward(shop: Shop, **data: Any) -> Reward:
    return reward_create(shop=shop, data=data, actor="merchant:test")


def balance(member: Member) -> int:
    """The member's balance, checked against the sum of its ledger (the cache never drifts)."""
    member.refresh_from_db()
    ledger = LedgerEntry.objects.filter(member=member).aggregate(s=Sum("points"))["s"] or 0
    assert ledger == member.points_balance
    return member.points_balance
