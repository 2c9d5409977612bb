"""Refer a friend, end to end: the friend's landing page through the app proxy, the welcome
code created in the simulated shop, the friend's order webhooks, the return window, the
referrer's points, refunds and replays."""

from __future__ import annotations

from decimal import Decimal

from loyalty_app.earning.services import orders_confirm_due
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.referrals.models import Referral
from shopify_bridge.devstore.models import DevStoreDiscountCode
from shopify_bridge.models import AdminApiCall

from .conftest import FRIEND, FRIEND_EMAIL, REFERRER

Status = Referral.Status


def referral_entries(store, customer=REFERRER):
    return list(
        LedgerEntry.objects.filter(
            shop=store.shop, member__external_id=str(customer), kind=LedgerEntry.Kind.REFERRAL
        )
        .order_by("id")
        .values_list("points", flat=True)
    )


def test_a_friend_gets_a_single_use_welcome_code_created_in_the_shop(store):
    code = store.invite()

    referral = store.referral()
    assert referral.status == Status.INVITED
    assert referral.welcome_status == Referral.Welcome.ISSUED
    created = DevStoreDiscountCode.objects.get(store__domain=store.shop.domain, code=code)
    assert created.usage_limit == 1
    assert created.definition["appliesOncePerCustomer"] is True
    assert created.definition["customerGets"]["value"] == {
        "discountAmount": {"amount": "10", "appliesOnEachItem": False}
    }
    assert created.definition["minimumRequirement"] == {
        "subtotal": {"greaterThanOrEqualToSubtotal": "30"}
    }
    assert (created.ends_at - created.starts_at).days == 30


def test_the_same_email_again_gets_the_same_code_and_nothing_new(store):
    first = store.invite()
    response = store.claim(store.code_of(REFERRER), "Friend@Example.com ")

    assert response.status_code == 200
    assert first.encode() in response.content
    assert Referral.objects.filter(shop=store.shop).count() == 1
    assert AdminApiCall.objects.filter(shop=store.shop, kind="discount_code_create").count() == 1


def test_the_landing_page_shows_the_offer_in_words(store):
    response = store.client.get(store.proxy_url(f"r/{store.code_of(REFERRER)}"))

    assert response.status_code == 200
    assert b"Ada sent you 10 USD off your first order of 30 USD or more" in response.content


def test_the_referrers_own_email_gets_no_code(store):
    response = store.claim(store.code_of(REFERRER), f"c{REFERRER}@example.com")

    assert response.status_code == 409
    assert b"your own referral link" in response.content
    assert not Referral.objects.exists()


def test_a_customer_who_already_ordered_gets_no_code(store):
    store.order(2001, customer=9001, email="old@example.com")

    response = store.claim(store.code_of(REFERRER), "old@example.com")

    assert response.status_code == 409
    assert b"already ordered here" in response.content
    assert not Referral.objects.exists()


def test_an_unknown_code_or_a_program_switched_off_is_not_found(store):
    assert store.claim("NOSUCHCODE", FRIEND_EMAIL).status_code == 404
    code = store.code_of(REFERRER)
    store.api.put(
        "/api/v1/referrals/program",
        data='{"enabled": false, "friend_reward": {"value": "10"}, '
        '"referrer_reward": {"kind": "points", "points": 500}}',
        content_type="application/json",
    )
    assert store.claim(code, FRIEND_EMAIL).status_code == 404


def test_an_unsigned_landing_request_is_refused(store):
    response = store.client.get(f"/proxy/r/{store.code_of(REFERRER)}?shop={store.shop.domain}")

    assert response.status_code == 401


def test_the_referrer_earns_when_the_friends_first_order_is_paid_and_past_the_return_window(
    pending_store, clock
):
    store = pending_store
    code = store.invite()
    before = store.balance()  # 40 points of the referrer's own order

    store.order(3001, "50.00", code=code, topic="orders/create", financial_status="pending")
    assert store.referral().status == Status.PENDING
    store.order(3001, "50.00", code=code, topic="orders/paid")
    assert store.referral().status == Status.PENDING
    assert store.balance() == before

    clock.advance(days=15)
    orders_confirm_due()

    referral = store.referral()
    assert referral.status == Status.REWARDED
    assert referral.reward_points == 500
    assert referral.order_amount == Decimal("40.0000")
    assert referral.friend_member.external_id == str(FRIEND)
    assert store.balance() == before + 500
    assert referral_entries(store) == [500]


def test_without_a_return_window_the_paid_order_rewards_at_once(store):
    code = store.invite()

    store.order(3001, code=code)

    assert store.referral().status == Status.REWARDED
    assert store.balance() == 40 + 500


def test_the_friends_email_alone_attributes_the_first_order(store):
    store.invite()

    store.order(3001)  # no code: the email matches

    assert store.referral().status == Status.REWARDED
    assert referral_entries(store) == [500]


def test_the_same_webhook_twice_rewards_once(store):
    code = store.invite()
    payload = store.order(3001, code=code, webhook_id="w-1")

    store.send("orders/paid", payload, webhook_id="w-1")
    store.send("orders/paid", payload, webhook_id="w-2")
    store.send("orders/updated", payload)

    assert referral_entries(store) == [500]
    assert store.balance() == 540


def test_a_second_order_of_the_friend_earns_the_referrer_nothing_more(store):
    code = store.invite()
    store.order(3001, code=code)

    store.order(3002, "80.00")

    assert referral_entries(store) == [500]
    assert Referral.objects.get().order_external_id == "3001"


def test_a_refund_inside_the_return_window_cancels_the_referral(pending_store, clock):
    store = pending_store
    code = store.invite()
    order = store.order(3001, code=code)

    store.refund(91, order)
    clock.advance(days=15)
    orders_confirm_due()

    referral = store.referral()
    assert referral.status == Status.CANCELLED
    assert referral_entries(store) == []


def test_a_refund_after_the_reward_takes_the_points_back(store):
    code = store.invite()
    order = store.order(3001, code=code)
    assert store.balance() == 540

    store.refund(91, order)
    store.refund(91, order)  # a replay

    referral = store.referral()
    assert referral.status == Status.REVERSED
    assert referral_entries(store) == [500, -500]
    assert store.balance() == 40
    assert "taken back" in referral.note


def test_a_cancellation_after_the_reward_takes_the_points_back(store):
    code = store.invite()
    order = store.order(3001, code=code)

    store.order(3001, code=code, topic="orders/cancelled", cancelled=True, updated_at=None)

    assert store.referral().status == Status.REVERSED
    assert referral_entries(store) == [500, -500]
    assert order["id"] == 3001


def test_a_partial_refund_keeps_the_reward(store):
    code = store.invite()
    store.order(3001, "50.00", code=code)
    payload = {
        "id": 92,
        "order_id": 3001,
        "created_at": "2025-01-15T12:00:00Z",
        "refund_line_items": [{"line_item_id": 300101, "quantity": 1, "subtotal": "15.00"}],
        "transactions": [],
    }

    store.send("refunds/create", payload)

    referral = store.referral()
    assert referral.status == Status.REWARDED
    assert referral.order_amount == Decimal("25.0000")
    assert referral_entries(store) == [500]


def test_referral_points_lift_the_referrer_to_a_points_earned_tier(store):
    # Given tiers by points earned: Silver from 300 (the referrer has 40 from an order)
    from loyalty_app.tiers.models import MemberTier, TierEvent
    from loyalty_app.tiers.services import tier_program_update

    tier_program_update(
        shop=store.shop,
        data={
            "metric": "points_earned",
            "period": "lifetime",
            "tiers": [{"name": "Silver", "threshold": 300}],
        },
        actor="t",
    )
    code = store.invite()

    # When the friend's first order rewards the referrer with 500 points
    store.order(3001, code=code)

    # Then the referrer is Silver at once, by a referral
    referrer = Referral.objects.get(shop=store.shop).referrer
    assert MemberTier.objects.get(member=referrer).tier == "Silver"
    assert TierEvent.objects.get(member=referrer, to_tier="Silver").actor == "referral"
