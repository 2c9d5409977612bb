"""The demo shop's program: something real to look at in the admin on first run.

Set through the same services the admin and the API call. Running it again changes
nothing: saving the same program or tiers is not a new version, and the catalog and the
campaign are created only when the shop has none.
"""

from __future__ import annotations

from datetime import timedelta

from loyalty_app.common.time import now
from loyalty_app.earning.models import Campaign
from loyalty_app.earning.services import campaign_save, program_update
from loyalty_app.merchant_admin.services import widget_settings_update
from loyalty_app.referrals.services import referral_program_update
from loyalty_app.rewards.selectors import rewards_list
from loyalty_app.rewards.services import reward_create
from loyalty_app.shops.models import Shop
from loyalty_app.surveys.services import survey_settings_update
from loyalty_app.tiers.services import tier_program_update

from .catalog import catalog
from .demo_challenges import demo_challenges_setup
from .services import devstore_products_put

ACTOR = "demo"

PROGRAM = {
    "points_per_unit": "1",
    "rounding": "down",
    # Coffee earns double; the simulated shop's catalogue tells which products are coffee.
    "line_rules": [{"field": "product_type", "value": "Coffee", "multiplier": 2}],
    "actions": [
        {"key": "birthday", "points": 100},
        {"key": "newsletter", "points": 50},
        {"key": "social_follow", "points": 25},
        {"key": "product_review", "points": 20},
    ],
    "expiry": {"mode": "inactivity", "months": 12, "reminder_days": 30},
}

TIERS = {
    "metric": "points_earned",
    "period": "lifetime",
    "tiers": [
        {"name": "Bronze", "threshold": 0, "perks": ["Birthday points"]},
        {
            "name": "Silver",
            "threshold": 150,
            "earn_multiplier": "1.25",
            "cashback_rate": "2",
            "perks": ["1.25x points", "2% cash-back"],
            "customer_tag": "loyalty-silver",
        },
        {
            "name": "Gold",
            "threshold": 500,
            "earn_multiplier": "1.5",
            "cashback_rate": "5",
            "perks": ["1.5x points", "5% cash-back", "Early access to new roasts"],
            "customer_tag": "loyalty-gold",
        },
    ],
    "cashback": {"enabled": True, "rate": "1", "delivery": "store_credit"},
}

REWARDS = [
    {"kind": "fixed_amount", "title": "$5 off", "points_cost": 500, "value": "5.00"},
    {"kind": "free_shipping", "title": "Free shipping", "points_cost": 300},
    {
        "kind": "percentage",
        "title": "10% off your order",
        "points_cost": 1000,
        "value": "10",
        "min_tier": "Silver",
    },
    {
        "kind": "variable_credit",
        "title": "Points for store credit",
        "points_per_step": 100,
        "value_per_step": "1.00",
        "min_points": 100,
        "max_points": 5000,
    },
    {
        "kind": "donation",
        "title": "Plant a coffee tree",
        "points_cost": 250,
        "value": "2.50",
        "cause": "Coffee farmers' reforestation fund",
    },
    {
        "kind": "experience",
        "title": "Private cupping session",
        "points_cost": 2000,
        "min_tier": "Gold",
        "stock_total": 12,
        "fulfilment_note": "Book a Saturday slot with the customer.",
    },
]


WIDGET = {
    "enabled": True,
    "primary_colour": "#6b3e26",
    "text_colour": "#ffffff",
    "launcher_position": "right",
    "launcher_text": "Bean points",
    "panel_title": "Demo Roasters rewards",
    "welcome_text": "Earn points on every order and turn them into coffee.",
}


# Refer a friend: the friend gets 10.00 off a first order of 30.00 or more, the referrer 250
# points once that order is paid (the demo has no return window), at most 10 a month.
REFERRALS = {
    "enabled": True,
    "friend_reward": {
        "kind": "fixed_amount",
        "value": "10.00",
        "min_subtotal": "30.00",
        "days_valid": 30,
    },
    "referrer_reward": {"kind": "points", "points": 250},
    "cap": {"count": 10, "period": "month"},
}


def demo_program_setup(*, shop: Shop) -> None:
    """Products in the simulated shop, the program, tiers, rewards, a campaign, the
    storefront widget turned on, its survey after a redemption, and the referral
    program."""
    devstore_products_put(
        domain=shop.domain, products=[product.as_devstore() for product in catalog(24, seed=7)]
    )
    program_update(shop=shop, data=PROGRAM, actor=ACTOR)
    tier_program_update(shop=shop, data=TIERS, actor=ACTOR)
    if not rewards_list(shop=shop, include_archived=True):
        for position, reward in enumerate(REWARDS):
            reward_create(shop=shop, data={**reward, "position": position}, actor=ACTOR)
    widget_settings_update(shop=shop, data=WIDGET, actor=ACTOR)
    # The widget asks "how likely are you to recommend..." after a redemption; the answers
    # make the Analytics page's net promoter score.
    survey_settings_update(shop=shop, enabled=True, question="", actor=ACTOR)
    if not Campaign.objects.filter(shop=shop).exists():
        start = (now() + timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
        campaign_save(
            shop=shop,
            data={
                "name": "Double points week",
                "kind": "multiplier",
                "multiplier": 2,
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(days=7)).isoformat(),
            },
        )
    demo_challenges_setup(shop=shop)
    referral_program_update(shop=shop, data=REFERRALS, actor=ACTOR)
