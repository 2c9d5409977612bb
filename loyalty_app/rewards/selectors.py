"""Reading a shop's rewards catalog."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from loyalty_app.shops.models import Shop

from .models import Reward
from .policies import COMMON_FIELDS, KIND_FIELDS


def rewards_list(*, shop: Shop, include_archived: bool = False) -> QuerySet[Reward]:
    """The shop's rewards in catalog order (position, then creation)."""
    rewards = Reward.objects.filter(shop=shop)
    if not include_archived:
        rewards = rewards.filter(archived_at__isnull=True)
    return rewards.order_by("position", "pk")


def reward_get(*, shop: Shop, reward_id: object) -> Reward | None:
    """One reward of ``shop`` (archived ones too); never another shop's."""
    try:
        pk = int(str(reward_id))
    except ValueError:
        return None
    if not 0 < pk < 2**63:
        return None
    return Reward.objects.filter(shop=shop, pk=pk).first()


def reward_as_data(reward: Reward) -> dict[str, Any]:
    """A reward as the API and the admin form read and write it: the common fields and
    those of its kind (``policies.KIND_FIELDS``), decimals as text, times in ISO 8601 UTC."""
    fields = [*COMMON_FIELDS, *sorted(KIND_FIELDS[reward.kind])]
    data: dict[str, Any] = {}
    for name in fields:
        value = reward.punch_reward_id if name == "punch_reward_id" else getattr(reward, name)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif value is not None and name in ("value", "min_order_amount", "value_per_step"):
            value = _decimal_text(value)
        data[name] = value
    return data


def _decimal_text(value: Any) -> str:
    normalized = value.normalize()
    return str(normalized.quantize(1) if normalized == normalized.to_integral() else normalized)
