"""The demo shop's referral program and the referral ``manage.py demo`` plays: Ada's code
from the widget, Katherine's welcome code from the landing page (created in the simulated
shop), her first order by signed webhook, Ada's points, the admin's Referrals page."""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.referrals.models import Referral, ReferralProgram
from loyalty_app.referrals.selectors import _PROGRAMS
from shopify_bridge.devstore.client import WebhookSender
from shopify_bridge.devstore.demo_program import demo_program_setup
from shopify_bridge.devstore.demo_referrals import demo_referral_play
from shopify_bridge.devstore.models import DevStoreDiscountCode
from shopify_bridge.devstore.payloads import LineSpec, order_payload
from tests.merchant_admin.conftest import AdminClient

# Ada's own order: 40.00 of a mug set, 40 points (no product facts: the line is not coffee).
ADA_ORDER = order_payload(
    order_id=9001,
    lines=[LineSpec(price=Decimal("40.00"), title="Ceramic Mug", sku="MUG-CER")],
    customer_id=7001,
    email="ada@example.com",
    first_name="Ada",
    last_name="Lovelace",
)


def demo_shop(shop, simulator) -> WebhookSender:
    """The demo's program on a simulated shop, and Ada a member with 40 points."""
    simulator.install(shop.shop)
    demo_program_setup(shop=shop.shop)
    _PROGRAMS.clear()
    sender = WebhookSender(
        base_url=simulator.url,
        secret=settings.SHOPIFY_API_SECRET,
        shop_domain=shop.shop.domain,
    )
    assert sender.send("orders/create", ADA_ORDER, webhook_id="ada-1").status_code == 200
    return sender


def balance(shop, customer: str) -> int:
    return Member.objects.get(shop=shop.shop, external_id=customer).points_balance


def test_the_demo_referral_rewards_ada_once_and_shows_on_the_referrals_page(shop, simulator):
    # Given the demo shop with its referral program on
    sender = demo_shop(shop, simulator)
    assert balance(shop, "7001") == 40

    # When the demo plays its referral
    played = demo_referral_play(shop=shop.shop, base_url=simulator.url, sender=sender)

    # Then Katherine's welcome code was made in the shop: 10.00 off 30.00, once
    referral = Referral.objects.get(shop=shop.shop)
    assert (played.status, played.reward_points, played.order_name) == ("rewarded", 250, "#10006")
    assert played.welcome_code == referral.welcome_code
    assert referral.friend_email == "katherine@example.com"
    assert referral.welcome_status == Referral.Welcome.ISSUED
    created = DevStoreDiscountCode.objects.get(code=referral.welcome_code)
    assert created.usage_limit == 1
    assert created.definition["customerGets"]["value"] == {
        "discountAmount": {"amount": "10", "appliesOnEachItem": False}
    }
    assert created.definition["minimumRequirement"] == {
        "subtotal": {"greaterThanOrEqualToSubtotal": "30"}
    }
    # And her order (59.00 kettle, 10.00 off) earned her 49 points, and Ada 250
    assert (balance(shop, "7004"), balance(shop, "7001")) == (49, 290)
    assert referral.order_amount == Decimal("49.0000")
    assert list(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).values_list("points", "reason")
    ) == [(250, "Referred a friend (order #10006)")]

    # And the admin's Referrals page shows one referral, one conversion, one reward
    page = AdminClient(shop.shop).get("/app/referrals/")
    assert page.status_code == 200
    html = page.content.decode()
    figures = {
        name: re.search(rf'data-testid="fig-{name}">([^<]*)<', html).group(1)
        for name in ("referrals", "conversions", "rate", "revenue", "rewards")
    }
    assert figures == {
        "referrals": "1",
        "conversions": "1",
        "rate": "100.0%",
        "revenue": "49.00 USD",
        "rewards": "1",
    }
    assert "katherine@example.com" in html and referral.welcome_code in html


def test_playing_the_demo_referral_again_changes_nothing(shop, simulator):
    # Given the demo referral was played
    sender = demo_shop(shop, simulator)
    first = demo_referral_play(shop=shop.shop, base_url=simulator.url, sender=sender)

    # When the demo runs again
    again = demo_referral_play(shop=shop.shop, base_url=simulator.url, sender=sender)
    demo_program_setup(shop=shop.shop)

    # Then the same referral, one welcome code, and the same balances
    assert again == first
    assert Referral.objects.filter(shop=shop.shop).count() == 1
    assert DevStoreDiscountCode.objects.count() == 1
    assert (balance(shop, "7004"), balance(shop, "7001")) == (49, 290)


def test_the_demo_program_turns_referrals_on_with_a_cap(shop, simulator):
    simulator.install(shop.shop)

    demo_program_setup(shop=shop.shop)

    program = ReferralProgram.objects.get(shop=shop.shop)
    assert (program.enabled, program.friend_kind, program.friend_value) == (
        True,
        "fixed_amount",
        Decimal("10.00"),
    )
    assert (program.friend_min_subtotal, program.referrer_kind, program.referrer_points) == (
        Decimal("30.00"),
        "points",
        250,
    )
    assert (program.cap_count, program.cap_period) == (10, "month")
