"""Recording actions: limits per period and per target, replays, conflicts, time bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loyalty_app.actions.services import (
    ActionEventConflict,
    ActionInvalid,
    action_record,
)
from loyalty_app.earning.domain import CustomerRef
from loyalty_app.earning.models import ActionEvent
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.selectors import ledger_balance
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_upsert

AWARDED = ActionEvent.Status.AWARDED
LIMIT_REACHED = ActionEvent.Status.LIMIT_REACHED


def actions(shop, *rules: dict) -> None:
    program_update(shop=shop.shop, data={"actions": list(rules)}, actor="test")


def customer(shop, external_id: str = "501") -> Member:
    return member_upsert(
        shop=shop.shop,
        customer=CustomerRef(external_id=external_id, email=f"c{external_id}@example.com"),
    )


def record(shop, member, action, key, **kwargs):
    return action_record(shop=shop.shop, member=member, action=action, event_key=key, **kwargs)


def balance(member: Member) -> int:
    member.refresh_from_db()
    assert member.points_balance == ledger_balance(member=member)
    return member.points_balance


# --- once ---------------------------------------------------------------------------------


def test_a_once_only_action_awards_once_and_records_the_second_as_limit_reached(shop, clock):
    # Given a newsletter action (once) and a customer
    actions(shop, {"key": "newsletter", "points": 25})
    ada = customer(shop)

    # When she subscribes twice (two different reports)
    first = record(shop, ada, "newsletter", "n-1")
    second = record(shop, ada, "newsletter", "n-2")

    # Then the first earns 25 points and the second is recorded with nothing
    assert (first.created, first.event.status, first.event.points) == (True, AWARDED, 25)
    assert (second.created, second.event.status, second.event.points) == (True, LIMIT_REACHED, 0)
    assert balance(ada) == 25


def test_an_award_is_a_ledger_entry_that_says_what_the_customer_did(shop, clock):
    actions(shop, {"key": "product_review", "points": 50})
    ada = customer(shop)

    write = record(shop, ada, "product_review", "r-1", target="SKU-42", source="reviews-app")

    entry = LedgerEntry.objects.get(member=ada)
    assert entry.kind == LedgerEntry.Kind.ACTION
    assert entry.points == 50
    assert entry.reason == "Wrote a product review (sku-42)"
    assert entry.idempotency_key == f"action:{write.event.pk}"
    assert (entry.source_type, entry.source_id) == ("action", str(write.event.pk))
    assert entry.actor == "reviews-app"


def test_a_custom_action_earns_its_points_under_its_own_name(shop, clock):
    actions(
        shop,
        {"key": "store_event", "name": "Attended the store event", "points": 40},
    )
    ada = customer(shop)

    write = record(shop, ada, "store_event", "e-1")

    assert write.event.points == 40
    assert LedgerEntry.objects.get(member=ada).reason == "Attended the store event"


# --- periods --------------------------------------------------------------------------


def test_n_per_month_awards_n_times_in_a_calendar_month_then_again_the_next_month(shop, clock):
    # Given "completed a training": twice a month
    actions(
        shop,
        {"key": "training", "points": 10, "limit": {"count": 2, "period": "month"}},
    )
    ada = customer(shop)
    clock.set(datetime(2025, 3, 3, 9, tzinfo=UTC))

    # When she completes three trainings in March
    outcomes = [record(shop, ada, "training", f"t-{i}").event.status for i in range(3)]
    # And one on 1 April
    clock.set(datetime(2025, 4, 1, 0, 30, tzinfo=UTC))
    april = record(shop, ada, "training", "t-april").event

    # Then the third in March is over the limit and April starts afresh
    assert outcomes == [AWARDED, AWARDED, LIMIT_REACHED]
    assert april.status == AWARDED
    assert balance(ada) == 30


def test_a_period_is_counted_in_the_shops_time_zone(shop, clock):
    # Given a shop in Tokyo and a once-a-day action
    shop.shop.timezone = "Asia/Tokyo"
    shop.shop.save(update_fields=["timezone"])
    actions(shop, {"key": "checkin", "points": 1, "limit": {"count": 1, "period": "day"}})
    ada = customer(shop)

    # When she checks in at 14:00 UTC (23:00 in Tokyo) and at 15:30 UTC (00:30 next day)
    clock.set(datetime(2025, 6, 1, 14, tzinfo=UTC))
    late = record(shop, ada, "checkin", "c-1").event
    clock.set(datetime(2025, 6, 1, 15, 30, tzinfo=UTC))
    next_day = record(shop, ada, "checkin", "c-2").event

    # Then both earn: they are two days in Tokyo, though one day in UTC
    assert (late.status, next_day.status) == (AWARDED, AWARDED)


def test_a_yearly_action_earns_again_in_the_next_calendar_year(shop, clock):
    actions(shop, {"key": "anniversary", "points": 100, "limit": {"count": 1, "period": "year"}})
    ada = customer(shop)
    clock.set(datetime(2025, 12, 31, 12, tzinfo=UTC))

    december = record(shop, ada, "anniversary", "a-1").event
    again = record(shop, ada, "anniversary", "a-2").event
    clock.set(datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    january = record(shop, ada, "anniversary", "a-3").event

    assert [december.status, again.status, january.status] == [AWARDED, LIMIT_REACHED, AWARDED]


def test_an_event_counts_in_the_period_it_happened_not_when_it_was_reported(shop, clock):
    # Given once a month, and an award already in March
    actions(shop, {"key": "training", "points": 10, "limit": {"count": 1, "period": "month"}})
    ada = customer(shop)
    clock.set(datetime(2025, 3, 20, 12, tzinfo=UTC))
    record(shop, ada, "training", "march")

    # When a February training is reported late, in March
    february = record(
        shop, ada, "training", "february", occurred_at=datetime(2025, 2, 14, 12, tzinfo=UTC)
    ).event

    # Then it earns in February's period
    assert february.status == AWARDED
    assert balance(ada) == 20


# --- targets ----------------------------------------------------------------------------


def test_a_per_target_limit_counts_each_target_separately(shop, clock):
    # Given social follows, once per network
    actions(shop, {"key": "social_follow", "points": 15})
    ada = customer(shop)

    # When she follows on Instagram, again on "Instagram " and on TikTok
    first = record(shop, ada, "social_follow", "f-1", target="instagram").event
    again = record(shop, ada, "social_follow", "f-2", target="Instagram ").event
    tiktok = record(shop, ada, "social_follow", "f-3", target="tiktok").event

    # Then Instagram earns once and TikTok earns too
    assert [first.status, again.status, tiktok.status] == [AWARDED, LIMIT_REACHED, AWARDED]
    assert again.target == "instagram"
    assert balance(ada) == 30


def test_a_per_target_action_without_a_target_is_refused(shop, clock):
    actions(shop, {"key": "product_review", "points": 50})
    ada = customer(shop)

    with pytest.raises(ActionInvalid) as error:
        record(shop, ada, "product_review", "r-1")

    assert error.value.field == "target"
    assert not ActionEvent.objects.exists()


# --- replays and conflicts -------------------------------------------------------------


def test_replaying_an_event_returns_the_first_outcome_and_writes_nothing(shop, clock):
    actions(shop, {"key": "newsletter", "points": 25})
    ada = customer(shop)
    first = record(shop, ada, "newsletter", "n-1")

    replay = record(shop, ada, "newsletter", "n-1")

    assert replay.created is False
    assert replay.event.pk == first.event.pk
    assert ActionEvent.objects.count() == 1
    assert LedgerEntry.objects.count() == 1


def test_a_replay_is_answered_even_after_the_action_was_disabled(shop, clock):
    actions(shop, {"key": "newsletter", "points": 25})
    ada = customer(shop)
    first = record(shop, ada, "newsletter", "n-1")
    actions(shop, {"key": "newsletter", "points": 25, "enabled": False})

    replay = record(shop, ada, "newsletter", "n-1")

    assert (replay.created, replay.event.pk) == (False, first.event.pk)


def test_a_replay_of_a_refused_event_stays_refused_when_the_limit_would_now_allow_it(shop, clock):
    # Given a second newsletter sign-up that was over the limit
    actions(shop, {"key": "newsletter", "points": 25})
    ada = customer(shop)
    record(shop, ada, "newsletter", "n-1")
    refused = record(shop, ada, "newsletter", "n-2").event
    # And the merchant then allows two
    actions(shop, {"key": "newsletter", "points": 25, "limit": {"count": 2}})

    # When the refused report is retried
    replay = record(shop, ada, "newsletter", "n-2")

    # Then the answer is the first one: nothing is awarded by a retry
    assert (replay.event.pk, replay.event.status) == (refused.pk, LIMIT_REACHED)
    assert balance(ada) == 25


@pytest.mark.parametrize(
    "change",
    [
        {"action": "social_follow", "target": "instagram"},
        {"action": "newsletter", "target": "instagram"},
        {"action": "newsletter", "target": ""},
        {"occurred_at": datetime(2025, 1, 10, tzinfo=UTC)},
    ],
)
def test_the_same_key_for_a_different_event_is_a_conflict(shop, clock, change):
    # Given a follow on TikTok reported under key k-1
    actions(shop, {"key": "social_follow", "points": 15}, {"key": "newsletter", "points": 5})
    ada = customer(shop)
    record(shop, ada, "social_follow", "k-1", target="tiktok", occurred_at=clock())

    # When the same key comes with another action, target or time
    report = {"action": "social_follow", "target": "tiktok", "occurred_at": clock(), **change}
    with pytest.raises(ActionEventConflict):
        record(shop, ada, report.pop("action"), "k-1", **report)

    # Then nothing more is written
    assert ActionEvent.objects.count() == 1


def test_the_same_key_for_another_customer_is_a_conflict(shop, clock):
    actions(shop, {"key": "newsletter", "points": 5})
    record(shop, customer(shop, "1"), "newsletter", "k-1")

    with pytest.raises(ActionEventConflict):
        record(shop, customer(shop, "2"), "newsletter", "k-1")


def test_the_same_key_in_two_shops_is_two_events(shop, other_shop, clock):
    actions(shop, {"key": "newsletter", "points": 5})
    actions(other_shop, {"key": "newsletter", "points": 7})

    here = record(shop, customer(shop), "newsletter", "k-1")
    there = record(other_shop, customer(other_shop), "newsletter", "k-1")

    assert here.created and there.created
    assert (here.event.points, there.event.points) == (5, 7)


def test_a_member_of_another_shop_is_refused(shop, other_shop, clock):
    actions(shop, {"key": "newsletter", "points": 5})

    with pytest.raises(ValueError, match="another shop"):
        record(shop, customer(other_shop), "newsletter", "k-1")


# --- the action and its time ------------------------------------------------------------


def test_an_unknown_action_is_refused_with_the_enabled_ones_named(shop, clock):
    actions(shop, {"key": "newsletter", "points": 5}, {"key": "signup", "points": 50})

    with pytest.raises(ActionInvalid) as error:
        record(shop, customer(shop), "webinar", "k-1")

    assert error.value.field == "action"
    assert "'webinar' is not an action" in error.value.message
    assert "newsletter, signup" in error.value.message


def test_a_disabled_action_is_refused(shop, clock):
    actions(shop, {"key": "newsletter", "points": 5, "enabled": False})

    with pytest.raises(ActionInvalid, match="disabled"):
        record(shop, customer(shop), "newsletter", "k-1")


def test_the_default_program_has_no_actions(shop, clock):
    with pytest.raises(ActionInvalid, match=r"enabled: none"):
        record(shop, customer(shop), "signup", "k-1")


def test_an_action_earns_the_points_of_the_program_in_force_when_it_is_recorded(shop, clock):
    actions(shop, {"key": "newsletter", "points": 5, "limit": {"count": 2}})
    ada = customer(shop)
    record(shop, ada, "newsletter", "k-1")
    actions(shop, {"key": "newsletter", "points": 8, "limit": {"count": 2}})

    later = record(shop, ada, "newsletter", "k-2", occurred_at=clock() - timedelta(hours=1))

    assert later.event.points == 8


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(minutes=4), True),
        (timedelta(minutes=6), False),
        (-timedelta(days=89), True),
        (-timedelta(days=91), False),
    ],
)
def test_an_event_may_be_slightly_ahead_of_the_clock_and_up_to_90_days_old(
    shop, clock, offset, accepted
):
    actions(shop, {"key": "newsletter", "points": 5})
    ada = customer(shop)

    if accepted:
        assert record(shop, ada, "newsletter", "k", occurred_at=clock() + offset).created
    else:
        with pytest.raises(ActionInvalid) as error:
            record(shop, ada, "newsletter", "k", occurred_at=clock() + offset)
        assert error.value.field == "occurred_at"
