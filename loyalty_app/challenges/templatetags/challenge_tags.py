"""The member page's badges and challenges: ``{% member_challenges member %}``."""

from __future__ import annotations

from typing import Any

from django import template

from loyalty_app.common.time import now

from ..selectors import member_badges, member_challenges_of_shop, shop_challenges_cached

register = template.Library()


@register.inclusion_tag("admin/partials/member_challenges.html", takes_context=True)
def member_challenges(context: dict[str, Any], member: Any) -> dict[str, Any]:
    """The member's badges and their progress in the shop's started challenges, for the
    merchant's member page: the shop's challenges as the widget keeps them, then one query
    for the progress when a challenge runs and one for the badges when the shop has any."""
    shop = context["shop"]
    live, has_badges = shop_challenges_cached(shop)
    return {
        "badges": member_badges(member=member) if has_badges else [],
        "challenges": member_challenges_of_shop(shop=shop, member=member, at=now(), live=live),
    }
