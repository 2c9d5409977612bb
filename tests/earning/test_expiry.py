"""Points expiry written to the ledger by the periodic job, with reminder events."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from loyalty_app.earning.expiry import shop_points_expire
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.selectors import ledger_balance
from loyalty_app.ledger.services import points_adjust
from loyalty_app.members.models import Member, MemberEvent
from shopify_bridge.devstore.payloads import LineSpec, order_payload
from tests.concurrency import run_concurrently

BAG = LineSpec(price=Decimal("100.00"), title="Bag", sku="BAG")
BELT = LineSpec(price=Decimal("50.00"), title="Belt", sku="BELT")


def member(shop, customer_id: int) -> Member:
    return Member.objects.get(shop=shop.shop, external_id=str(customer_id))


def buy(post_webhook, clock, order_id: int, customer_id: int, line: LineSpec) -> None:
    payload = order_payload(
        order_id=order_id,
        lines=[line],
        customer_id=customer_id,
        email=f"c{customer_id}@example.com",
        created_at=clock(),
    )
    assert post_webhook("orders/create", payload).status_code == 200


def test_each_earning_expires_a_year_later_first_in_first_out_with_a_reminder_before(
    shop, clock, post_webhook
):
    # Given 12-month expiry with a 30-day reminder
    program_update(
        shop=shop.shop,
        data={"expiry": {"mode": "per_earning", "months": 12, "reminder_days": 30}},
        actor="test",
    )
    clock.set(datetime(2025, 1, 20, 12, tzinfo=UTC))
    # And 100 points in January, 30 spent in March, 50 earned in June
    buy(post_webhook, clock, 9301, 81, BAG)
    clock.set(datetime(2025, 3, 1, 12, tzinfo=UTC))
    points_adjust(
        member=member(shop, 81), points=-30, reason="gift", idempotency_key="k1", actor="t"
    )
    clock.set(datetime(2025, 6, 1, 12, tzinfo=UTC))
    buy(post_webhook, clock, 9302, 81, BELT)

    # When the job runs on 25 December: nothing expires yet, a reminder is recorded
    clock.set(datetime(2025, 12, 25, 12, tzinfo=UTC))
    result = shop_points_expire(shop=shop.shop)
    assert result.points_expired == 0
    assert result.reminders == 1
    reminder = MemberEvent.objects.get(member=member(shop, 81), kind="points_expiring")
    assert reminder.data["points"] == 70
    assert reminder.data["expires_at"].startswith("2026-01-20")
    # And a second run the same week records no second reminder
    clock.set(datetime(2025, 12, 27, 12, tzinfo=UTC))
    assert shop_points_expire(shop=shop.shop).reminders == 0

    # When it runs after 20 January 2026
    clock.set(datetime(2026, 1, 21, 3, tzinfo=UTC))
    result = shop_points_expire(shop=shop.shop)

    # Then the 70 points left of January's earning expire, in one entry
    assert result.points_expired == 70
    buyer = member(shop, 81)
    assert buyer.points_balance == 50
    entry = LedgerEntry.objects.get(member=buyer, kind="expiry")
    assert entry.points == -70
    assert "12 months" in entry.reason
    assert MemberEvent.objects.filter(member=buyer, kind="points_expired").count() == 1

    # And running again changes nothing
    assert shop_points_expire(shop=shop.shop).points_expired == 0
    assert LedgerEntry.objects.filter(member=buyer, kind="expiry").count() == 1
    assert ledger_balance(member=buyer) == buyer.points_balance == 50


def test_the_whole_balance_expires_after_months_without_activity(shop, clock, post_webhook):
    program_update(
        shop=shop.shop,
        data={"expiry": {"mode": "inactivity", "months": 6, "reminder_days": 0}},
        actor="test",
    )
    clock.set(datetime(2025, 2, 1, 12, tzinfo=UTC))
    buy(post_webhook, clock, 9311, 82, BAG)
    buy(post_webhook, clock, 9312, 83, BAG)
    # Customer 83 is active again in May
    clock.set(datetime(2025, 5, 1, 12, tzinfo=UTC))
    buy(post_webhook, clock, 9313, 83, BELT)

    clock.set(datetime(2025, 8, 2, 12, tzinfo=UTC))
    result = shop_points_expire(shop=shop.shop)

    assert result.points_expired == 100
    assert member(shop, 82).points_balance == 0
    assert member(shop, 83).points_balance == 150
    assert not MemberEvent.objects.filter(kind="points_expiring").exists()


def test_no_expiry_when_the_program_has_none(shop, clock, post_webhook):
    buy(post_webhook, clock, 9321, 84, BAG)
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))

    assert shop_points_expire(shop=shop.shop).members_checked == 0
    assert member(shop, 84).points_balance == 100


def test_one_shops_expiry_never_touches_another_shops_members(
    shop, other_shop, clock, post_webhook
):
    program_update(
        shop=other_shop.shop,
        data={"expiry": {"mode": "per_earning", "months": 1}},
        actor="test",
    )
    buy(post_webhook, clock, 9331, 85, BAG)
    clock.set(datetime(2026, 1, 1, tzinfo=UTC))

    shop_points_expire(shop=other_shop.shop)

    assert member(shop, 85).points_balance == 100


@pytest.mark.django_db(transaction=True)
def test_two_expiry_jobs_at_once_expire_the_points_once(clock):
    from loyalty_app.earning.domain import CustomerRef
    from loyalty_app.members.services import member_upsert
    from loyalty_app.shops.services import shop_create

    shop = shop_create(domain="delta-store.myshopify.com").shop
    program_update(shop=shop, data={"expiry": {"mode": "per_earning", "months": 1}}, actor="test")
    members = [
        member_upsert(shop=shop, customer=CustomerRef(external_id=str(n), email=f"{n}@x.io"))
        for n in range(30)
    ]
    for m in members:
        points_adjust(member=m, points=25, reason="welcome", idempotency_key=f"w{m.pk}", actor="t")
    clock.set(datetime(2025, 3, 1, tzinfo=UTC))

    _, errors = run_concurrently(lambda _i: shop_points_expire(shop=shop), 3)

    assert errors == []
    assert LedgerEntry.objects.filter(shop=shop, kind="expiry").count() == 30
    for m in members:
        m.refresh_from_db()
        assert m.points_balance == 0 == ledger_balance(member=m)


def test_the_periodic_tasks_expire_every_shop_and_confirm_due_orders(shop, clock, post_webhook):
    from loyalty_app.celery import app
    from loyalty_app.earning import tasks

    # Given a shop with 1-month expiry and a 30-day return window, and one order
    program_update(
        shop=shop.shop,
        data={"pending_days": 30, "expiry": {"mode": "per_earning", "months": 1}},
        actor="test",
    )
    clock.advance(minutes=1)
    buy(post_webhook, clock, 9341, 86, BAG)

    # When the confirmation task runs after the window, the points become spendable
    clock.advance(days=31)
    assert tasks.orders_confirm_due.delay().get() == 1
    assert member(shop, 86).points_balance == 100

    # And when the expiry task runs a month later, they expire
    clock.advance(days=32)
    assert tasks.points_expire_all.delay().get() == 1
    assert member(shop, 86).points_balance == 0

    # And beat knows both jobs
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {
        "earning.orders_confirm_due",
        "earning.points_expire_all",
        "actions.birthdays_award_all",
    } <= scheduled


def test_a_notification_system_reads_expiry_events_through_the_api_in_order(
    shop, other_shop, clock, post_webhook, api
):
    # Given one reminder and one expiry recorded for a shopper
    program_update(
        shop=shop.shop,
        data={"expiry": {"mode": "per_earning", "months": 1, "reminder_days": 7}},
        actor="test",
    )
    clock.advance(minutes=1)
    buy(post_webhook, clock, 9351, 87, BAG)
    clock.advance(days=26)
    shop_points_expire(shop=shop.shop)
    clock.advance(days=10)
    shop_points_expire(shop=shop.shop)

    # When the notification system reads from the start
    body = api.get("/api/v1/member-events").json()

    # Then it gets the reminder, then the expiry, with the customer
    kinds = [(e["kind"], e["customer_id"], e["data"]["points"]) for e in body["results"]]
    assert kinds == [("points_expiring", "87", 100), ("points_expired", "87", 100)]
    # And asking after the last id gives nothing new
    again = api.get(f"/api/v1/member-events?after={body['last_id']}").json()
    assert again["results"] == []
    assert (
        api.get("/api/v1/member-events?kind=points_expired").json()["results"][0]["data"]["points"]
        == 100
    )
    assert api.get("/api/v1/member-events?after=-1").status_code == 400

    # And another shop's token sees none of it
    other = api.__class__(headers={"Authorization": f"Bearer {other_shop.api_token}"})
    assert other.get("/api/v1/member-events").json()["results"] == []
