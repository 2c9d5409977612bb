"""Refer a friend in a real browser: the member finds their link in the storefront widget,
the friend opens it and gets a welcome code, the friend's order arrives as a signed
webhook, the return window passes, the member's balance rises, and the merchant sees the
conversion on the admin's Referrals page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import caches
from playwright.sync_api import expect

from loyalty_app.common.time import now
from loyalty_app.earning.models import Order, Program
from loyalty_app.earning.services import orders_confirm_due, program_update
from loyalty_app.members.models import Member
from loyalty_app.merchant_admin.models import WidgetSettings
from loyalty_app.referrals.models import Referral
from loyalty_app.referrals.services import referral_program_update
from loyalty_app.widget.selectors import shop_program_forget
from shopify_bridge.devstore.models import DevStoreDiscountCode
from shopify_bridge.devstore.payloads import LineSpec, order_payload

from .conftest import SHOP, app_frame, screenshot, send_webhook, store_admin_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def store(installed_shop, embedded_app):
    """The storefront with the widget on, points pending 14 days, the referral program on
    (10 USD off a first order of 30 USD or more; 500 points for the referrer), and customer
    7001 (Ada) a member."""
    caches["ratelimit"].clear()
    shop_program_forget()
    shop = installed_shop
    WidgetSettings.objects.create(shop=shop, enabled=True, panel_title="Bean Club")
    program_update(shop=shop, data={"pending_days": 14}, actor="t")
    Program.objects.update(created_at=now() - timedelta(hours=1))
    referral_program_update(
        shop=shop,
        data={
            "enabled": True,
            "friend_reward": {"kind": "fixed_amount", "value": "10", "min_subtotal": "30"},
            "referrer_reward": {"kind": "points", "points": 500},
            "cap": {"count": 10, "period": "month"},
        },
        actor="t",
    )
    Member.objects.create(shop=shop, external_id="7001", email="ada@example.com", first_name="Ada")
    return f"{embedded_app}/devstore/{SHOP}/store/"


def test_a_referral_from_the_widget_to_the_admin(page, store, embedded_app, installed_shop):
    # The member finds their link in the widget.
    page.goto(store + "?customer=7001")
    page.get_by_role("button", name="Rewards").click()
    dialog = page.get_by_role("dialog", name="Bean Club")
    section = dialog.get_by_role("region", name="Refer a friend")
    expect(section).to_contain_text("Give your friends 10 USD off your first order of 30 USD")
    expect(section).to_contain_text("Get 500 points")
    expect(section).to_contain_text("0 friends referred")
    link = section.get_by_role("textbox", name="Your referral link").input_value()
    assert f"/devstore/{SHOP}/apps/loyalty/r/" in link
    section.get_by_role("button", name="Copy your referral link").click()
    expect(dialog.get_by_role("status")).to_contain_text("Referral link copied.")
    screenshot(page, "referral-widget-link")

    # A friend (logged out) opens the link and asks for the code.
    page.goto(store + "?customer=")
    page.goto(link)
    expect(page.get_by_role("heading", name="Ada sent you 10 USD off")).to_be_visible()
    page.get_by_label("Email").fill("friend@example.com")
    page.get_by_role("button", name="Get my code").click()
    code = page.get_by_test_id("welcome-code").input_value()
    assert code.startswith("FRIEND-")
    screenshot(page, "referral-friend-code")
    assert DevStoreDiscountCode.objects.filter(store__domain=SHOP, code=code).exists()

    # The friend's first order carries the code; its return window passes.
    payload = order_payload(
        order_id=5001,
        customer_id=8001,
        email="friend@example.com",
        lines=[LineSpec(price=Decimal("45.00"), discount=Decimal("10.00"))],
        discount_code=code,
    )
    assert send_webhook(embedded_app, "orders/paid", payload).status_code == 200
    assert Referral.objects.get().status == Referral.Status.PENDING
    Order.objects.filter(external_id="5001").update(pending_until=now() - timedelta(minutes=1))
    orders_confirm_due()

    referrer = Member.objects.get(shop=installed_shop, external_id="7001")
    assert referrer.points_balance == 500
    page.goto(store + "?customer=7001")
    page.get_by_role("button", name="Rewards").click()
    dialog = page.get_by_role("dialog", name="Bean Club")
    expect(dialog.get_by_role("region", name="Refer a friend")).to_contain_text(
        "1 friend referred · 1 reward earned"
    )
    expect(dialog).to_contain_text("500")

    # The merchant sees the conversion.
    page.goto(store_admin_url(embedded_app, "referrals/"))
    app = app_frame(page)
    expect(app.get_by_test_id("fig-conversions")).to_have_text("1")
    expect(app.get_by_test_id("fig-rate")).to_have_text("100.0%")
    expect(app.get_by_test_id("fig-revenue")).to_have_text("35.00 USD")
    table = app.get_by_test_id("referrals-table")
    expect(table).to_contain_text("friend@example.com")
    expect(table).to_contain_text("Rewarded")
    expect(table).to_contain_text("500 points given")
    screenshot(page, "referral-admin-page")
