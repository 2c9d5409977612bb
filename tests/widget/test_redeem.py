"""Redeeming from the widget: the code at once, a clear reason for every refusal."""

from __future__ import annotations

from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Redemption
from loyalty_app.rewards.services import reward_create
from loyalty_app.tiers.services import tier_program_update

from .conftest import member_with_points

FIVE_OFF = {"kind": "fixed_amount", "title": "5.00 off", "points_cost": 500, "value": "5.00"}


def redeem(proxy, reward, key="attempt-0001", customer="7001", **extra):
    return proxy.post(
        "redeem", {"reward_id": reward.pk, "idempotency_key": key, **extra}, customer=customer
    )


def test_a_member_redeems_a_reward_and_gets_the_code_at_once(proxy, shop, widget_on):
    reward = reward_create(shop=shop.shop, data=FIVE_OFF, actor="t")
    member_with_points(shop.shop, "7001", 600)

    response = redeem(proxy, reward)

    assert response.status_code == 201
    body = response.json()
    code = body["redemption"]["code"]
    assert code.startswith("LOYAL-")
    assert body["redemption"]["message"] == f"Your code is {code}. Use it at checkout."
    assert body["member"]["balance"] == 100
    assert body["codes"][0]["code"] == code
    assert Redemption.objects.get().actor == "widget:customer:7001"


def test_a_retried_redemption_spends_nothing_more(proxy, shop, widget_on):
    reward = reward_create(shop=shop.shop, data=FIVE_OFF, actor="t")
    member_with_points(shop.shop, "7001", 1200)
    first = redeem(proxy, reward).json()

    again = redeem(proxy, reward)

    assert again.status_code == 200
    assert again.json()["redemption"]["code"] == first["redemption"]["code"]
    assert Member.objects.get(external_id="7001").points_balance == 700


def test_not_enough_points_says_so(proxy, shop, widget_on):
    reward = reward_create(shop=shop.shop, data=FIVE_OFF, actor="t")
    member_with_points(shop.shop, "7001", 120)

    response = redeem(proxy, reward)

    assert response.status_code == 409
    assert response.json() == {
        "error": "Not enough points yet: you have 120 points.",
        "code": "insufficient_points",
    }
    assert not Redemption.objects.exists()


def test_a_reward_redeemed_up_to_its_limit_says_so(proxy, shop, widget_on):
    reward = reward_create(shop=shop.shop, data={**FIVE_OFF, "per_customer_limit": 1}, actor="t")
    member_with_points(shop.shop, "7001", 2000)
    redeem(proxy, reward, key="attempt-0001")

    response = redeem(proxy, reward, key="attempt-0002")

    assert response.status_code == 409
    assert response.json()["code"] == "limit_reached"
    assert response.json()["error"] == (
        "You have already redeemed this reward as many times as allowed."
    )


def test_an_out_of_stock_reward_says_so(proxy, shop, widget_on):
    reward = reward_create(shop=shop.shop, data={**FIVE_OFF, "stock_total": 1}, actor="t")
    member_with_points(shop.shop, "7001", 2000)
    member_with_points(shop.shop, "7002", 2000)
    redeem(proxy, reward, customer="7002")

    response = redeem(proxy, reward)

    assert response.json() == {
        "error": "Sorry, this reward is out of stock.",
        "code": "out_of_stock",
    }
    # and the catalog shows it
    state = proxy.get("state", customer="7001").json()
    assert state["rewards"][0]["out_of_stock"] is True


def test_a_reward_for_a_higher_tier_says_which_tier(proxy, shop, widget_on):
    tier_program_update(
        shop=shop.shop,
        data={"metric": "points_earned", "tiers": [{"name": "Gold", "threshold": 1000}]},
        actor="t",
    )
    reward = reward_create(shop=shop.shop, data={**FIVE_OFF, "min_tier": "Gold"}, actor="t")
    member_with_points(shop.shop, "7001", 2000)

    response = redeem(proxy, reward)

    assert response.status_code == 409
    assert response.json() == {
        "error": "This reward needs the Gold tier or above.",
        "code": "tier_required",
    }


def test_a_guest_cannot_redeem(proxy, shop, widget_on):
    reward = reward_create(shop=shop.shop, data=FIVE_OFF, actor="t")
    response = redeem(proxy, reward, customer="")
    assert response.status_code == 403


def test_another_shops_reward_is_404(proxy, shop, other_shop, widget_on):
    theirs = reward_create(shop=other_shop.shop, data=FIVE_OFF, actor="t")
    member_with_points(shop.shop, "7001", 2000)

    response = redeem(proxy, theirs)

    assert response.status_code == 404
    assert Member.objects.get(shop=shop.shop).points_balance == 2000


def test_a_key_that_is_not_a_key_is_400(proxy, shop, widget_on):
    reward = reward_create(shop=shop.shop, data=FIVE_OFF, actor="t")
    member_with_points(shop.shop, "7001", 2000)
    assert redeem(proxy, reward, key="x").status_code == 400
