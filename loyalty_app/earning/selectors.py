from __future__ import annotations

from datetime import datetime

from loyalty_app.shops.models import Shop

from .models import Campaign, Program
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
