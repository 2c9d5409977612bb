"""Points that stay pending through a return window, then become spendable by a job."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from loyalty_app.earning.models import Order
from loyalty_app.earning.selectors import member_points_pending
from loyalty_app.earning.services import orders_confirm_due, program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.selectors import ledger_balance
from loyalty_app.members.models import Member
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload
from tests.concurrency import run_concurrently

SHIRT = LineSpec(price=Decimal("40.00"), title="Shirt", sku="SHIRT")
CAP = LineSpec(price=Decimal("20.00"), title="Cap", sku="CAP")


def member(shop, customer_id: int) -> Member:
    return Member.objects.get(shop=shop.shop, external_id=str(customer_id))


def place(post_webhook, clock, order_id: int, customer_id: int, **kwargs):
    payload = order_payload(
        order_id=order_id,
        lines=[SHIRT, CAP],
        customer_id=customer_id,
        email=f"c{customer_id}@example.com",
        created_at=clock(),
        **kwargs,
    )
    response = post_webhook("orders/create", payload)
    assert response.status_code == 200
    return payload


@pytest.fixture
def window(shop, clock):
    """A shop whose points stay pending for 14 days."""
    program_update(shop=shop.shop, data={"pending_days": 14}, actor="test")
    clock.advance(minutes=1)


def test_an_orders_points_stay_pending_until_the_window_passes_then_the_job_confirms_them(
    shop, clock, window, post_webhook
):
    # Given a paid order of 60.00 in a shop with a 14-day return window
    place(post_webhook, clock, 9101, 71)

    # Then nothing is spendable yet, and 60 points are pending
    buyer = member(shop, 71)
    assert buyer.points_balance == 0
    assert member_points_pending(member=buyer) == 60
    assert not LedgerEntry.objects.filter(member=buyer).exists()

    # When the job runs before the window is over, nothing changes
    clock.advance(days=13, hours=23)
    assert orders_confirm_due() == 0
    assert member(shop, 71).points_balance == 0

    # When it runs after
    clock.advance(hours=2)
    assert orders_confirm_due() == 1

    # Then the 60 points are spendable, in one entry that says why, and nothing is pending
    buyer = member(shop, 71)
    assert buyer.points_balance == 60
    assert member_points_pending(member=buyer) == 0
    entry = LedgerEntry.objects.get(member=buyer)
    assert entry.points == 60
    assert "return window passed" in entry.reason

    # And running the job again changes nothing
    assert orders_confirm_due() == 0
    assert LedgerEntry.objects.filter(member=buyer).count() == 1


def test_a_refund_inside_the_window_cancels_the_refunded_points_without_a_ledger_entry(
    shop, clock, window, post_webhook
):
    # Given a pending order of a shirt (40) and a cap (20)
    place(post_webhook, clock, 9102, 72)

    # When the shirt is refunded three days later
    clock.advance(days=3)
    post_webhook(
        "refunds/create",
        refund_payload(refund_id=1, order_id=9102, lines=[(line_id_for(9102, 0), SHIRT, 1)]),
    )

    # Then only the cap's 20 points are pending, and the ledger is untouched
    buyer = member(shop, 72)
    assert member_points_pending(member=buyer) == 20
    assert not LedgerEntry.objects.filter(member=buyer).exists()

    # And when the window passes, 20 points become spendable
    clock.advance(days=12)
    orders_confirm_due()
    assert member(shop, 72).points_balance == 20
    assert ledger_balance(member=buyer) == 20


def test_a_cancellation_inside_the_window_means_the_points_never_existed(
    shop, clock, window, post_webhook
):
    payload = place(post_webhook, clock, 9103, 73)

    clock.advance(days=1)
    cancelled = {
        **payload,
        "cancelled_at": clock().isoformat(),
        "financial_status": "refunded",
        "updated_at": clock().isoformat(),
    }
    post_webhook("orders/cancelled", cancelled)
    clock.advance(days=20)
    orders_confirm_due()

    buyer = member(shop, 73)
    assert buyer.points_balance == 0
    assert member_points_pending(member=buyer) == 0
    assert not LedgerEntry.objects.filter(member=buyer).exists()


def test_a_refund_after_the_window_takes_the_spendable_points_back(
    shop, clock, window, post_webhook
):
    place(post_webhook, clock, 9104, 74)
    clock.advance(days=15)
    orders_confirm_due()
    assert member(shop, 74).points_balance == 60

    post_webhook(
        "refunds/create",
        refund_payload(refund_id=2, order_id=9104, lines=[(line_id_for(9104, 1), CAP, 1)]),
    )

    assert member(shop, 74).points_balance == 40


def test_an_order_first_heard_of_after_its_window_is_confirmed_at_once(
    shop, clock, window, post_webhook
):
    # Given an order placed 20 days ago whose webhook only arrives now
    clock.advance(days=20)
    payload = order_payload(
        order_id=9105,
        lines=[SHIRT],
        customer_id=75,
        email="c75@example.com",
        created_at=clock() - timedelta(days=20) + timedelta(minutes=5),
    )
    post_webhook("orders/create", payload)

    # Then its points are spendable straight away
    assert member(shop, 75).points_balance == 40


def test_the_window_of_an_order_is_the_one_in_force_when_it_was_placed(
    shop, clock, window, post_webhook
):
    # Given an order placed under the 14-day window
    place(post_webhook, clock, 9106, 76)
    # When the merchant drops the window the next day
    clock.advance(days=1)
    program_update(shop=shop.shop, data={"pending_days": 0}, actor="test")
    clock.advance(minutes=1)
    place(post_webhook, clock, 9107, 76)

    # Then the earlier order is still pending, the new one is spendable at once
    assert member(shop, 76).points_balance == 60
    assert member_points_pending(member=member(shop, 76)) == 60
    assert Order.objects.get(external_id="9106").confirmed is False


def test_the_customer_api_shows_pending_points(shop, clock, window, post_webhook, api):
    place(post_webhook, clock, 9108, 77)

    body = api.get("/api/v1/customers/77").json()

    assert body["points_balance"] == 0
    assert body["points_pending"] == 60


@pytest.mark.django_db(transaction=True)
def test_two_confirmation_jobs_at_once_make_the_points_spendable_once(clock):
    # Given a pending order past its window (built without the request machinery)
    from loyalty_app.earning.domain import CustomerRef, Purchase, PurchaseLine
    from loyalty_app.earning.services import order_sync
    from loyalty_app.shops.services import shop_create

    shop = shop_create(domain="gamma-store.myshopify.com").shop
    program_update(shop=shop, data={"pending_days": 7}, actor="test")
    clock.advance(minutes=1)
    for n in range(20):
        order_sync(
            shop=shop,
            purchase=Purchase(
                external_id=str(9200 + n),
                currency="USD",
                customer=CustomerRef(external_id="78", email="c78@example.com"),
                placed_at=clock(),
                updated_at=clock(),
                paid=True,
                lines=(PurchaseLine(line_id=f"l{n}", amount=Decimal("10.00")),),
            ),
        )
    clock.advance(days=8)

    # When two jobs run at the same time
    _, errors = run_concurrently(lambda _i: orders_confirm_due(batch_size=7), 2)

    # Then each order's 10 points were made spendable exactly once
    assert errors == []
    buyer = Member.objects.get(shop=shop, external_id="78")
    assert buyer.points_balance == 200
    assert ledger_balance(member=buyer) == 200
    assert LedgerEntry.objects.filter(member=buyer).count() == 20
    assert not Order.objects.filter(shop=shop, confirmed=False).exists()
