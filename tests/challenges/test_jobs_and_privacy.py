"""The beat schedules the catch-up's resumption; a data request includes the member's
challenge progress and badges; a shop's erasure takes its challenges."""

from __future__ import annotations

from loyalty_app.challenges.models import Badge, Challenge, ChallengeProgress, MemberBadge
from loyalty_app.challenges.services import challenge_backfills_resume
from loyalty_app.privacy.selectors import customer_data
from loyalty_app.privacy.services import shop_erase
from loyalty_app.shops.services import shop_uninstall

from .conftest import CUSTOMER, EMAIL, badge, challenge_active, paid_order


def test_beat_resumes_challenge_catch_ups():
    from loyalty_app.celery import app

    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "challenges.challenge_backfills_resume" in scheduled


def test_an_interrupted_catch_up_is_finished_by_the_job(shop, api, post_webhook):
    # Given an order, and a challenge activated whose catch-up message was lost
    post_webhook("orders/paid", paid_order(9001))
    challenge = challenge_active(api, block="orders_count", orders=1, reward_points=5)
    assert not ChallengeProgress.objects.exists()  # the on-commit job never ran here

    # When the periodic job runs
    assert challenge_backfills_resume() == 1

    # Then the member's order was counted, and the catch-up is done
    assert ChallengeProgress.objects.get().completed is True
    assert Challenge.objects.get(pk=challenge["id"]).backfilled_at is not None
    assert challenge_backfills_resume() == 0


def test_a_data_request_lists_progress_and_badges(shop, api, post_webhook):
    explorer = badge(api, "Explorer")
    challenge_active(
        api, name="First order", block="orders_count", orders=1, badge_id=explorer["id"]
    )
    post_webhook("orders/paid", paid_order(9001))
    data = customer_data(shop=shop.shop, customer_id=str(CUSTOMER), email=EMAIL, order_ids=[])
    [member] = data["members"]
    assert member["challenges"]["progress"] == [
        {
            "challenge": "First order",
            "value": "1",
            "confirmed_value": "1",
            "completed": True,
            "completed_at": member["challenges"]["progress"][0]["completed_at"],
            "times_given": 1,
            "times_taken_back": 0,
        }
    ]
    assert [b["badge"] for b in member["challenges"]["badges"]] == ["Explorer"]


def test_a_shops_erasure_takes_its_challenges_and_badges(shop, other_shop, api, post_webhook):
    explorer = badge(api, "Explorer")
    challenge_active(api, block="orders_count", orders=1, badge_id=explorer["id"])
    post_webhook("orders/paid", paid_order(9001))
    from django.test import Client

    theirs = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})
    badge(theirs, "Kept")
    shop_uninstall(domain=shop.shop.domain)
    shop_erase(domain=shop.shop.domain)
    assert list(Badge.objects.values_list("name", flat=True)) == ["Kept"]
    assert not Challenge.objects.exists()
    assert not MemberBadge.objects.exists() and not ChallengeProgress.objects.exists()


def test_the_demo_shop_gets_a_badge_and_two_active_challenges_once(shop):
    from shopify_bridge.devstore.demo_challenges import demo_challenges_setup

    demo_challenges_setup(shop=shop.shop)
    demo_challenges_setup(shop=shop.shop)
    assert sorted(Challenge.objects.values_list("name", "block", "status")) == [
        ("Coffee regular", "orders_count", "active"),
        ("Try the range", "distinct_categories", "active"),
    ]
    assert list(Badge.objects.values_list("name", flat=True)) == ["Coffee regular"]
