"""The demo shop's challenges: a badge and two active challenges, so a merchant sees the
Challenges page and a shopper sees progress in the widget on first run. Created only when
the shop has no badge and no challenge, so running the demo again changes nothing."""

from __future__ import annotations

from datetime import timedelta

from loyalty_app.challenges.models import Badge, Challenge
from loyalty_app.challenges.policies import zone_of
from loyalty_app.challenges.services import badge_create, challenge_activate, challenge_create
from loyalty_app.common.time import now
from loyalty_app.shops.models import Shop

ACTOR = "demo"


def demo_challenges_setup(*, shop: Shop) -> None:
    """ "Coffee regular" (3 orders in two months, 100 points and a badge) and "Try the
    range" (2 product types, 50 points), running from a month ago for two months."""
    if Badge.objects.filter(shop=shop).exists() or Challenge.objects.filter(shop=shop).exists():
        return
    today = now().astimezone(zone_of(shop.timezone)).date()
    dates = {
        "starts_on": (today - timedelta(days=30)).isoformat(),
        "ends_on": (today + timedelta(days=30)).isoformat(),
    }
    regular = badge_create(
        shop=shop,
        data={
            "name": "Coffee regular",
            "description": "Three orders in two months",
            "icon": "trophy",
            "colour": "gold",
        },
        actor=ACTOR,
    )
    for data in (
        {
            "name": "Coffee regular",
            "description": "Place 3 orders before the end of next month.",
            "block": "orders_count",
            "orders": 3,
            "reward_points": 100,
            "badge_id": regular.pk,
        },
        {
            "name": "Try the range",
            "description": "Buy two different kinds of product: coffee and brewing gear.",
            "block": "distinct_categories",
            "dimension": "product_type",
            "count": 2,
            "reward_points": 50,
        },
    ):
        challenge = challenge_create(shop=shop, data={**data, **dates}, actor=ACTOR)
        challenge_activate(shop=shop, challenge_id=challenge.pk, actor=ACTOR)
