from __future__ import annotations

from loyalty_app.shops.models import Shop

from .models import Program
from .rules import DEFAULT_RULES, EarnRules, rules_from_dict


def program_current(*, shop: Shop) -> Program | None:
    """The shop's newest program version, or None while it runs the default program."""
    return Program.objects.filter(shop=shop).order_by("-version").first()


def program_rules(program: Program | None) -> EarnRules:
    return DEFAULT_RULES if program is None else rules_from_dict(program.rules)
