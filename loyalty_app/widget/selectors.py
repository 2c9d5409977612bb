"""What the storefront widget shows: the program for a guest, a member's standing.

Every read is scoped to the shop of the request's identity and, for a member, to that
member. The member's state is built from a handful of indexed queries (member, pending
points, tier, tier progress, one per enabled action, rewards, the last 20 codes and
the last 20 ledger entries): its cost does not grow with the member's history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty_app.actions.selectors import shop_zone
from loyalty_app.challenges.selectors import widget_challenges
from loyalty_app.earning.domain import PurchaseLine
from loyalty_app.earning.models import ActionEvent
from loyalty_app.earning.points_name import DEFAULT_POINTS_NAME, PointsName
from loyalty_app.earning.policies import ActionRule, ProgramConfig
from loyalty_app.earning.rules import OrderContext, RuleLine, campaign_from_dict, order_breakdown
from loyalty_app.earning.selectors import (
    campaigns_in_force,
    member_points_pending,
    program_config,
    program_current,
)
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.members.selectors import member_get
from loyalty_app.merchant_admin.models import WidgetSettings
from loyalty_app.merchant_admin.selectors import widget_settings_get
from loyalty_app.referrals.selectors import widget_referral_state
from loyalty_app.rewards.models import Redemption, Reward
from loyalty_app.rewards.selectors import rewards_list
from loyalty_app.shops.models import Shop
from loyalty_app.surveys.selectors import survey_prompt
from loyalty_app.tiers.models import MemberTier
from loyalty_app.tiers.policies import TierProgramConfig
from loyalty_app.tiers.selectors import member_tier_progress, tier_program_current_config

HISTORY_LENGTH = 20
CODES_LENGTH = 20
KIND_LABELS = dict(Reward.Kind.choices)
PERIOD_WORDS = {"calendar_year": " in a calendar year", "rolling_12_months": " within 12 months"}


@dataclass(frozen=True)
class ShopProgram:
    """What a shop's widget needs of its configuration, read once per request."""

    settings: WidgetSettings
    program: ProgramConfig
    tiers: TierProgramConfig
    rewards: tuple[Reward, ...]  # the catalog (not archived), in catalog order


# A shop's widget settings, program, tiers and catalog are the same for every shopper:
# each process keeps them CONFIG_TTL_SECONDS, so a busy storefront reads them a few
# times a minute instead of on every request. A merchant's change shows within that time;
# a redemption still checks the reward's current row (stock, dates) under its lock.
CONFIG_TTL_SECONDS = 5.0
_CONFIG: dict[int, tuple[float, ShopProgram]] = {}


def shop_program(*, shop: Shop) -> ShopProgram:
    hit = _CONFIG.get(shop.pk)
    moment = time.monotonic()
    if hit is not None and hit[0] > moment:
        return hit[1]
    config = ShopProgram(
        settings=widget_settings_get(shop=shop),
        program=program_config(program_current(shop=shop)),
        tiers=tier_program_current_config(shop=shop),
        rewards=tuple(rewards_list(shop=shop)),
    )
    if len(_CONFIG) > 10_000:
        _CONFIG.clear()
    _CONFIG[shop.pk] = (moment + CONFIG_TTL_SECONDS, config)
    return config


def shop_program_forget() -> None:
    """Drop every shop's configuration this process keeps (tests start from a clean slate)."""
    _CONFIG.clear()


def widget_member(*, shop: Shop, customer_id: str) -> Member | None:
    """The member the logged-in customer is in this shop (None: a guest, or not joined)."""
    if not customer_id:
        return None
    return member_get(shop=shop, external_id=customer_id)


def _plain(value: Decimal | int) -> str:
    if isinstance(value, int):
        return str(value)
    text = format(value.normalize(), "f")
    return text


def _money(value: Any) -> str:
    """Money as the shop's customers read it: two decimals ("40.00")."""
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return str(value)


def settings_data(widget: WidgetSettings) -> dict[str, Any]:
    return {
        "enabled": widget.enabled,
        "primary_colour": widget.primary_colour,
        "text_colour": widget.text_colour,
        "position": widget.launcher_position,
        "launcher_text": widget.launcher_text,
        "panel_title": widget.panel_title,
        "welcome_text": widget.welcome_text,
    }


def earn_rate_text(program: ProgramConfig, currency: str) -> str:
    rate = program.earn.points_per_unit
    if rate <= 0:
        return ""
    name = program.points_name
    unit = name.singular if rate == 1 else name.plural
    return f"Earn {_plain(rate)} {unit} for every 1.00 {currency} you spend"


def _action_data(rule: ActionRule) -> dict[str, Any]:
    return {"key": rule.key, "label": rule.label, "points": rule.points}


def tiers_data(
    tiers: TierProgramConfig, currency: str, name: PointsName = DEFAULT_POINTS_NAME
) -> list[dict[str, Any]]:
    return [
        {
            "name": tier.name,
            "threshold": (_money(tier.threshold) if tiers.uses_money else _plain(tier.threshold)),
            "requirement": _requirement(tiers, tier.threshold, currency, more=False, name=name),
            "perks": list(tier.perks),
        }
        for tier in tiers.tiers
    ]


def _requirement(
    tiers: TierProgramConfig,
    amount: int | Decimal | str,
    currency: str,
    *,
    more: bool,
    name: PointsName = DEFAULT_POINTS_NAME,
) -> str:
    """ "Spend 40.00 USD", "Earn 500 points" (the shop's name for points), "Place 3
    orders" (with "more" when it is what is missing), over the tier program's period."""
    extra = " more" if more else ""
    if tiers.metric == "amount_spent":
        text = f"Spend {_money(amount)}{extra} {currency}"
    elif tiers.metric == "orders_count":
        count = int(amount)
        text = f"Place {count}{extra} {'order' if count == 1 else 'orders'}"
    else:
        text = f"Earn {amount}{extra} {name.word(int(Decimal(str(amount))))}"
    if not more and tiers.period != "lifetime":
        text += PERIOD_WORDS.get(tiers.period, "")
    return text


def _purchasable(reward: Reward, at: datetime) -> bool:
    if reward.grant_only or reward.kind == Reward.Kind.PUNCH_CARD or not reward.active:
        return False
    if reward.active_from is not None and reward.active_from > at:
        return False
    return reward.active_until is None or reward.active_until > at


def _reward_cost(reward: Reward) -> int:
    if reward.kind == Reward.Kind.VARIABLE_CREDIT:
        return int(reward.min_points or reward.points_per_step or 1)
    return int(reward.points_cost or 0)


def rewards_data(*, config: ShopProgram, at: datetime, balance: int | None) -> list[dict[str, Any]]:
    """The catalog's purchasable rewards. For a member (``balance`` given): those they can
    afford first (cheapest first), then the others by how many points are missing."""
    rows = []
    for reward in config.rewards:
        if not _purchasable(reward, at):
            continue
        cost = _reward_cost(reward)
        item: dict[str, Any] = {
            "id": reward.pk,
            "title": reward.title,
            "description": reward.description,
            "kind": reward.kind,
            "kind_label": KIND_LABELS.get(reward.kind, reward.kind),
            "points": cost,
            "variable": reward.kind == Reward.Kind.VARIABLE_CREDIT,
            "min_tier": reward.min_tier or None,
            "out_of_stock": reward.stock_remaining is not None and reward.stock_remaining <= 0,
        }
        if reward.kind == Reward.Kind.VARIABLE_CREDIT:
            item["points_per_step"] = reward.points_per_step
            item["value_per_step"] = _money(reward.value_per_step or 0)
            item["max_points"] = reward.max_points
        if balance is not None:
            item["missing"] = max(cost - balance, 0)
            item["affordable"] = item["missing"] == 0 and not item["out_of_stock"]
        rows.append(item)
    if balance is not None:
        rows.sort(key=lambda r: (not r["affordable"], r["missing"], r["points"]))
    return rows


def program_data(*, shop: Shop, config: ShopProgram) -> dict[str, Any]:
    """How the program works: what a guest reads before joining."""
    return {
        "enabled": config.program.enabled,
        "currency": shop.currency,
        "earn_rate": earn_rate_text(config.program, shop.currency),
        "ways_to_earn": [_action_data(a) for a in config.program.actions if a.enabled],
        "tiers": tiers_data(config.tiers, shop.currency, config.program.points_name),
        "pending_days": config.program.pending_days,
    }


def member_actions(
    *, shop: Shop, member: Member, program: ProgramConfig, at: datetime
) -> list[dict[str, Any]]:
    """Each enabled action with whether the member can still earn it now.

    The same answer as ``actions.selectors.action_usage`` for each action, from one query:
    the member's awarded events of the actions limited per member (a handful a year,
    since their limits bound them). An action limited per target (a follow per network, a
    review per product) can always earn for a new target, so it is always available."""
    zone = shop_zone(shop)
    rules = [rule for rule in program.actions if rule.enabled]
    counted = [rule.key for rule in rules if not rule.limit.per_target]
    awarded: dict[str, list[datetime]] = {}
    if counted:
        rows = ActionEvent.objects.filter(
            member=member, action__in=counted, status=ActionEvent.Status.AWARDED
        ).values_list("action", "occurred_at")
        for key, occurred_at in rows:
            awarded.setdefault(key, []).append(occurred_at)
    actions = []
    for rule in rules:
        item = _action_data(rule)
        next_at = None
        available = True
        if not rule.limit.per_target:
            start, end = rule.limit.window(at, zone)
            used = sum(
                1
                for moment in awarded.get(rule.key, ())
                if start is None or end is None or start <= moment < end
            )
            available = used < rule.limit.count
            next_at = None if available else end
        item["available"] = available
        item["next_available_at"] = next_at.isoformat() if next_at else None
        if rule.key == "birthday":
            item["birthday_set"] = member.birthday_month is not None
            item["birthday"] = (
                f"{member.birthday_month:02d}-{member.birthday_day:02d}"
                if member.birthday_month is not None and member.birthday_day is not None
                else None
            )
        actions.append(item)
    return actions


def held_tier(*, shop: Shop, member: Member, config: ShopProgram) -> str | None:
    """The tier the member holds: ``tiers.selectors.member_tier_name``'s answer, read
    without asking again for the tier definition this request already holds."""
    if not config.tiers.tiers:
        # No tiers defined: a tier carried over from another program is the member's.
        return member.imported_tier or None
    return (
        MemberTier.objects.filter(shop=shop, member_id=member.pk)
        .values_list("tier", flat=True)
        .first()
    )


def tier_data(*, shop: Shop, member: Member, config: ShopProgram, at: datetime) -> dict | None:
    """The member's tier and the way to the next one ("Spend 40.00 USD more to reach
    Gold"); None when the shop has no tiers and the member carries no imported tier."""
    held = held_tier(shop=shop, member=member, config=config)
    if not config.tiers.tiers:
        return {"name": held, "progress": None} if held else None
    progress = member_tier_progress(shop=shop, member=member, at=at, config=config.tiers)
    name = held or progress["tier"]
    data: dict[str, Any] = {
        "name": name,
        "metric": progress["metric"],
        "value": progress["value"],
        "next_tier": progress["next_tier"],
        "missing": progress["missing"],
        "progress_text": None,
        "percent": 100,
    }
    if progress["next_tier"]:
        missing = _requirement(
            config.tiers,
            progress["missing"],
            shop.currency,
            more=True,
            name=config.program.points_name,
        )
        data["progress_text"] = f"{missing} to reach {progress['next_tier']}"
        threshold = Decimal(str(progress["next_threshold"]))
        value = Decimal(str(progress["value"]))
        data["percent"] = int(min(max(value / threshold * 100, 0), 100)) if threshold else 100
    return data


def member_history(
    *, member: Member, name: PointsName = DEFAULT_POINTS_NAME
) -> list[dict[str, Any]]:
    """The member's last entries; their texts say "points" in the shop's words."""
    entries = (
        LedgerEntry.objects.filter(shop_id=member.shop_id, member=member)
        .only("id", "kind", "points", "reason", "created_at")
        .order_by("-id")[:HISTORY_LENGTH]
    )
    labels = dict(LedgerEntry.Kind.choices)
    return [
        {
            "id": entry.pk,
            "at": entry.created_at.isoformat(),
            "points": entry.points,
            "kind": entry.kind,
            "text": name.rename(entry.reason or labels.get(entry.kind, entry.kind)),
        }
        for entry in entries
    ]


def member_codes(*, member: Member) -> list[dict[str, Any]]:
    """The member's latest redemptions that carry a code (or were given otherwise)."""
    rows = (
        Redemption.objects.filter(shop_id=member.shop_id, member=member)
        .only("id", "kind", "title", "points", "code", "status", "expires_at", "created_at")
        .order_by("-id")[:CODES_LENGTH]
    )
    return [redemption_data(row) for row in rows]


def redemption_data(row: Redemption) -> dict[str, Any]:
    return {
        "id": row.pk,
        "title": row.title,
        "kind": row.kind,
        "points": row.points,
        "code": row.code,
        "status": row.status,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def member_state(
    *, shop: Shop, member: Member, config: ShopProgram, at: datetime
) -> dict[str, Any]:
    """A member's standing: balance, pending points, tier and progress, what they can
    still do, the rewards (affordable first), their codes and their last 20 entries."""
    tier = tier_data(shop=shop, member=member, config=config, at=at)
    balance = int(member.points_balance)
    return {
        "member": {
            "email": member.email,
            "first_name": member.first_name,
            "balance": balance,
            "pending": member_points_pending(member=member),
            "tier": tier,
        },
        "actions": member_actions(shop=shop, member=member, program=config.program, at=at),
        "rewards": rewards_data(config=config, at=at, balance=balance),
        "codes": member_codes(member=member),
        "history": member_history(member=member, name=config.program.points_name),
    }


def widget_state(*, shop: Shop, customer_id: str, at: datetime) -> dict[str, Any]:
    """Everything the widget's panel shows, for a guest, a logged-in customer who has
    not joined, or a member."""
    config = shop_program(shop=shop)
    member = widget_member(shop=shop, customer_id=customer_id)
    state: dict[str, Any] = {
        "settings": settings_data(config.settings),
        "shop": {"name": shop.name or shop.domain, "currency": shop.currency},
        "customer": {"logged_in": bool(customer_id), "member": member is not None},
        "program": program_data(shop=shop, config=config),
        # What the shop calls its points: the widget's pts(n) writes amounts with it.
        "points_name": config.program.points_name.to_dict(),
    }
    if member is None:
        state["rewards"] = rewards_data(config=config, at=at, balance=None)
    else:
        state.update(member_state(shop=shop, member=member, config=config, at=at))
        # After a redemption: the likelihood-to-recommend question, or None.
        state["survey"] = survey_prompt(shop=shop, member=member, at=at)
        state["referral"] = widget_referral_state(shop=shop, member=member)
        # Running challenges with the member's progress, and their badges (or None).
        state["challenges"] = widget_challenges(shop=shop, member=member, at=at)
    return state


def product_points(
    *,
    shop: Shop,
    customer_id: str,
    product_id: str,
    price: Decimal,
    at: datetime,
    facts: Any = None,
) -> int:
    """The points one unit of a product at ``price`` earns if bought now, as the earning
    preview computes them (the program and campaigns in force, the member's tier for
    tier campaigns). ``facts`` fills in product facts (the platform's lookup) when the
    shop's rules use them; it may raise the platform's "unavailable" error."""
    line = PurchaseLine(line_id="1", amount=price, quantity=1, product_id=product_id)
    lines = facts(shop=shop, lines=[line]) if facts is not None else [line]
    config = shop_program(shop=shop)
    member = widget_member(shop=shop, customer_id=customer_id)
    tier = held_tier(shop=shop, member=member, config=config) if member is not None else None
    breakdown = order_breakdown(
        lines=[RuleLine.from_purchase_line(item) for item in lines],
        context=OrderContext(placed_at=at, paid=True, tier=tier),
        rules=config.program.earn,
        campaigns=[campaign_from_dict(c.definition) for c in campaigns_in_force(shop=shop, at=at)],
    )
    return int(breakdown.points)
