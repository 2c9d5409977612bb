"""Tier events: one per change, served by the API newest first, with the entry reward given
once per member, tier and period; action points count toward a points-earned tier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loyalty_app.actions.services import action_record
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Redemption
from loyalty_app.rewards.services import reward_create
from loyalty_app.tiers.models import MemberTier, TierEvent
from loyalty_app.tiers.services import member_tier_set, tier_program_update

POINTS_TIERS = {
    "metric": "points_earned",
    "period": "calendar_year",
    "tiers": [
        {"name": "Silver", "threshold": 100, "entry_reward": {"points": 20}},
        {"name": "Gold", "threshold": 300, "entry_reward": {"points": 100}},
    ],
}


def moment() -> datetime:
    return datetime(2025, 1, 15, 12, tzinfo=UTC)


def tier_rewards(member: Member) -> list[int]:
    return list(
        LedgerEntry.objects.filter(member=member, kind="tier_reward")
        .order_by("id")
        .values_list("points", flat=True)
    )


@pytest.fixture
def points_tiers(shop, clock):
    tier_program_update(shop=shop.shop, data=POINTS_TIERS, actor="test")
    clock.advance(minutes=1)


def test_an_upgrade_gives_the_entry_reward_once_even_when_reached_again(
    shop, clock, points_tiers, place_order, refund_order
):
    # Given a member whose order of 300 makes them Gold (after 100 made them Silver)
    place_order(shop.shop, order_id="e1", customer="c1", amount="100", placed_at=clock())
    place_order(shop.shop, order_id="e2", customer="c1", amount="200", placed_at=clock())
    member = Member.objects.get(shop=shop.shop, external_id="c1")
    assert tier_rewards(member) == [20, 100]

    # When the second order is refunded (the upgrade is undone) and then bought again
    refund_order(shop.shop, order_id="e2", amount="200")
    assert MemberTier.objects.get(member=member).tier == "Silver"
    place_order(shop.shop, order_id="e3", customer="c1", amount="250", placed_at=clock())

    # Then the member is Gold again, but Gold's points were given only once this year
    assert MemberTier.objects.get(member=member).tier == "Gold"
    assert tier_rewards(member) == [20, 100]
    reached_again = TierEvent.objects.filter(member=member).latest("id")
    assert reached_again.entry_reward["given"] is False


def test_the_tier_events_api_lists_every_change_newest_first(
    api, shop, clock, points_tiers, place_order, refund_order
):
    # Given a member who went up twice and was taken back once
    place_order(shop.shop, order_id="f1", customer="c2", amount="150", placed_at=clock())
    place_order(shop.shop, order_id="f2", customer="c2", amount="200", placed_at=clock())
    refund_order(shop.shop, order_id="f2", amount="200")

    # When the merchant asks for the events
    body = api.get("/api/v1/customers/c2/tier-events").json()

    # Then they come newest first, with why and on what
    assert body["customer_id"] == "c2"
    rows = [(e["from_tier"], e["to_tier"], e["reason"], e["order_id"]) for e in body["events"]]
    assert rows == [
        ("Gold", "Silver", "refund", "f2"),
        ("Silver", "Gold", "qualified", "f2"),
        (None, "Silver", "qualified", "f1"),
    ]
    assert body["events"][1]["entry_reward"]["points"] == 100
    assert api.get("/api/v1/customers/nobody/tier-events").status_code == 404


def test_action_points_count_toward_a_points_earned_tier(shop, clock, points_tiers):
    # Given a program that awards 150 points for a review, and a member with 0 points
    program_update(
        shop=shop.shop, data={"actions": [{"key": "product_review", "points": 150}]}, actor="t"
    )
    member = Member.objects.create(shop=shop.shop, external_id="c3", email="c3@example.com")

    # When the member writes a review
    action_record(
        shop=shop.shop, member=member, action="product_review", event_key="rev-1", target="p-1"
    )

    # Then they reach Silver at once
    assert MemberTier.objects.get(member=member).tier == "Silver"
    assert TierEvent.objects.get(member=member).actor == "action"


def test_a_catalog_entry_reward_is_granted_once_for_no_points(shop, clock):
    # Given a Gold tier whose entry reward is a catalog reward
    reward = reward_create(
        shop=shop.shop,
        data={"title": "VIP tote", "kind": "free_shipping", "points_cost": 500},
        actor="test",
    )
    definition = {
        "metric": "points_earned",
        "period": "lifetime",
        "tiers": [{"name": "Gold", "threshold": 10, "entry_reward": {"reward_id": reward.pk}}],
    }
    tier_program_update(shop=shop.shop, data=definition, actor="test")
    member = Member.objects.create(shop=shop.shop, external_id="c4", email="c4@example.com")

    # When the merchant puts the member in Gold by hand
    event = member_tier_set(shop=shop.shop, member=member, tier="gold", actor="merchant@x")

    # Then the event is manual and the reward was granted as a redemption for no points
    assert (event.to_tier, event.reason, event.actor) == ("Gold", "manual", "merchant@x")
    grant = Redemption.objects.get(member=member)
    assert (grant.reward_id, grant.points, grant.kind) == (reward.pk, 0, "free_shipping")
    assert event.entry_reward == {
        "reward_id": reward.pk,
        "period": "lifetime",
        "redemption_id": grant.pk,
        "given": True,
    }
    assert not LedgerEntry.objects.filter(member=member).exists()
    # And setting the same tier again records nothing
    assert member_tier_set(shop=shop.shop, member=member, tier="Gold", actor="m") is None
    assert Redemption.objects.filter(member=member).count() == 1
