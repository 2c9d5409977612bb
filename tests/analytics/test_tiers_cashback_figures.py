"""Tiers and cash-back in the figures: members per tier, the period's tier changes, and
cash-back credited and reversed, from orders sent as signed webhooks."""

from __future__ import annotations

import pytest

from loyalty_app.tiers.services import tier_program_update

from .conftest import Shopper, a_month_of_orders

pytestmark = pytest.mark.django_db

TIERS = {
    "metric": "amount_spent",
    "period": "lifetime",
    "tiers": [{"name": "Silver", "threshold": "100"}, {"name": "Gold", "threshold": "150"}],
    "cashback": {"enabled": True, "rate": "10", "delivery": "store_credit"},
}


def test_members_per_tier_and_the_changes_of_the_period(shop, api, shopper: Shopper):
    # given tiers by amount spent with 10% cash-back, then the month of orders: 501 reaches
    # Silver in February (100) and Gold in March (150); 502 keeps 60 and holds no tier
    tier_program_update(shop=shop.shop, data=TIERS, actor="test")
    a_month_of_orders(shopper)

    body = api.get("/api/v1/analytics", {"from": "2025-03-01", "to": "2025-03-30"}).json()

    assert body["tiers"]["members"] == [
        {"tier": "", "members": 1},
        {"tier": "Gold", "members": 1},
    ]
    assert body["tiers"]["moves"] == [{"from_tier": "Silver", "to_tier": "Gold", "members": 1}]
    # cash-back: 10% of 50 + 80 + 30 credited in March, 10% of the 20 refunded reversed
    assert body["cashback"] == {"credited": "16.00", "reversed": "2.00", "net": "14.00"}
    assert body["cost"]["cashback"] == "14.00"
    assert body["cost"]["total"] == "14.00"
    assert body["cost"]["share_of_members_revenue"] == "0.1000"  # 14 of 140
    assert body["cost"]["roi"] == "1.8571"  # (40 - 14) / 14
    assert body["previous"]["cashback"]["credited"] == "10.00"
