"""Each fraud rule refuses the referrer's reward with a reason the merchant sees; the cap
counts rewards per referrer per calendar period in the shop's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.referrals.models import Referral
from loyalty_app.shops.models import Shop

from .conftest import CARD, FRIEND, HOME, REFERRER, put_json

Status = Referral.Status
Refusal = Referral.Refusal


def referral_points(store) -> int:
    return sum(
        LedgerEntry.objects.filter(
            shop=store.shop, member__external_id=str(REFERRER), kind=LedgerEntry.Kind.REFERRAL
        ).values_list("points", flat=True)
    )


def assert_refused(store, reason: str, email: str = "friend@example.com") -> None:
    referral = store.referral(email)
    assert (referral.status, referral.refusal) == (Status.REFUSED, reason)
    assert referral.note == Refusal(reason).label
    assert referral_points(store) == 0


def test_the_referrer_ordering_with_the_welcome_code_is_a_self_referral(store):
    # A new member (joined, never ordered) invites an email of their own making, then
    # uses the code themselves: their first order, their own link.
    store.client.post(store.proxy_url("join", "7100"), data="{}", content_type="application/json")
    code = store.invite("other-me@example.com", referrer=7100)

    store.order(3001, code=code, customer=7100, email="other-me@example.com")

    assert_refused(store, Refusal.SELF_CUSTOMER, "other-me@example.com")


def test_an_order_with_the_referrers_email_is_refused(store):
    code = store.invite()

    store.order(3001, code=code, email=f"C{REFERRER}@Example.com")

    assert_refused(store, Refusal.SELF_EMAIL)


def test_an_order_shipped_to_the_referrers_address_is_refused(store):
    code = store.invite()
    same_place = {**HOME, "address1": "12  MAIN st", "zip": "12345"}

    store.order(3001, code=code, address=same_place)

    assert_refused(store, Refusal.SELF_ADDRESS)


def test_an_order_paid_with_the_referrers_card_is_refused(store):
    code = store.invite()

    store.order(3001, code=code, card=dict(CARD))

    assert_refused(store, Refusal.SELF_PAYMENT)


def test_a_customer_already_referred_is_not_rewarded_again(store):
    first_code = store.invite()
    store.order(3001, code=first_code)  # friend 8001 converts: rewarded
    # Another member invites the same person under a second email; the friend orders
    # again with that code.
    store.order(1002, "20.00", customer=7002)
    second_code = store.invite("friend.second@example.com", referrer=7002)

    store.order(3002, code=second_code, email="friend.second@example.com")

    second = store.referral("friend.second@example.com")
    assert (second.status, second.refusal) == (Status.REFUSED, Refusal.ALREADY_REFERRED)
    assert referral_points(store) == 500  # the first referral's only
    assert not LedgerEntry.objects.filter(
        member__external_id="7002", kind=LedgerEntry.Kind.REFERRAL
    ).exists()


def test_the_welcome_code_on_a_later_order_is_not_a_first_order(store, clock):
    store.order(2999, "30.00", customer=FRIEND, email="someone.else@example.com")
    clock.advance(days=1)
    # Invited under another email after their first order (the landing page cannot tell).
    code = store.invite("friend.new@example.com")

    store.order(3001, code=code, email="friend.new@example.com")

    assert_refused(store, Refusal.NOT_FIRST_ORDER, "friend.new@example.com")


def test_the_cap_refuses_rewards_beyond_it_until_the_next_month(store, clock):
    put_json(
        store.api,
        "/api/v1/referrals/program",
        {
            "enabled": True,
            "friend_reward": {"kind": "percentage", "value": "15", "days_valid": 60},
            "referrer_reward": {"kind": "points", "points": 300},
            "cap": {"count": 2, "period": "month"},
        },
    )
    Shop.objects.filter(pk=store.shop.pk).update(timezone="America/New_York")
    clock.set(datetime(2025, 1, 20, 12, 0, tzinfo=UTC))
    for n in range(3):
        code = store.invite(f"f{n}@example.com")
        store.order(
            3100 + n,
            code=code,
            customer=8100 + n,
            email=f"f{n}@example.com",
            address={**HOME, "address1": f"{n} Elm Road"},
            card={"gateway": "manual"},
        )
    statuses = [store.referral(f"f{n}@example.com").status for n in range(3)]
    assert statuses == [Status.REWARDED, Status.REWARDED, Status.REFUSED]
    assert store.referral("f2@example.com").refusal == Refusal.CAP_REACHED
    assert referral_points(store) == 600

    # 1 February 03:00 UTC is still 31 January in New York: the cap still holds.
    clock.set(datetime(2025, 2, 1, 3, 0, tzinfo=UTC))
    code = store.invite("f3@example.com")
    store.order(
        3103,
        code=code,
        customer=8103,
        email="f3@example.com",
        address={**HOME, "address1": "3 Elm Road"},
        card={"gateway": "manual"},
    )
    assert store.referral("f3@example.com").refusal == Refusal.CAP_REACHED

    # 1 February 06:00 UTC is 1 February in New York: a new month.
    clock.set(datetime(2025, 2, 1, 6, 0, tzinfo=UTC))
    code = store.invite("f4@example.com")
    store.order(
        3104,
        code=code,
        customer=8104,
        email="f4@example.com",
        address={**HOME, "address1": "4 Elm Road"},
        card={"gateway": "manual"},
    )
    assert store.referral("f4@example.com").status == Status.REWARDED
    assert referral_points(store) == 900
