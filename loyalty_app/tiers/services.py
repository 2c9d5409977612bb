"""Changing a shop's VIP tiers and cash-back settings (a new version each time)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from loyalty_app.rewards.models import Reward
from loyalty_app.shops.models import Shop

from .models import TierProgram
from .policies import ConfigError, TierProgramConfig, tier_program_from_dict


def tier_program_update(*, shop: Shop, data: object, actor: str) -> tuple[TierProgram, bool]:
    """Validate a shop's tiers and cash-back settings and store them as a new version.

    Raises ``ValidationError`` whose ``message_dict`` maps field paths
    (``tiers[1].threshold``) to messages. Saving the definition already in force creates
    nothing (returns the current version and False), so a retried request is harmless.
    Versions are numbered under the shop's row lock, which the reward services take too:
    a tier cannot disappear while a reward that requires it is being saved.
    """
    try:
        config = tier_program_from_dict(data)
    except ConfigError as exc:
        raise ValidationError(exc.errors) from exc
    canonical = config.to_dict()
    with transaction.atomic():
        Shop.objects.select_for_update().only("id").get(pk=shop.pk)
        _catalog_check(shop=shop, config=config)
        current = TierProgram.objects.filter(shop=shop).order_by("-version").first()
        if current is not None and current.definition == canonical:
            return current, False
        program = TierProgram.objects.create(
            shop=shop,
            version=(current.version + 1) if current else 1,
            definition=canonical,
            created_by=actor[:200],
        )
    return program, True


def _catalog_check(*, shop: Shop, config: TierProgramConfig) -> None:
    """Entry rewards name live rewards of this shop; no live reward requires a tier that
    the new definition drops (its shoppers could never redeem it)."""
    errors: dict[str, list[str]] = {}
    wanted = {
        i: tier.entry_reward.reward_id
        for i, tier in enumerate(config.tiers)
        if tier.entry_reward is not None and tier.entry_reward.reward_id is not None
    }
    if wanted:
        live = set(
            Reward.objects.filter(
                shop=shop, pk__in=set(wanted.values()), archived_at__isnull=True
            ).values_list("pk", flat=True)
        )
        for i, reward_id in wanted.items():
            if reward_id not in live:
                errors[f"tiers[{i}].entry_reward.reward_id"] = [
                    f"no reward {reward_id} in this shop's catalog"
                ]
    names = {tier.key for tier in config.tiers}
    stranded = [
        (pk, title, tier)
        for pk, title, tier in Reward.objects.filter(shop=shop, archived_at__isnull=True)
        .exclude(min_tier="")
        .values_list("pk", "title", "min_tier")
        if tier.casefold() not in names
    ]
    if stranded:
        errors["tiers"] = [
            f"reward {pk} '{title}' requires the tier '{tier}': change or archive it first"
            for pk, title, tier in stranded[:5]
        ]
    if errors:
        raise ValidationError(errors)
