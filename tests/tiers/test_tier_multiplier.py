"""A VIP tier's earn multiplier: on top of line rules and campaigns, fixed when the order
was placed, not on shipping or tax."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from loyalty_app.earning.models import Order
from loyalty_app.earning.rules import (
    Campaign,
    EarnRules,
    OrderContext,
    RuleLine,
    order_breakdown,
)
from loyalty_app.members.models import Member
from loyalty_app.tiers.models import MemberTier
from loyalty_app.tiers.services import tier_program_update

PLACED = datetime(2025, 3, 1, 12, tzinfo=UTC)
TIERS = {
    "metric": "amount_spent",
    "period": "lifetime",
    "tiers": [{"name": "Gold", "threshold": "100.00", "earn_multiplier": "1.5"}],
}


def breakdown(**context):
    return order_breakdown(
        lines=[RuleLine(line_id="1", amount=Decimal("100.00"))],
        context=OrderContext(placed_at=PLACED, paid=True, **context),
        rules=EarnRules(include_shipping=True),
        campaigns=[
            Campaign(
                id="weekend",
                name="Double weekend",
                kind="multiplier",
                multiplier=Decimal(2),
                starts_at=datetime(2025, 3, 1, tzinfo=UTC),
                ends_at=datetime(2025, 3, 3, tzinfo=UTC),
            )
        ],
        shipping=Decimal("10.00"),
    )


def test_the_tier_multiplies_on_top_of_a_campaign_but_not_the_shipping():
    plain = breakdown()
    gold = breakdown(tier="Gold", tier_multiplier=Decimal("1.5"))

    # 100 x 2 (campaign) + 10 shipping = 210; with Gold: 100 x 2 x 1.5 + 10 = 310
    assert (plain.points, gold.points) == (210, 310)
    assert [n.kind for n in gold.notes if n.kind == "tier"] == ["tier"]
    assert "Gold tier earns 1.5x" in next(n.message for n in gold.notes if n.kind == "tier")


@pytest.mark.parametrize("multiplier", ["0.5", "101"])
def test_a_tier_multiplier_outside_1_to_100_is_refused(multiplier):
    with pytest.raises(ValueError, match="tier_multiplier"):
        OrderContext(placed_at=PLACED, paid=True, tier_multiplier=Decimal(multiplier))


def test_a_members_orders_earn_their_tiers_multiplier_from_the_order_after_they_reach_it(
    shop, clock, place_order, refund_order
):
    # Given Gold (from 100.00 spent) earning 1.5x
    tier_program_update(shop=shop.shop, data=TIERS, actor="test")
    clock.advance(minutes=1)

    # When a customer's first order of 120.00 makes them Gold, then they order 40.00 more
    place_order(shop.shop, order_id="m1", customer="g1", amount="120", placed_at=clock())
    member = Member.objects.get(shop=shop.shop, external_id="g1")
    assert MemberTier.objects.get(member=member).tier == "Gold"
    place_order(shop.shop, order_id="m2", customer="g1", amount="40", placed_at=clock())

    # Then the first order earned at 1x (not Gold yet when placed), the second at 1.5x
    member.refresh_from_db()
    assert member.points_balance == 120 + 60
    second = Order.objects.get(shop=shop.shop, external_id="m2")
    assert (second.tier, second.tier_multiplier) == ("Gold", Decimal("1.5"))

    # And a refund of half the second order takes back points at the order's own 1.5x
    refund_order(shop.shop, order_id="m2", amount="20")
    member.refresh_from_db()
    assert member.points_balance == 120 + 30
