"""The embedded admin's writes. Each one makes its change through the owning domain's
service and records an ``AuditEntry`` in the same transaction: a change is never committed
without its audit entry, nor an entry without its change. A save that changes nothing
records nothing."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction

from loyalty_app.earning.models import Campaign, Program
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.earning.services import campaign_delete, campaign_save, program_update
from loyalty_app.ledger.services import LedgerWrite, points_adjust
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Reward
from loyalty_app.rewards.selectors import reward_as_data
from loyalty_app.rewards.services import reward_archive, reward_create, reward_update
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.models import TierProgram
from loyalty_app.tiers.selectors import tier_program_config, tier_program_current
from loyalty_app.tiers.services import tier_program_update

from .models import AuditEntry, WidgetSettings

WIDGET_FIELDS = (
    "enabled",
    "primary_colour",
    "text_colour",
    "launcher_position",
    "launcher_text",
    "panel_title",
    "welcome_text",
)


def audit_entry_add(
    *,
    shop: Shop,
    actor: str,
    action: str,
    object_type: str,
    object_id: object = "",
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Record one change. Call it inside the transaction that makes the change."""
    return AuditEntry.objects.create(
        shop=shop,
        actor=actor[:200],
        action=action[:64],
        object_type=object_type[:64],
        object_id=str(object_id)[:64],
        before=before,
        after=after,
    )


def admin_program_update(*, shop: Shop, data: object, actor: str) -> tuple[Program, bool]:
    """``earning.services.program_update`` (same rules, ``RulesError`` naming the field),
    audited with the program before and after. Returns ``(program, created)``."""
    with transaction.atomic():
        before = program_config(program_current(shop=shop)).to_dict()
        program, created = program_update(shop=shop, data=data, actor=actor)
        if created:
            audit_entry_add(
                shop=shop,
                actor=actor,
                action="program.update",
                object_type="program",
                object_id=program.version,
                before=_changed_keys(before, program.rules, side=0),
                after=_changed_keys(before, program.rules, side=1),
            )
    return program, created


def _changed_keys(before: dict[str, Any], after: dict[str, Any], *, side: int) -> dict[str, Any]:
    """The keys whose value differs, from one side: a summary, not a copy."""
    source = (before, after)[side]
    return {
        k: source.get(k) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)
    }


def admin_campaign_save(
    *, shop: Shop, data: object, actor: str, campaign: Campaign | None = None
) -> Campaign:
    """Create a campaign or replace one's definition (``earning.services.campaign_save``,
    ``RulesError`` naming the field), audited."""
    with transaction.atomic():
        before = dict(campaign.definition) if campaign is not None else None
        saved = campaign_save(shop=shop, data=data, campaign=campaign)
        if before != saved.definition:
            audit_entry_add(
                shop=shop,
                actor=actor,
                action="campaign.create" if before is None else "campaign.update",
                object_type="campaign",
                object_id=saved.pk,
                before=before,
                after=saved.definition,
            )
    return saved


def admin_campaign_delete(*, shop: Shop, campaign: Campaign, actor: str) -> None:
    """Delete one of ``shop``'s campaigns, audited with what it was."""
    if campaign.shop_id != shop.pk:
        raise ValueError("the campaign belongs to another shop")
    with transaction.atomic():
        campaign_id, definition = campaign.pk, dict(campaign.definition)
        campaign_delete(campaign=campaign)
        audit_entry_add(
            shop=shop,
            actor=actor,
            action="campaign.delete",
            object_type="campaign",
            object_id=campaign_id,
            before=definition,
        )


def admin_points_adjust(
    *, shop: Shop, member: Member, points: int, reason: str, idempotency_key: str, actor: str
) -> LedgerWrite:
    """``ledger.services.points_adjust`` for one of ``shop``'s members, audited once: a
    replayed key (a double submit) returns the first entry and records nothing more.
    Raises ``InsufficientPoints``, ``IdempotencyConflict`` and ``ValueError`` as it does."""
    if member.shop_id != shop.pk:
        raise ValueError("the member belongs to another shop")
    with transaction.atomic():
        write = points_adjust(
            member=member,
            points=points,
            reason=reason,
            idempotency_key=f"admin:{idempotency_key}",
            actor=actor,
        )
        if write.created:
            audit_entry_add(
                shop=shop,
                actor=actor,
                action="points.adjust",
                object_type="member",
                object_id=member.pk,
                before={"points_balance": write.entry.balance_after - write.entry.points},
                after={
                    "points_balance": write.entry.balance_after,
                    "points": points,
                    "reason": write.entry.reason,
                    "ledger_entry": write.entry.pk,
                },
            )
    return write


def widget_settings_update(*, shop: Shop, data: dict[str, Any], actor: str) -> WidgetSettings:
    """Replace the shop's widget settings with ``data`` (every field of ``WIDGET_FIELDS``).

    Raises ``ValidationError`` (per field: colours ``#rrggbb``, lengths, position) and
    changes nothing then. The row is locked, so two saves at once apply one after the
    other and each audit entry's "before" is what that save replaced."""
    unknown = set(data) - set(WIDGET_FIELDS)
    if unknown:
        raise ValidationError({name: "unknown field" for name in sorted(unknown)})
    with transaction.atomic():
        WidgetSettings.objects.bulk_create([WidgetSettings(shop=shop)], ignore_conflicts=True)
        row = WidgetSettings.objects.select_for_update().get(shop=shop)
        before = row.summary()
        for name in WIDGET_FIELDS:
            if name in data:
                setattr(row, name, data[name])
        row.full_clean(exclude=["shop"])
        after = row.summary()
        if after != before:
            row.updated_by = actor[:200]
            row.save()
            audit_entry_add(
                shop=shop,
                actor=actor,
                action="widget.update",
                object_type="widget_settings",
                object_id=row.pk,
                before={k: v for k, v in before.items() if after[k] != v},
                after={k: v for k, v in after.items() if before[k] != v},
            )
    return row


def admin_call_retry(*, shop: Shop, call_id: int, actor: str) -> bool:
    """Send one of ``shop``'s failed Admin API calls back to the platform's queue, audited
    in the same transaction. False when the shop has no such call, when it is not a failed
    one, or when the platform keeps no outbox."""
    from .auth import platform_port  # the port module is chosen by settings

    port = platform_port()
    retry = getattr(port, "admin_call_retry", None)
    if retry is None:
        return False
    refused: tuple[type[BaseException], ...] = (ObjectDoesNotExist,)
    not_retryable = getattr(port, "AdminCallNotRetryable", None)
    if isinstance(not_retryable, type) and issubclass(not_retryable, Exception):
        refused += (not_retryable,)
    try:
        with transaction.atomic():
            retry(shop=shop, call_id=call_id, actor=actor)
            audit_entry_add(
                shop=shop,
                actor=actor,
                action="admin_call.retry",
                object_type="admin_api_call",
                object_id=call_id,
                before={"status": "failed"},
                after={"status": "pending"},
            )
    except refused:
        return False
    return True


def admin_tier_program_update(*, shop: Shop, data: object, actor: str) -> tuple[TierProgram, bool]:
    """``tiers.services.tier_program_update`` (``ValidationError`` naming every wrong
    field), audited with the parts of the definition that changed."""
    with transaction.atomic():
        before = tier_program_config(tier_program_current(shop=shop)).to_dict()
        program, created = tier_program_update(shop=shop, data=data, actor=actor)
        if created:
            audit_entry_add(
                shop=shop,
                actor=actor,
                action="tiers.update",
                object_type="tier_program",
                object_id=program.version,
                before=_changed_keys(before, program.definition, side=0),
                after=_changed_keys(before, program.definition, side=1),
            )
    return program, created


def admin_reward_create(*, shop: Shop, data: object, actor: str) -> Reward:
    """``rewards.services.reward_create``, audited."""
    with transaction.atomic():
        reward = reward_create(shop=shop, data=data, actor=actor)
        audit_entry_add(
            shop=shop,
            actor=actor,
            action="reward.create",
            object_type="reward",
            object_id=reward.pk,
            after=_jsonable(reward_as_data(reward)),
        )
    return reward


def admin_reward_update(*, shop: Shop, reward_id: int, data: object, actor: str) -> Reward:
    """``rewards.services.reward_update``, audited with the fields that changed."""
    with transaction.atomic():
        stored = Reward.objects.filter(shop=shop, pk=reward_id).first()
        before = _jsonable(reward_as_data(stored)) if stored is not None else {}
        reward = reward_update(shop=shop, reward_id=reward_id, data=data, actor=actor)
        after = _jsonable(reward_as_data(reward))
        if after != before:
            audit_entry_add(
                shop=shop,
                actor=actor,
                action="reward.update",
                object_type="reward",
                object_id=reward.pk,
                before=_changed_keys(before, after, side=0),
                after=_changed_keys(before, after, side=1),
            )
    return reward


def admin_reward_archive(*, shop: Shop, reward_id: int, actor: str) -> Reward:
    """``rewards.services.reward_archive``, audited (once: archiving again records nothing)."""
    with transaction.atomic():
        was_live = Reward.objects.filter(shop=shop, pk=reward_id, archived_at__isnull=True).exists()
        reward = reward_archive(shop=shop, reward_id=reward_id, actor=actor)
        if was_live:
            audit_entry_add(
                shop=shop,
                actor=actor,
                action="reward.archive",
                object_type="reward",
                object_id=reward.pk,
                before={"title": reward.title, "kind": reward.kind},
            )
    return reward


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (str(v) if not isinstance(v, str | int | bool | list | None) else v)
        for k, v in data.items()
    }
