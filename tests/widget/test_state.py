from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty_app.earning.services import program_update
from loyalty_app.rewards.services import reward_create
from loyalty_app.tiers.services import tier_program_update

from .conftest import member_with_points

FIVE_OFF = {"kind": "fixed_amount", "title": "5.00 off", "points_cost": 500, "value": "5.00"}
TEN_OFF = {"kind": "fixed_amount", "title": "10.00 off", "points_cost": 1000, "value": "10.00"}
SHIPPING = {"kind": "free_shipping", "title": "Free shipping", "points_cost": 200}
TIERS = {
    "metric": "amount_spent",
    "tiers": [{"name": "Silver", "threshold": "0"}, {"name": "Gold", "threshold": "40"}],
}
ACTIONS = {
    "actions": [
        {"key": "signup", "points": 100},
        {"key": "birthday", "points": 200},
        {"key": "newsletter", "points": 25},
        {"key": "social_follow", "points": 15},
    ]
}


def test_a_guest_sees_how_the_program_works(proxy, shop, widget_on):
    # given a shop with actions, rewards and tiers
    program_update(shop=shop.shop, data=ACTIONS, actor="t")
    reward_create(shop=shop.shop, data=FIVE_OFF, actor="t")
    tier_program_update(shop=shop.shop, data=TIERS, actor="t")

    # when a guest's widget asks for its state
    response = proxy.get("state")

    # then it describes the program, and nothing about any member
    assert response.status_code == 200
    body = response.json()
    assert body["customer"] == {"logged_in": False, "member": False}
    assert "member" not in body and "history" not in body
    assert body["settings"]["enabled"] is True
    assert body["settings"]["primary_colour"] == "#123456"
    assert body["program"]["earn_rate"] == "Earn 1 point for every 1.00 USD you spend"
    assert [a["key"] for a in body["program"]["ways_to_earn"]] == [
        "signup",
        "birthday",
        "newsletter",
        "social_follow",
    ]
    assert [t["name"] for t in body["program"]["tiers"]] == ["Silver", "Gold"]
    assert body["program"]["tiers"][1]["requirement"] == "Spend 40.00 USD"
    assert [r["title"] for r in body["rewards"]] == ["5.00 off"]
    assert response["Cache-Control"] == "no-store, private"


def test_a_member_sees_balance_tier_progress_and_rewards_affordable_first(
    proxy, shop, widget_on, clock
):
    # given a member with 600 points and no spending yet, and three rewards
    clock.set(datetime(2026, 3, 1, 12, tzinfo=UTC))
    program_update(shop=shop.shop, data=ACTIONS, actor="t")
    tier_program_update(shop=shop.shop, data=TIERS, actor="t")
    for data in (TEN_OFF, FIVE_OFF, SHIPPING):
        reward_create(shop=shop.shop, data=data, actor="t")
    member_with_points(shop.shop, "7001", 600)

    # when the member's widget asks for its state
    body = proxy.get("state", customer="7001").json()

    # then it shows the balance, the tier and the way to the next one
    assert body["member"]["balance"] == 600
    assert body["member"]["pending"] == 0
    assert body["member"]["tier"]["next_tier"] == "Gold"
    assert body["member"]["tier"]["progress_text"] == "Spend 40.00 more USD to reach Gold"
    # the rewards they can afford first (cheapest first), then how far the others are
    assert [(r["title"], r["affordable"], r["missing"]) for r in body["rewards"]] == [
        ("Free shipping", True, 0),
        ("5.00 off", True, 0),
        ("10.00 off", False, 400),
    ]
    # what they can still do, and their history
    actions = {a["key"]: a for a in body["actions"]}
    assert actions["birthday"]["available"] is True
    assert actions["birthday"]["birthday_set"] is False
    assert body["history"][0]["points"] == 600
    assert body["history"][0]["text"] == "Welcome gift"


def test_history_shows_the_last_20_entries_newest_first(proxy, shop, widget_on):
    # given a member with 30 entries
    member = member_with_points(shop.shop, "7001", 1)
    from loyalty_app.ledger.services import ledger_entry_add

    for index in range(29):
        ledger_entry_add(
            member=member, kind="adjustment", points=index + 2, idempotency_key=f"k{index}"
        )

    # when the state is read
    body = proxy.get("state", customer="7001").json()

    # then the 20 newest entries are listed
    assert [h["points"] for h in body["history"]] == list(range(30, 10, -1))


def test_a_logged_in_customer_who_has_not_joined_sees_the_guest_view(proxy, shop, widget_on):
    body = proxy.get("state", customer="9999").json()
    assert body["customer"] == {"logged_in": True, "member": False}
    assert "member" not in body


def test_the_state_of_a_member_takes_a_bounded_number_of_queries(proxy, shop, widget_on):
    # given a member with 200 entries, actions, tiers and rewards
    program_update(shop=shop.shop, data=ACTIONS, actor="t")
    tier_program_update(shop=shop.shop, data=TIERS, actor="t")
    reward_create(shop=shop.shop, data=FIVE_OFF, actor="t")
    member = member_with_points(shop.shop, "7001", 5)
    from loyalty_app.ledger.services import ledger_entry_add

    for index in range(200):
        ledger_entry_add(member=member, kind="adjustment", points=1, idempotency_key=f"q{index}")

    # when the state is read
    with CaptureQueriesContext(connection) as queries:
        response = proxy.get("state", customer="7001")

    # then a fixed handful of queries answered it: the shop, its configuration (widget,
    # program, tiers, rewards, referral program, challenges: kept per process, read here
    # because the cache is cold) and the member's own (member, tier, tier metric, pending
    # points, actions, codes, history, the survey to ask)
    assert response.status_code == 200
    assert len(queries) <= 15, "\n".join(q["sql"][:150] for q in queries.captured_queries)
