"""The storefront widget in a real browser, on the simulator's storefront: the page loads
it as the theme app extension's app embed does, and its requests go through the
simulated app proxy, signed for the logged-in customer."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from playwright.sync_api import expect

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.merchant_admin.models import WidgetSettings
from loyalty_app.rewards.models import Redemption
from loyalty_app.rewards.services import reward_create
from loyalty_app.tiers.services import tier_program_update
from loyalty_app.widget.selectors import shop_program_forget

from .conftest import SHOP, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def store(installed_shop, embedded_app):
    """The shop's storefront with the widget turned on, a program with tiers and rewards,
    and customer 7001 a member with 600 points."""
    caches["ratelimit"].clear()
    shop_program_forget()
    shop = installed_shop
    WidgetSettings.objects.create(
        shop=shop, enabled=True, primary_colour="#5c2d91", panel_title="Bean Club"
    )
    tier_program_update(
        shop=shop,
        data={
            "metric": "amount_spent",
            "tiers": [{"name": "Silver", "threshold": "0"}, {"name": "Gold", "threshold": "40"}],
        },
        actor="t",
    )
    reward_create(
        shop=shop,
        data={"kind": "fixed_amount", "title": "5.00 off", "points_cost": 500, "value": "5.00"},
        actor="t",
    )
    reward_create(
        shop=shop,
        data={
            "kind": "free_shipping",
            "title": "Gold shipping",
            "points_cost": 50,
            "min_tier": "Gold",
        },
        actor="t",
    )
    member = Member.objects.create(shop=shop, external_id="7001", email="ada@example.com")
    ledger_entry_add(
        member=member,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        points=600,
        idempotency_key="gift",
        reason="Welcome gift",
    )
    return f"{embedded_app}/devstore/{SHOP}/store/"


def test_a_guest_joins_with_an_email(page, store):
    page.goto(store + "?customer=")
    page.get_by_role("button", name="Rewards").click()
    dialog = page.get_by_role("dialog", name="Bean Club")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("5.00 off")).to_be_visible()

    dialog.get_by_label("Email").fill("new.shopper@example.com")
    dialog.get_by_role("button", name="Join").click()

    expect(dialog.get_by_role("status")).to_contain_text("You're in!")
    screenshot(page, "widget-guest-joined")
    assert Member.objects.filter(email="new.shopper@example.com").exists()


def test_a_member_sees_balance_and_progress_redeems_and_reads_a_refusal(page, store):
    # Given member 7001 logged in on the storefront
    page.goto(store + "?customer=7001")
    launcher = page.get_by_role("button", name="Rewards 600 points")
    expect(launcher).to_be_visible()
    launcher.click()
    dialog = page.get_by_role("dialog", name="Bean Club")
    expect(dialog.locator(".lw-balance")).to_have_text("600 points")
    expect(dialog.get_by_text("Spend 40.00 more USD to reach Gold")).to_be_visible()
    screenshot(page, "widget-member")

    # When they redeem 5.00 off, the code shows at once with copy and apply
    dialog.get_by_role("button", name="Redeem 5.00 off for 500 points").click()
    expect(dialog.get_by_role("status")).to_contain_text("Your code is")
    code = Redemption.objects.get().code
    expect(dialog.get_by_role("status")).to_have_text(f"Your code is {code}. Use it at checkout.")
    expect(dialog.locator(".lw-fresh .lw-code")).to_have_text(code)
    expect(dialog.get_by_role("button", name=f"Copy code {code}").first).to_be_visible()
    apply = dialog.locator(".lw-fresh").get_by_role("link", name="Apply to cart")
    expect(apply).to_have_attribute("href", f"/devstore/{SHOP}/store/discount/{code}")
    expect(dialog.locator(".lw-balance")).to_have_text("100 points")
    screenshot(page, "widget-redeemed-code")

    # And a reward for a higher tier is refused with its reason
    dialog.get_by_role("button", name="Redeem Gold shipping for 50 points").click()
    expect(dialog.get_by_role("alert")).to_have_text("This reward needs the Gold tier or above.")
    screenshot(page, "widget-refused")

    # Applying the code takes it to the cart
    apply.click()
    expect(page.get_by_text(f"Discount code {code} will be applied at checkout.")).to_be_visible()


def test_the_widget_works_from_the_keyboard(page, store):
    page.goto(store + "?customer=7001")
    launcher = page.get_by_role("button", name="Rewards 600 points")
    expect(launcher).to_be_visible()

    # Tab reaches the launcher; Enter opens the dialog with focus inside it
    launcher.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Bean Club")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("aria-modal", "true")
    assert page.evaluate("document.getElementById('lw-panel').contains(document.activeElement)")

    # Focus stays inside however far one tabs, both ways
    for key in ["Tab"] * 12 + ["Shift+Tab"] * 15:
        page.keyboard.press(key)
        assert page.evaluate(
            "document.getElementById('lw-panel').contains(document.activeElement)"
        ), key

    # Escape closes it and gives focus back to the launcher
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_a_product_page_shows_the_points_of_the_purchase(page, store):
    page.goto(store + "products/9300000000?customer=")
    expect(page.locator("[data-loyalty-product-points]")).to_have_text(
        "Earn 24 points with this purchase"
    )
    screenshot(page, "widget-product-page")
