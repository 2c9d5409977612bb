"""Challenges end to end: orders and refunds arrive as real signed webhooks through the
receiver, actions through the events API; progress, rewards and badges follow."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from loyalty_app.challenges.models import ChallengeProgress, MemberBadge
from loyalty_app.challenges.services import challenge_backfill_run
from loyalty_app.common.time import now
from loyalty_app.earning.models import Order, Program
from loyalty_app.earning.services import orders_confirm_due, program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Redemption
from loyalty_app.rewards.services import reward_create
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, refund_payload
from shopify_bridge.models import AdminApiCall
from tests.shopify_bridge.conftest import COFFEE, KETTLE, MUG

from .conftest import (
    CUSTOMER,
    badge,
    challenge_active,
    day,
    full_refund,
    paid_order,
    progress,
    send,
    today,
)

D = Decimal


def challenge_points() -> list[int]:
    return list(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHALLENGE)
        .order_by("pk")
        .values_list("points", flat=True)
    )


def member() -> Member:
    return Member.objects.get(external_id=str(CUSTOMER))


def test_three_orders_complete_the_challenge_once_whatever_is_replayed(shop, api, post_webhook):
    # Given "3 orders in the dates" giving 50 points and the Regular badge
    regular = badge(api)
    challenge = challenge_active(
        api, block="orders_count", orders=3, reward_points=50, badge_id=regular["id"]
    )

    # When two orders arrive
    post_webhook("orders/paid", paid_order(9001))
    post_webhook("orders/paid", paid_order(9002))

    # Then the customer is at 2 of 3, with 30 days left
    [seen] = progress(api)
    assert (seen["id"], seen["text"], seen["percent"]) == (challenge["id"], "2 of 3 orders", 66)
    assert (seen["value"], seen["target"], seen["completed"]) == ("2", "3", False)
    assert seen["days_left"] == 30 and seen["days_left_text"] == "30 days left"

    # When the third arrives, and the shop delivers it again (and an update of it)
    third = paid_order(9003)
    post_webhook("orders/paid", third)
    post_webhook("orders/paid", third)
    post_webhook("orders/updated", third)

    # Then the challenge is complete once: 50 points, one badge
    [seen] = progress(api)
    assert (seen["text"], seen["completed"], seen["percent"]) == ("3 of 3 orders", True, 100)
    assert challenge_points() == [50]
    assert member().points_balance == 90 + 50
    badges = api.get(f"/api/v1/customers/{CUSTOMER}/badges").json()["results"]
    assert [(b["name"], b["icon"], b["challenge"]) for b in badges] == [
        ("Regular", "trophy", "Three orders")
    ]
    detail = api.get(f"/api/v1/challenges/{challenge['id']}").json()
    assert detail["completed_count"] == 1
    done = api.get(f"/api/v1/challenges/{challenge['id']}/completions").json()["results"]
    assert [row["customer_id"] for row in done] == [str(CUSTOMER)]


def test_challenge_points_lift_the_member_to_a_points_earned_tier_at_once(shop, api, post_webhook):
    # Given Silver from 100 points earned, and "3 orders" giving 50 points
    from loyalty_app.tiers.models import MemberTier, TierEvent
    from loyalty_app.tiers.services import tier_program_update

    tier_program_update(
        shop=shop.shop,
        data={
            "metric": "points_earned",
            "period": "lifetime",
            "tiers": [{"name": "Silver", "threshold": 100}],
        },
        actor="t",
    )
    challenge_active(api, block="orders_count", orders=3, reward_points=50)

    # When three orders of 30 points each complete it (90 from orders: not Silver alone)
    for order_id in (9001, 9002, 9003):
        post_webhook("orders/paid", paid_order(order_id))

    # Then the challenge's 50 points make the member Silver, by the challenge
    assert challenge_points() == [50]
    assert MemberTier.objects.get(member=member()).tier == "Silver"
    assert TierEvent.objects.get(member=member(), to_tier="Silver").actor == "challenge"


def test_a_refunded_order_stops_counting_and_the_points_go_back(shop, api, post_webhook):
    regular = badge(api)
    challenge_active(api, block="orders_count", orders=3, reward_points=50, badge_id=regular["id"])
    for order_id in (9001, 9002, 9003):
        post_webhook("orders/paid", paid_order(order_id))
    assert challenge_points() == [50]

    # When one order is refunded in full (and the refund is delivered twice)
    post_webhook("refunds/create", full_refund(9002))
    post_webhook("refunds/create", full_refund(9002))

    # Then it no longer counts: 2 of 3, the points taken back once, the badge gone
    [seen] = progress(api)
    assert (seen["text"], seen["completed"]) == ("2 of 3 orders", False)
    assert challenge_points() == [50, -50]
    assert not MemberBadge.objects.exists()
    assert member().points_balance == 60

    # When another order makes three again, the reward is given again: net once
    post_webhook("orders/paid", paid_order(9004))
    assert challenge_points() == [50, -50, 50]
    assert MemberBadge.objects.count() == 1
    row = ChallengeProgress.objects.get()
    assert (row.completions, row.revocations, row.completed) == (2, 1, True)


def test_a_cancelled_or_test_or_guest_order_never_counts(shop, api, post_webhook):
    challenge_active(api, block="orders_count", orders=2, reward_points=10)
    post_webhook("orders/paid", paid_order(9001))
    post_webhook("orders/cancelled", paid_order(9002, cancelled=True))
    post_webhook("orders/paid", paid_order(9003, test=True))
    post_webhook("orders/paid", paid_order(9004, financial_status="pending"))
    [seen] = progress(api)
    assert seen["text"] == "1 of 2 orders"
    assert challenge_points() == []


def test_orders_outside_the_dates_do_not_count(shop, api, post_webhook):
    challenge_active(api, block="orders_count", orders=1, reward_points=10, starts_on=day(-2))
    post_webhook("orders/paid", paid_order(9001, placed=today() - timedelta(days=5)))
    assert progress(api)[0]["text"] == "0 of 1 order"
    post_webhook("orders/paid", paid_order(9002))
    assert progress(api)[0]["completed"] is True


def test_inside_the_return_window_progress_shows_but_the_reward_waits(shop, api, post_webhook):
    # Given a program whose points wait 14 days (the return window)
    program_update(shop=shop.shop, data={"pending_days": 14}, actor="t")
    Program.objects.update(created_at=now() - timedelta(days=30))
    challenge_active(api, block="orders_count", orders=2, reward_points=50)

    # When two orders arrive and one is refunded inside the window
    post_webhook("orders/paid", paid_order(9001))
    post_webhook("orders/paid", paid_order(9002))
    [seen] = progress(api)
    assert (seen["text"], seen["completed"], seen["waiting"]) == ("2 of 2 orders", False, True)
    post_webhook("orders/paid", paid_order(9003))
    post_webhook("refunds/create", full_refund(9002))

    # Then nothing was given while they were pending
    assert challenge_points() == []

    # When the window passes (the confirmation job), the two kept orders complete it
    Order.objects.update(pending_until=now() - timedelta(minutes=1))
    assert orders_confirm_due() == 3
    [seen] = progress(api)
    assert (seen["text"], seen["completed"], seen["confirmed_value"]) == (
        "2 of 2 orders",
        True,
        "2",
    )
    assert challenge_points() == [50]


def test_spend_counts_net_merchandise_after_refunds(shop, api, post_webhook):
    challenge_active(api, block="amount_spent", amount="100.00", reward_points=25)
    post_webhook("orders/paid", paid_order(9001, "40.00", shipping=D("8.00")))
    line = LineSpec(price=D("25.00"), quantity=2)
    post_webhook("orders/paid", paid_order(9002, lines=[line]))
    # Shipping is not spend; a refund of one of the two units (25.00): 40 + 50 - 25 = 65
    post_webhook(
        "refunds/create",
        refund_payload(refund_id=1, order_id=9002, lines=[(line_id_for(9002, 0), line, 1)]),
    )
    [seen] = progress(api)
    assert (seen["value"], seen["text"], seen["percent"]) == ("65.00", "Spend 35.00 USD more", 65)
    post_webhook("orders/paid", paid_order(9003, "35.00"))
    [seen] = progress(api)
    assert (seen["text"], seen["completed"]) == ("Spent 100.00 USD", True)
    assert challenge_points() == [25]


def test_an_order_in_each_of_three_consecutive_months_is_a_streak(shop, api, post_webhook):
    # Given orders on the first day of the month two months ago, last month and this month
    first = today().replace(day=1, hour=0, minute=30, second=0)
    months = [first]
    for _ in range(2):
        months.insert(0, (months[0] - timedelta(days=1)).replace(day=1))
    challenge_active(
        api,
        block="monthly_streak",
        months=3,
        reward_points=30,
        starts_on=months[0].date().isoformat(),
    )
    post_webhook("orders/paid", paid_order(9001, placed=months[0]))
    post_webhook("orders/paid", paid_order(9002, placed=months[2]))
    assert progress(api)[0]["text"] == "1 of 3 months in a row"

    # When the middle month's order arrives late
    post_webhook("orders/paid", paid_order(9003, placed=months[1] + timedelta(days=3)))

    # Then the streak is complete
    [seen] = progress(api)
    assert (seen["text"], seen["completed"]) == ("3 of 3 months in a row", True)
    assert challenge_points() == [30]


def test_completing_listed_actions_completes_the_challenge(shop, api, post_webhook):
    program_update(
        shop=shop.shop,
        data={
            "actions": [{"key": "newsletter", "points": 5}, {"key": "product_review", "points": 10}]
        },
        actor="t",
    )
    post_webhook("orders/paid", paid_order(9001))  # makes the customer a member
    challenge_active(
        api, block="actions", actions=["newsletter", "product_review"], reward_points=40
    )
    event = {"customer_id": str(CUSTOMER), "action": "newsletter", "event_id": "n-1"}
    assert send(api, "post", "/api/v1/events", event).status_code in (200, 201)
    assert progress(api)[0]["text"] == "1 of 2 actions"
    review = {**event, "action": "product_review", "event_id": "r-1", "target": "sku-1"}
    assert send(api, "post", "/api/v1/events", review).status_code in (200, 201)
    assert send(api, "post", "/api/v1/events", review).status_code in (200, 201)  # a replay
    [seen] = progress(api)
    assert (seen["text"], seen["completed"]) == ("2 of 2 actions", True)
    assert challenge_points() == [40]


def test_an_action_the_program_does_not_have_is_refused(shop, api):
    response = send(
        api,
        "post",
        "/api/v1/challenges",
        {
            "name": "x",
            "block": "actions",
            "actions": ["tweet"],
            "reward_points": 5,
            "starts_on": day(0),
            "ends_on": day(5),
        },
    )
    assert response.status_code == 400
    assert "not an enabled action" in response.json()["fields"]["actions"][0]


def test_activating_counts_what_members_did_before(
    shop, api, post_webhook, django_capture_on_commit_callbacks
):
    # Given orders of two customers before the challenge existed
    post_webhook("orders/paid", paid_order(9001, placed=today() - timedelta(days=3)))
    post_webhook("orders/paid", paid_order(9002, placed=today() - timedelta(days=2)))
    post_webhook("orders/paid", paid_order(9003, customer=502))

    # When a challenge whose dates hold them is activated (the catch-up runs after commit)
    with django_capture_on_commit_callbacks(execute=True):
        challenge = challenge_active(api, block="orders_count", orders=2, reward_points=20)

    # Then the first customer completed it, the second is at 1 of 2
    assert challenge_points() == [20]
    assert progress(api)[0]["completed"] is True
    assert progress(api, 502)[0]["text"] == "1 of 2 orders"
    assert api.get(f"/api/v1/challenges/{challenge['id']}").json()["backfilled"] is True
    # A second run changes nothing
    assert challenge_backfill_run(challenge_id=challenge["id"]) == 0
    assert challenge_points() == [20]


@pytest.mark.django_db(transaction=True)
def test_distinct_product_types_use_product_facts_and_give_a_catalog_reward(
    shop, api, simulator, post_webhook
):
    # Given the store's catalogue (Coffee, Equipment, Merch) and a challenge "2 product
    # types" that gives a free mug as a discount code
    simulator.install(shop.shop)
    mug = reward_create(
        shop=shop.shop,
        data={"kind": "free_product", "title": "Free mug", "grant_only": True, "variant_id": "77"},
        actor="t",
    )
    challenge_active(
        api,
        block="distinct_categories",
        dimension="product_type",
        count=2,
        reward_id=mug.pk,
    )

    # When the customer buys coffee twice, then a kettle
    coffee = LineSpec(price=D("12.00"), product_id=COFFEE)
    post_webhook("orders/paid", paid_order(9001, lines=[coffee]))
    post_webhook("orders/paid", paid_order(9002, lines=[coffee]))
    assert progress(api)[0]["text"] == "1 of 2 product types"
    post_webhook(
        "orders/paid",
        paid_order(9003, lines=[LineSpec(price=D("30.00"), product_id=KETTLE)]),
    )

    # Then the facts came from the store, and the mug is granted once, as a code
    assert Order.objects.get(external_id="9003").lines[0]["product_type"] == "Equipment"
    [seen] = progress(api)
    assert (seen["text"], seen["completed"]) == ("2 of 2 product types", True)
    [granted] = Redemption.objects.all()
    assert (granted.title, granted.points, granted.idempotency_key) == (
        "Free mug",
        0,
        f"challenge:{seen['id']}:{member().pk}",
    )
    assert AdminApiCall.objects.filter(idempotency_key=f"redemption:{granted.pk}").exists()

    # And a refund of the kettle takes the progress down, the delivered code stays
    post_webhook("refunds/create", full_refund(9003, "30.00"))
    assert progress(api)[0]["text"] == "1 of 2 product types"
    assert Redemption.objects.count() == 1
    post_webhook("orders/paid", paid_order(9004, lines=[LineSpec(price=D("8.00"), product_id=MUG)]))
    assert progress(api)[0]["completed"] is True
    assert Redemption.objects.count() == 1
