"""The member page's badges and challenges: ``{% member_challenges member %}``."""

from __future__ import annotations

from typing import Any

from django import template

from loyalty_app.common.time import now

from ..selectors import member_badges
from ..selectors import member_challenges as challenges_of

register = template.Library()


@register.inclusion_tag("admin/partials/member_challenges.html")
def member_challenges(member: Any) -> dict[str, Any]:
    """The member's badges and their progress in the shop's started challenges (two
    queries, three with badges), for the merchant's member page."""
    return {
        "badges": member_badges(member=member),
        "challenges": challenges_of(shop=member.shop, member=member, at=now(), include_ended=True),
    }
