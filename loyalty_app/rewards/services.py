"""Changing a shop's rewards catalog. Redemption builds on these rows: it checks a
reward's cost, dates, tier, limits and stock, and takes stock under the reward's lock."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from loyalty_app.common.time import now
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.models import TierProgram
from loyalty_app.tiers.selectors import tier_program_current_config

from .models import Reward
from .policies import COMMON_FIELDS, GRANTABLE_KINDS, ConfigError, RewardSpec, reward_from_dict
from .selectors import reward_as_data


def _spec(*, shop: Shop, data: object, reward: Reward | None = None) -> RewardSpec:
    """Every check of a reward: the pure rules, then what needs the catalog."""
    tier_names = [tier.name for tier in tier_program_current_config(shop=shop).tiers]
    try:
        spec = reward_from_dict(data, tz_name=shop.timezone or "UTC", tier_names=tier_names)
    except ConfigError as exc:
        raise ValidationError(exc.errors) from exc
    if spec.punch_reward_id is not None:
        granted = Reward.objects.filter(
            shop=shop, pk=spec.punch_reward_id, archived_at__isnull=True
        ).first()
        if granted is None or (reward is not None and granted.pk == reward.pk):
            raise ValidationError(
                {"punch_reward_id": [f"no reward {spec.punch_reward_id} in this shop's catalog"]}
            )
        if granted.kind not in GRANTABLE_KINDS:
            raise ValidationError(
                {"punch_reward_id": [f"a punch card cannot grant a {granted.kind} reward"]}
            )
    return spec


def _shop_lock(shop: Shop) -> None:
    # The tier services take the same lock: a tier cannot vanish while a reward that
    # requires it is saved.
    Shop.objects.select_for_update().only("id").get(pk=shop.pk)


def reward_create(*, shop: Shop, data: object, actor: str) -> Reward:
    """Add a reward to the shop's catalog. Raises ``ValidationError`` whose
    ``message_dict`` maps field names to messages; nothing is stored then."""
    with transaction.atomic():
        _shop_lock(shop)
        spec = _spec(shop=shop, data=data)
        fields = spec.model_fields()
        return Reward.objects.create(
            shop=shop,
            **fields,
            stock_remaining=spec.stock_total,
            created_by=actor[:200],
            updated_by=actor[:200],
        )


def _merged(reward: Reward, data: object) -> object:
    """The stored reward with the given fields replaced. A change of kind keeps only the
    common fields: the old kind's own fields mean nothing to the new one."""
    if not isinstance(data, dict):
        return data
    stored = reward_as_data(reward)
    if data.get("kind", reward.kind) != reward.kind:
        stored = {name: stored[name] for name in COMMON_FIELDS}
    return {**stored, **data}


def reward_update(*, shop: Shop, reward_id: int, data: object, actor: str) -> Reward:
    """Change some of a reward's fields (the others stay as they are).

    Raises ``Reward.DoesNotExist`` for a reward not in this shop and ``ValidationError``
    for invalid fields or an archived reward. Changing ``stock_total`` moves what is left
    by the same amount; it cannot go below what was already taken.
    """
    with transaction.atomic():
        _shop_lock(shop)
        reward = Reward.objects.select_for_update().get(shop=shop, pk=reward_id)
        if reward.archived_at is not None:
            raise ValidationError({"archived_at": ["an archived reward cannot be changed"]})
        spec = _spec(shop=shop, data=_merged(reward, data), reward=reward)
        remaining = _stock_remaining(reward, spec.stock_total)
        for name, value in spec.model_fields().items():
            setattr(reward, name, value)
        reward.stock_remaining = remaining
        reward.updated_by = actor[:200]
        reward.save()
        return reward


def _stock_remaining(reward: Reward, total: int | None) -> int | None:
    if total is None:
        return None
    if reward.stock_total is None or reward.stock_remaining is None:
        return total  # the count starts when a limit is set
    taken = reward.stock_total - reward.stock_remaining
    if total < taken:
        raise ValidationError(
            {"stock_total": [f"{taken} already taken: the total cannot be below that"]}
        )
    return total - taken


def reward_archive(*, shop: Shop, reward_id: int, actor: str) -> Reward:
    """Take a reward out of the catalog for good; its row stays for its redemptions.

    Archiving twice changes nothing. Refused while a live punch card grants it or a tier
    in force gives it on entry (their members would be promised nothing).
    """
    with transaction.atomic():
        _shop_lock(shop)
        reward = Reward.objects.select_for_update().get(shop=shop, pk=reward_id)
        if reward.archived_at is not None:
            return reward
        errors: dict[str, list[str]] = {}
        cards = list(
            Reward.objects.filter(
                shop=shop, punch_reward=reward, archived_at__isnull=True
            ).values_list("title", flat=True)[:5]
        )
        if cards:
            errors["punch_reward_id"] = [
                f"punch card '{title}' grants this reward: change it first" for title in cards
            ]
        program = TierProgram.objects.filter(shop=shop).order_by("-version").first()
        if program is not None:
            for tier in program.definition.get("tiers", []):
                if (tier.get("entry_reward") or {}).get("reward_id") == reward.pk:
                    errors.setdefault("entry_reward", []).append(
                        f"tier '{tier['name']}' gives this reward on entry: change it first"
                    )
        if errors:
            raise ValidationError(errors)
        reward.archived_at = now()
        reward.active = False
        reward.updated_by = actor[:200]
        reward.save(update_fields=["archived_at", "active", "updated_by", "updated_at"])
        return reward
