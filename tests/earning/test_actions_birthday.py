"""The birthday job: once a year, on the day in the shop's time zone, 29 February included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loyalty_app.actions import services as action_services
from loyalty_app.actions.services import birthdays_award
from loyalty_app.actions.tasks import birthdays_award_all
from loyalty_app.earning.domain import CustomerRef
from loyalty_app.earning.models import ActionEvent
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_birthday_set, member_upsert


def birthdays_on(shop, points: int = 200) -> None:
    program_update(
        shop=shop.shop, data={"actions": [{"key": "birthday", "points": points}]}, actor="test"
    )


def born(shop, external_id: str, month: int, day: int) -> Member:
    member = member_upsert(
        shop=shop.shop,
        customer=CustomerRef(external_id=external_id, email=f"c{external_id}@example.com"),
    )
    return member_birthday_set(member=member, month=month, day=day)


def in_zone(shop, zone: str) -> None:
    shop.shop.timezone = zone
    shop.shop.save(update_fields=["timezone"])


def points(member: Member) -> int:
    member.refresh_from_db()
    return member.points_balance


def test_the_job_awards_the_members_whose_birthday_is_today(shop, clock):
    # Given birthdays on, and members born on 17 May and 18 May
    birthdays_on(shop)
    may_17, may_18 = born(shop, "1", 5, 17), born(shop, "2", 5, 18)

    # When the job runs on 17 May
    clock.set(datetime(2025, 5, 17, 9, tzinfo=UTC))
    awarded = birthdays_award(shop=shop.shop)

    # Then only the member born that day earns, with a birthday ledger entry
    assert awarded == 1
    assert (points(may_17), points(may_18)) == (200, 0)
    entry = LedgerEntry.objects.get(member=may_17)
    assert (entry.kind, entry.reason) == ("action", "Happy birthday")
    event = ActionEvent.objects.get()
    assert event.event_key == f"birthday:{may_17.pk}:2025"
    assert event.occurred_at == datetime(2025, 5, 17, tzinfo=UTC)


def test_the_birthday_is_the_day_in_the_shops_time_zone(shop, other_shop, clock):
    # Given the same moment, 16 May 20:00 UTC: already 17 May in Tokyo, still 16 May in
    # Los Angeles
    in_zone(shop, "Asia/Tokyo")
    in_zone(other_shop, "America/Los_Angeles")
    birthdays_on(shop)
    birthdays_on(other_shop)
    tokyo = born(shop, "1", 5, 17)
    los_angeles = born(other_shop, "1", 5, 17)
    clock.set(datetime(2025, 5, 16, 20, tzinfo=UTC))

    # When the job runs for both shops
    birthdays_award(shop=shop.shop)
    birthdays_award(shop=other_shop.shop)

    # Then Tokyo's member has her birthday, Los Angeles' not yet
    assert (points(tokyo), points(los_angeles)) == (200, 0)
    # And the event is dated at the local midnight of the birthday
    assert ActionEvent.objects.get().occurred_at == datetime(2025, 5, 16, 15, tzinfo=UTC)

    # When Los Angeles reaches 17 May
    clock.set(datetime(2025, 5, 17, 8, tzinfo=UTC))
    birthdays_award(shop=other_shop.shop)

    # Then hers is awarded too
    assert points(los_angeles) == 200


def test_running_the_job_every_hour_awards_once(shop, clock):
    birthdays_on(shop)
    member = born(shop, "1", 5, 17)
    clock.set(datetime(2025, 5, 17, 0, 5, tzinfo=UTC))

    runs = []
    for _ in range(24):
        runs.append(birthdays_award(shop=shop.shop))
        clock.advance(hours=1)

    assert runs[0] == 1 and sum(runs) == 1
    assert points(member) == 200
    assert ActionEvent.objects.count() == 1


def test_a_birthday_earns_again_the_next_year(shop, clock):
    birthdays_on(shop)
    member = born(shop, "1", 5, 17)

    clock.set(datetime(2025, 5, 17, 9, tzinfo=UTC))
    birthdays_award(shop=shop.shop)
    clock.set(datetime(2026, 5, 17, 9, tzinfo=UTC))
    birthdays_award(shop=shop.shop)

    assert points(member) == 400


def test_changing_the_birthday_does_not_earn_it_twice_in_a_year(shop, clock):
    # Given a member awarded on 17 May
    birthdays_on(shop)
    member = born(shop, "1", 5, 17)
    clock.set(datetime(2025, 5, 17, 9, tzinfo=UTC))
    birthdays_award(shop=shop.shop)

    # When she changes her birthday to 1 June, and the job runs on 1 June
    member_birthday_set(member=member, month=6, day=1)
    clock.set(datetime(2025, 6, 1, 9, tzinfo=UTC))
    awarded = birthdays_award(shop=shop.shop)

    # Then the year's birthday is already taken
    assert awarded == 0
    assert points(member) == 200


def test_the_yearly_limit_counts_birthdays_whatever_the_date_they_fell_on(shop, clock):
    # Given a birthday awarded this year (recorded under another key, e.g. imported)
    birthdays_on(shop)
    member = born(shop, "1", 6, 1)
    clock.set(datetime(2025, 5, 17, 9, tzinfo=UTC))
    action_services.action_record(
        shop=shop.shop, member=member, action="birthday", event_key="birthday:import:1"
    )

    # When the job reaches her (new) birthday in the same year
    clock.set(datetime(2025, 6, 1, 9, tzinfo=UTC))
    birthdays_award(shop=shop.shop)

    # Then it is recorded as over the limit, with no points
    statuses = list(ActionEvent.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["awarded", "limit_reached"]
    assert points(member) == 200


@pytest.mark.parametrize(
    ("today", "awarded"),
    [
        (datetime(2025, 2, 28, 12, tzinfo=UTC), True),  # not a leap year: the 28th
        (datetime(2028, 2, 28, 12, tzinfo=UTC), False),  # a leap year: wait for the 29th
        (datetime(2028, 2, 29, 12, tzinfo=UTC), True),
        (datetime(2025, 3, 1, 0, 30, tzinfo=UTC), True),  # the 28th's run was missed
        (datetime(2025, 3, 2, 12, tzinfo=UTC), False),
    ],
)
def test_a_29_february_birthday_is_the_28th_in_other_years(shop, clock, today, awarded):
    birthdays_on(shop)
    leapling = born(shop, "1", 2, 29)
    clock.set(today)

    birthdays_award(shop=shop.shop)

    assert points(leapling) == (200 if awarded else 0)


def test_a_29_february_birthday_earns_once_in_a_leap_year(shop, clock):
    birthdays_on(shop)
    leapling = born(shop, "1", 2, 29)

    for day in (28, 29):
        clock.set(datetime(2028, 2, day, 12, tzinfo=UTC))
        birthdays_award(shop=shop.shop)
    clock.set(datetime(2028, 3, 1, 12, tzinfo=UTC))
    birthdays_award(shop=shop.shop)

    assert points(leapling) == 200


def test_a_missed_day_is_caught_up_the_next_day_in_the_birthdays_year(shop, clock):
    # Given a member born on 31 December, and no run on that day
    birthdays_on(shop)
    member = born(shop, "1", 12, 31)

    # When the job runs on 1 January
    clock.set(datetime(2026, 1, 1, 6, tzinfo=UTC))
    birthdays_award(shop=shop.shop)

    # Then 2025's birthday is awarded, and 2026's remains to come
    assert ActionEvent.objects.get().event_key == f"birthday:{member.pk}:2025"
    clock.set(datetime(2026, 12, 31, 6, tzinfo=UTC))
    birthdays_award(shop=shop.shop)
    assert points(member) == 400


def test_without_a_birthday_action_the_job_awards_nothing(shop, clock):
    member = born(shop, "1", 5, 17)
    clock.set(datetime(2025, 5, 17, 9, tzinfo=UTC))

    assert birthdays_award(shop=shop.shop) == 0
    assert points(member) == 0


def test_members_are_read_in_batches(shop, clock, monkeypatch):
    monkeypatch.setattr(action_services, "BIRTHDAY_BATCH_SIZE", 2)
    birthdays_on(shop)
    members = [born(shop, str(i), 5, 17) for i in range(5)]
    clock.set(datetime(2025, 5, 17, 9, tzinfo=UTC))

    assert birthdays_award(shop=shop.shop) == 5
    assert [points(m) for m in members] == [200] * 5


def test_the_periodic_task_runs_the_job_for_each_shop_with_birthdays_on(shop, other_shop, clock):
    # Given birthdays on in one shop only (the other has them disabled)
    birthdays_on(shop)
    program_update(
        shop=other_shop.shop,
        data={"actions": [{"key": "birthday", "points": 5, "enabled": False}]},
        actor="test",
    )
    here, there = born(shop, "1", 5, 17), born(other_shop, "1", 5, 17)
    clock.set(datetime(2025, 5, 17, 9, tzinfo=UTC))

    # When the periodic task runs (eagerly: it fans out one task per shop)
    shops = birthdays_award_all.delay().get()

    # Then only the first shop's member is awarded
    assert shops == 1
    assert (points(here), points(there)) == (200, 0)
