"""Rewards in the figures: a code redeemed through the API (the dev-store simulator over
HTTP), used in a real order webhook, then the customer coming back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loyalty_app.rewards.services import reward_create

from .conftest import Shopper, noon

pytestmark = pytest.mark.django_db(transaction=True)


def redeem(api: Any, reward_id: int) -> dict[str, Any]:
    response = api.post(
        "/api/v1/customers/501/redemptions",
        data=json.dumps({"reward_id": reward_id}),
        content_type="application/json",
        headers={"Idempotency-Key": "analytics-1"},
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_used_code_its_order_and_the_return_within_30_days(
    shop, api, simulator, shopper: Shopper
):
    # given 501 buys for 200 on 2 March and redeems 100 points for 5.00 off on 3 March
    simulator.install(shop.shop)
    five_off = reward_create(
        shop=shop.shop,
        data={"kind": "fixed_amount", "title": "5 off", "points_cost": 100, "value": "5"},
        actor="test",
    )
    shopper.buy(2001, "2025-03-02", "200.00", customer=501)
    shopper.clock.set(noon("2025-03-03"))
    code = redeem(api, five_off.pk)["code"]
    # the code pays part of a 40.00 order on 4 March; 501 comes back on 20 March; a guest
    # buys for 60 on 10 March
    shopper.buy(2002, "2025-03-04", "40.00", customer=501, code=code)
    shopper.buy(2003, "2025-03-10", "60.00")
    shopper.buy(2004, "2025-03-20", "30.00", customer=501)
    shopper.clock.set(noon("2025-06-10"))  # every return window is over

    # when March is read
    body = api.get("/api/v1/analytics", {"from": "2025-03-01", "to": "2025-03-31"}).json()

    # then the reward, its order, the return and the program's cost are as computed by hand
    assert body["rewards"]["redemptions_by_reward"] == [
        {
            "reward_id": five_off.pk,
            "title": "5 off",
            "kind": "fixed_amount",
            "redemptions": 1,
            "points": 100,
            "value": "5.00",
            "used": 1,
        }
    ]
    assert (body["rewards"]["code_orders"], body["rewards"]["code_orders_revenue"]) == (1, "40.00")
    assert body["rewards"]["coupon_return"] == [
        {"days": 30, "customers": 1, "returned": 1, "rate": "1.0000"},
        {"days": 60, "customers": 1, "returned": 1, "rate": "1.0000"},
        {"days": 90, "customers": 1, "returned": 1, "rate": "1.0000"},
    ]
    assert body["points"]["redeemed"] == 100
    assert body["points"]["redemption_rate"] == "0.3704"  # 100 of 270
    assert body["cost"] == {
        "rewards_value": "5.00",
        "cashback": "0.00",
        "total": "5.00",
        "share_of_members_revenue": "0.0185",  # 5 of 270
        "members_revenue": "270.00",
        "baseline_revenue_per_customer": "60.00",
        "attributed_revenue": "210.00",  # 270 - 60 x 1
        "roi": "41.0000",  # (210 - 5) / 5
    }


def test_a_customer_whose_window_is_not_over_is_not_counted_yet(
    shop, api, simulator, shopper: Shopper
):
    # given a code used on 4 March and nothing bought since, read on 20 April
    simulator.install(shop.shop)
    five_off = reward_create(
        shop=shop.shop,
        data={"kind": "fixed_amount", "title": "5 off", "points_cost": 100, "value": "5"},
        actor="test",
    )
    shopper.buy(2001, "2025-03-02", "200.00", customer=501)
    shopper.clock.set(noon("2025-03-03"))
    code = redeem(api, five_off.pk)["code"]
    shopper.buy(2002, "2025-03-04", "40.00", customer=501, code=code)
    shopper.clock.set(noon("2025-04-20"))

    body = api.get("/api/v1/analytics", {"from": "2025-03-01", "to": "2025-03-31"}).json()

    # then the 30-day window counts them as not returned; the longer ones wait
    assert body["rewards"]["coupon_return"] == [
        {"days": 30, "customers": 1, "returned": 0, "rate": "0.0000"},
        {"days": 60, "customers": 0, "returned": 0, "rate": None},
        {"days": 90, "customers": 0, "returned": 0, "rate": None},
    ]
