"""Referrals and the platform's privacy duties: a data request shows a customer's referrals
as the referrer (friends' emails masked) and as the friend; customers/redact blanks the
friend's email and the order fingerprints, and a later order webhook writes none back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from loyalty_app.earning.models import Order
from loyalty_app.earning.services import order_sync
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.privacy.models import CustomerRedaction
from loyalty_app.privacy.selectors import customer_data
from loyalty_app.privacy.services import customer_redact
from loyalty_app.referrals.models import Referral
from loyalty_app.referrals.selectors import email_masked
from loyalty_app.referrals.services import referral_code_for, referral_invite
from loyalty_app.shops.services import shop_create
from shopify_bridge.devstore.payloads import LineSpec, order_payload
from shopify_bridge.handlers import webhook_handle
from shopify_bridge.translate import purchase_from_payload
from tests.concurrency import run_concurrently
from tests.conftest import sample

from .conftest import FRIEND, FRIEND_EMAIL, REFERRER

Status = Referral.Status
NOON = "2025-01-15T12:00:00+00:00"  # the clock fixture's time
OTHER_FRIEND = "zed@example.com"


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("friend@example.com", "f***@example.com"),
        ("a@b.co", "a***@b.co"),
        ("Zed.Q@Example.com", "Z***@Example.com"),
        ("redacted-12", None),
        ("no-at-sign", None),
        ("@example.com", None),
    ],
)
def test_another_persons_email_is_masked_to_its_first_letter_and_domain(email, masked):
    assert email_masked(email) == masked


def converted(store) -> str:
    """friend@example.com claims the referrer's code and orders 3001 (50.00, the 10.00
    code off) as customer 8001: the referrer gets 500 points at once (no return window).
    zed@example.com claims a code and never orders. Returns the referrer's code."""
    code = store.code_of(REFERRER)
    welcome = store.invite()
    store.invite(OTHER_FRIEND)
    store.order(3001, "50.00", code=welcome)
    assert store.referral().status == Status.REWARDED
    return code


def redact_payload(store, customer_id: int, email: str, orders: list[int]) -> dict[str, Any]:
    payload = sample("customers_redact.json")
    payload.update(
        shop_domain=store.shop.domain,
        customer={"id": customer_id, "email": email, "phone": ""},
        orders_to_redact=orders,
    )
    return payload


def test_the_referrers_data_request_lists_their_code_and_friends_with_masked_emails(store):
    # Given a referrer with one friend rewarded and one only invited
    code = converted(store)

    # When the referrer asks for their data
    data = customer_data(shop=store.shop, customer_id=str(REFERRER), email="", order_ids=[])

    # Then their code, link and friends are there, and no friend's email in full
    [member] = data["members"]
    assert member["referrals"] == {
        "code": code,
        "link": f"https://alpha-store.myshopify.com/apps/loyalty/r/{code.lower()}",
        "referred": [
            {
                "friend_email": "f***@example.com",
                "status": "rewarded",
                "refusal": None,
                "invited_at": NOON,
                "order_name": "#4001",
                "converted_at": NOON,
                "reward_points": 500,
                "rewarded_at": NOON,
                "reversed_at": None,
            },
            {
                "friend_email": "z***@example.com",
                "status": "invited",
                "refusal": None,
                "invited_at": NOON,
                "order_name": None,
                "converted_at": None,
                "reward_points": 0,
                "rewarded_at": None,
                "reversed_at": None,
            },
        ],
    }
    assert data["referred_as_friend"] == []
    assert FRIEND_EMAIL not in str(data) and OTHER_FRIEND not in str(data)
    # The referrer's ledger names no friend either
    reasons = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).values_list(
        "reason", flat=True
    )
    assert list(reasons) == ["Referred a friend (order #4001)"]


def test_the_friends_data_request_lists_the_referral_that_names_them(store):
    # Given the friend's first order came through a referral
    converted(store)
    welcome = store.referral().welcome_code

    # When the friend asks for their data (by id and email)
    data = customer_data(
        shop=store.shop, customer_id=str(FRIEND), email=FRIEND_EMAIL, order_ids=["3001"]
    )

    # Then the referral naming them is there, without the referrer
    assert data["referred_as_friend"] == [
        {
            "email": FRIEND_EMAIL,
            "invited_at": NOON,
            "welcome_code": welcome,
            "welcome_offer": "10 USD off your first order of 30 USD or more",
            "welcome_expires_at": "2025-02-14T12:00:00+00:00",
            "status": "rewarded",
            "refusal": None,
            "order_name": "#4001",
            "converted_at": NOON,
        }
    ]
    [member] = data["members"]
    assert member["referrals"] == {"code": None, "link": None, "referred": []}
    assert "c7001@example.com" not in str(data)


def test_an_invited_friend_who_never_ordered_is_found_by_email(store):
    converted(store)

    data = customer_data(shop=store.shop, customer_id="", email="ZED@example.com", order_ids=[])

    assert data["members"] == []
    assert [(r["email"], r["status"]) for r in data["referred_as_friend"]] == [
        (OTHER_FRIEND, "invited")
    ]


def other_shop_invites(email: str) -> Referral:
    """A second shop with its own program, referrer and an invitation of ``email``."""
    other = shop_create(domain="gamma-store.myshopify.com").shop
    from loyalty_app.referrals.services import referral_program_update

    referral_program_update(
        shop=other,
        data={
            "enabled": True,
            "friend_reward": {"kind": "fixed_amount", "value": "5.00"},
            "referrer_reward": {"kind": "points", "points": 100},
        },
        actor="test",
    )
    payload = order_payload(
        order_id=555,
        lines=[LineSpec(price=Decimal("30.00"))],
        customer_id=REFERRER,
        email="g@example.com",
    )
    webhook_handle(shop=other, topic="orders/paid", payload=payload, actor="test")
    code = referral_code_for(member=Member.objects.get(shop=other, external_id=str(REFERRER)))
    return referral_invite(shop=other, code=code.code, email=email).referral


def test_a_data_request_never_shows_another_shops_referral_of_the_same_email(store):
    converted(store)
    theirs = other_shop_invites(FRIEND_EMAIL)

    data = customer_data(shop=store.shop, customer_id="", email=FRIEND_EMAIL, order_ids=[])

    assert [r["welcome_code"] for r in data["referred_as_friend"]] == [
        store.referral().welcome_code
    ]
    assert theirs.welcome_code not in str(data)


def test_redacting_the_friend_blanks_their_email_and_fingerprints_and_keeps_the_accounts(
    store,
):
    # Given a rewarded referral, and another shop's referral of the same email
    converted(store)
    theirs = other_shop_invites(FRIEND_EMAIL)
    referral = store.referral()
    referrer_balance = store.balance()
    assert Order.objects.get(shop=store.shop, external_id="3001").email_hash != ""

    # When the platform redacts the friend (customers/redact, signed)
    store.send("customers/redact", redact_payload(store, FRIEND, FRIEND_EMAIL, [3001]))

    # Then the referral keeps its status, order and reward, but not the email or its hash
    referral.refresh_from_db()
    assert (referral.friend_email, referral.friend_email_hash) == (f"redacted-{referral.pk}", "")
    assert (referral.status, referral.order_external_id, referral.reward_points) == (
        "rewarded",
        "3001",
        500,
    )
    assert store.balance() == referrer_balance
    # And the friend's order has no fingerprint left; the referrer's order keeps its own
    friend_order = Order.objects.get(shop=store.shop, external_id="3001")
    assert (friend_order.email_hash, friend_order.shipping_hash, friend_order.payment_hash) == (
        "",
        "",
        "",
    )
    referrer_order = Order.objects.get(shop=store.shop, external_id="1001")
    assert "" not in (
        referrer_order.email_hash,
        referrer_order.shipping_hash,
        referrer_order.payment_hash,
    )
    # And the other shop's referral of the same email is untouched
    theirs_after = Referral.objects.get(pk=theirs.pk)
    assert (theirs_after.friend_email, theirs_after.friend_email_hash) == (
        FRIEND_EMAIL,
        theirs.friend_email_hash,
    )
    # And the record counts what was done
    summary = CustomerRedaction.objects.get(shop=store.shop).summary
    assert (summary["members"], summary["order_fingerprints"], summary["referrals_as_friend"]) == (
        1,
        1,
        1,
    )
    # And the referrer's data request shows the friend as redacted
    data = customer_data(shop=store.shop, customer_id=str(REFERRER), email="", order_ids=[])
    assert [r["friend_email"] for r in data["members"][0]["referrals"]["referred"]] == [
        None,
        "z***@example.com",
    ]


def test_a_later_order_webhook_does_not_write_the_redacted_friends_fingerprints_back(store):
    # Given the friend was redacted
    converted(store)
    store.send("customers/redact", redact_payload(store, FRIEND, FRIEND_EMAIL, [3001]))

    # When the platform sends the friend's order again (an update) and a new order of theirs
    store.order(3001, "50.00", topic="orders/updated")
    store.order(3002, "20.00")

    # Then neither order holds a hash of their email, address or card
    rows = Order.objects.filter(shop=store.shop, external_id__in=["3001", "3002"]).order_by(
        "external_id"
    )
    assert [(o.email_hash, o.shipping_hash, o.payment_hash) for o in rows] == [("", "", "")] * 2
    # And the new order is the anonymized member's, who is not re-identified
    assert {o.member.external_id for o in rows} == {f"redacted-{rows[0].member_id}"}
    assert Member.objects.filter(shop=store.shop, email=FRIEND_EMAIL).count() == 0


def test_redacting_an_invited_friend_who_never_ordered_blanks_the_invitation(store):
    # Given zed claimed a code and never ordered; friend@example.com converted
    converted(store)
    zed = store.referral(OTHER_FRIEND)

    # When zed is redacted (never a member: no customer of ours has that id)
    first = customer_redact(shop=store.shop, customer_id="9999", email=OTHER_FRIEND, order_ids=[])
    again = customer_redact(shop=store.shop, customer_id="9999", email=OTHER_FRIEND, order_ids=[])

    # Then the invitation keeps its code and status without the email; the friend's stays
    zed.refresh_from_db()
    assert (zed.friend_email, zed.friend_email_hash, zed.status) == (
        f"redacted-{zed.pk}",
        "",
        "invited",
    )
    assert store.referral().friend_email == FRIEND_EMAIL
    assert first.record.summary["referrals_as_friend"] == 1
    assert (again.created, again.record.pk) == (False, first.record.pk)
    # And a data request by that email finds nothing any more
    data = customer_data(shop=store.shop, customer_id="", email=OTHER_FRIEND, order_ids=[])
    assert data["referred_as_friend"] == []


def test_two_redacted_friends_keep_the_unique_email_constraint(store):
    # Given two invited friends
    converted(store)

    # When both are redacted
    for customer_id, email in (("8001", FRIEND_EMAIL), ("9999", OTHER_FRIEND)):
        customer_redact(shop=store.shop, customer_id=customer_id, email=email, order_ids=[])

    # Then each keeps its own placeholder, and a new friend can still be invited
    emails = sorted(Referral.objects.filter(shop=store.shop).values_list("friend_email", flat=True))
    pks = sorted(Referral.objects.filter(shop=store.shop).values_list("pk", flat=True))
    assert emails == sorted(f"redacted-{pk}" for pk in pks)
    store.invite("new.friend@example.com")
    assert Referral.objects.filter(shop=store.shop).count() == 3


def test_redacting_the_referrer_keeps_their_friends_referrals(store):
    # Given the referrer has a rewarded friend
    converted(store)
    before = list(Referral.objects.order_by("pk").values_list("friend_email", "status"))

    # When the referrer is redacted
    customer_redact(
        shop=store.shop, customer_id=str(REFERRER), email=f"c{REFERRER}@example.com", order_ids=[]
    )

    # Then the friends' referrals are as they were; the referrer's own order lost its hashes
    assert list(Referral.objects.order_by("pk").values_list("friend_email", "status")) == before
    order = Order.objects.get(shop=store.shop, external_id="1001")
    assert (order.email_hash, order.shipping_hash, order.payment_hash) == ("", "", "")
    assert Order.objects.get(shop=store.shop, external_id="3001").email_hash != ""


@pytest.mark.django_db(transaction=True)
def test_a_redaction_racing_the_friends_first_order_rewards_once_and_keeps_the_email_blank(
    store,
):
    # Given a friend invited by email, whose first order arrives from three workers while
    # the platform redacts that email
    welcome = store.invite()
    payload = order_payload(
        order_id=3001,
        customer_id=FRIEND,
        email=FRIEND_EMAIL,
        lines=[LineSpec(price=Decimal("50.00"), discount=Decimal("10.00"))],
        discount_code=welcome,
    )
    purchase = purchase_from_payload(payload)

    def work(i: int) -> object:
        if i == 0:
            return customer_redact(
                shop=store.shop, customer_id="", email=FRIEND_EMAIL, order_ids=[]
            )
        return order_sync(shop=store.shop, purchase=purchase, actor=f"worker-{i}")

    # When they run at once
    _, errors = run_concurrently(work, 4)

    # Then nothing deadlocked, the referrer was rewarded once, and the email stays blank
    # whichever came first
    assert errors == []
    referral = store.referral(f"redacted-{Referral.objects.get(shop=store.shop).pk}")
    assert (referral.status, referral.friend_email_hash) == ("rewarded", "")
    entries = LedgerEntry.objects.filter(shop=store.shop, kind=LedgerEntry.Kind.REFERRAL)
    assert list(entries.values_list("points", flat=True)) == [500]
