from __future__ import annotations

from datetime import datetime

from django.db.models import Sum

from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

from .models import Campaign, Order, Program
from .policies import DEFAULT_PROGRAM, ProgramConfig, program_from_dict
from .rules import EarnRules


def program_current(*, shop: Shop) -> Program | None:
    """The shop's newest program version, or None while it runs the default program."""
    return Program.objects.filter(shop=shop).order_by("-version").first()


def program_in_force(*, shop: Shop, at: datetime) -> Program | None:
    """The version that was current at ``at`` (None: the default program then)."""
    return Program.objects.filter(shop=shop, created_at__lte=at).order_by("-version").first()


def program_config(program: Program | None) -> ProgramConfig:
    """A stored version as a ``ProgramConfig`` (None: the default program)."""
    return DEFAULT_PROGRAM if program is None else program_from_dict(program.rules)


def program_rules(program: Program | None) -> EarnRules:
    return program_config(program).earn


def campaigns_in_force(*, shop: Shop, at: datetime) -> list[Campaign]:
    return list(
        Campaign.objects.filter(shop=shop, starts_at__lte=at, ends_at__gt=at).order_by("pk")
    )


def campaign_get(*, shop: Shop, campaign_id: int) -> Campaign | None:
    return Campaign.objects.filter(shop=shop, pk=campaign_id).first()


PRODUCT_FACT_FIELDS = frozenset({"product_type", "tag", "collection"})


def shop_uses_product_facts(*, shop: Shop) -> bool:
    """Whether any program version or campaign of the shop matches lines on a product
    type, tag or collection: facts an order does not carry, which the bridge must then
    look up. Any version counts, since an order keeps the version of its placement.
    Read from a flag the earning services keep on the shop row (no query)."""
    return shop.uses_product_facts


def shop_product_facts_needed(*, shop: Shop) -> bool:
    """The same question answered from the program versions and campaigns themselves."""
    for rules in Program.objects.filter(shop=shop).values_list("rules", flat=True):
        if any(rule.get("field") in PRODUCT_FACT_FIELDS for rule in rules.get("line_rules", ())):
            return True
    for definition in Campaign.objects.filter(shop=shop).values_list("definition", flat=True):
        if (definition.get("applies_to") or {}).get("field") in PRODUCT_FACT_FIELDS:
            return True
    return False


def member_points_pending(*, member: Member) -> int:
    """Points of the member's orders still inside their return window."""
    total = Order.objects.filter(shop_id=member.shop_id, member=member, confirmed=False).aggregate(
        total=Sum("points_target")
    )["total"]
    return int(total or 0)
