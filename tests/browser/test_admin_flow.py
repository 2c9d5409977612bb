"""A merchant's first session in a real browser: install through the simulated store's
OAuth, then configure the program and look after a customer inside the store admin's
frame, every request carrying a session token that App Bridge (the simulator's stand-in)
hands the app."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import points_adjust
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_upsert
from loyalty_app.shops.models import Shop
from shopify_bridge.devstore.payloads import LineSpec, customer_payload, order_payload

from .conftest import (
    SHOP,
    app_frame,
    app_frame_handle,
    screenshot,
    send_webhook,
    store_admin_url,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CUSTOMER_ID = 7_700_001
CUSTOMER_EMAIL = "grace.hopper@example.com"


def seed_customer_with_an_order(app_url: str) -> None:
    """A customer who bought for 120.00 (120 points under the default program), sent as
    the store sends it: signed customers/create and orders/paid webhooks over HTTP."""
    customer = customer_payload(
        customer_id=CUSTOMER_ID, email=CUSTOMER_EMAIL, first_name="Grace", last_name="Hopper"
    )
    assert send_webhook(app_url, "customers/create", customer).status_code == 200
    order = order_payload(
        order_id=9_100_001,
        lines=[LineSpec(price=Decimal("40.00"), quantity=3, title="House Blend Coffee 1kg")],
        customer_id=CUSTOMER_ID,
        email=CUSTOMER_EMAIL,
        first_name="Grace",
        last_name="Hopper",
    )
    assert send_webhook(app_url, "orders/paid", order).status_code == 200


def test_a_merchant_installs_configures_the_program_and_adjusts_a_customers_points(
    page, embedded_app
):
    # Given a store without the app: the merchant starts the install
    page.goto(f"{embedded_app}/shopify/install?shop={SHOP}")

    # Then the store's grant screen names the app and what it may do
    expect(page.get_by_role("heading", name=re.compile(r"^Install "))).to_be_visible()
    expect(page.get_by_text(SHOP, exact=True)).to_be_visible()
    screenshot(page, "01-grant-screen")

    # When the merchant presses Install
    page.get_by_role("button", name="Install").click()

    # Then the store admin opens with the app in its frame, on Home
    page.wait_for_url(re.compile(rf"/devstore/{re.escape(SHOP)}/admin/apps/"))
    app = app_frame(page)
    expect(app.get_by_role("heading", name="Home", level=1)).to_be_visible()
    expect(app.get_by_test_id("program-status")).to_have_text("Live")
    assert Shop.objects.get(domain=SHOP).is_installed
    screenshot(page, "02-home")

    # Given a customer who has ordered since
    seed_customer_with_an_order(embedded_app)
    member = Member.objects.get(shop__domain=SHOP, external_id=str(CUSTOMER_ID))
    assert member.points_balance == 120

    # When the merchant doubles the earn rate on Program
    app.get_by_test_id("nav-program").click()
    expect(app.get_by_role("heading", name="Program", level=1)).to_be_visible()
    app.get_by_label(re.compile(r"^Points per unit of currency")).fill("2")
    app.get_by_test_id("save-program").click()

    # Then the page comes back with the new rate and a toast
    expect(app.get_by_test_id("toast")).to_have_text("Program saved")
    expect(app.get_by_test_id("toast")).to_be_visible()
    expect(app.get_by_label(re.compile(r"^Points per unit of currency"))).to_have_value("2")
    screenshot(page, "03-program-saved")

    # When the merchant creates two tiers by points earned: Silver from 100, Gold from 500
    app.get_by_test_id("nav-tiers").click()
    expect(app.get_by_role("heading", name="Tiers", level=1)).to_be_visible()
    app.get_by_label("Measured by").select_option("points_earned")
    app.locator('[name="tiers-0-name"]').fill("Silver")
    app.locator('[name="tiers-0-threshold"]').fill("100")
    app.get_by_test_id("add-tier").click()
    app.locator('[name="tiers-1-name"]').fill("Gold")
    app.locator('[name="tiers-1-threshold"]').fill("500")

    # Then the live preview counts the members each tier would hold before anything is saved
    expect(app.locator('[data-preview-target="tiers-0-members"]')).to_have_text("1 member")
    expect(app.locator('[data-preview-target="tiers-1-members"]')).to_have_text("0 members")
    expect(app.locator("[data-preview-status]")).to_have_text("0 members in no tier.")
    screenshot(page, "04-tiers-preview")

    # When the merchant saves them
    app.get_by_test_id("save-tiers").click()

    # Then both tiers are stored, in order, and the page says so
    expect(app.get_by_test_id("toast")).to_have_text("Tiers saved")
    expect(app.locator('[name="tiers-0-name"]')).to_have_value("Silver")
    expect(app.locator('[name="tiers-1-name"]')).to_have_value("Gold")
    expect(app.locator('[name="tiers-1-threshold"]')).to_have_value("500")
    screenshot(page, "04-tiers-saved")

    # When the merchant creates a reward: 5.00 off for 500 points
    app.get_by_test_id("nav-rewards").click()
    app.get_by_role("link", name="Create reward").first.click()
    expect(app.get_by_role("heading", name="New reward", level=1)).to_be_visible()
    app.get_by_test_id("reward-kind").select_option("fixed_amount")
    app.get_by_label("Title", exact=True).fill("5.00 off your next order")
    app.locator("#value").fill("5")
    app.get_by_label("Points it costs").fill("500")
    screenshot(page, "05-reward-form")
    app.get_by_test_id("save-reward").click()

    # Then it is listed in the catalog, active, at its price
    expect(app.get_by_test_id("toast")).to_have_text("Reward created")
    reward_row = app.get_by_test_id("rewards-table").locator("tbody tr")
    expect(reward_row).to_have_count(1)
    expect(reward_row.first).to_contain_text("5.00 off your next order")
    expect(reward_row.first).to_contain_text("500")
    expect(reward_row.first).to_contain_text("Active")
    screenshot(page, "05-rewards")

    # When the merchant looks the customer up by email on Customers
    app.get_by_test_id("nav-customers").click()
    app.get_by_test_id("customer-search").fill(CUSTOMER_EMAIL)
    app.get_by_test_id("customer-search-submit").click()

    # Then the customer is the one match, with their points
    rows = app.get_by_test_id("customers-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(CUSTOMER_EMAIL)
    expect(rows.first).to_contain_text("120")
    screenshot(page, "06-customer-search")

    # When the merchant opens their page
    app.get_by_test_id("customer-link").click()

    # Then the balance, the tier the new tiers give and the order's points are there
    expect(app.get_by_role("heading", name="Grace Hopper", level=1)).to_be_visible()
    expect(app.get_by_test_id("member-balance")).to_have_text("120")
    expect(app.get_by_test_id("member-tier")).to_have_text("Silver")
    expect(app.get_by_test_id("ledger-table").locator("tbody tr")).to_have_count(1)
    screenshot(page, "07-member")

    # When the merchant adds 30 points with a reason
    app.get_by_test_id("adjust-points").fill("30")
    app.get_by_test_id("adjust-reason").fill("Parcel arrived late")
    app.get_by_test_id("adjust-submit").click()

    # Then the toast confirms, the balance is 150 and the history shows the adjustment
    expect(app.get_by_test_id("toast")).to_have_text("Points adjusted")
    expect(app.get_by_test_id("member-balance")).to_have_text("150")
    newest = app.get_by_test_id("ledger-table").locator("tbody tr").first
    expect(newest).to_contain_text("Parcel arrived late")
    expect(newest).to_contain_text("+30")
    expect(newest).to_contain_text("150")
    screenshot(page, "08-points-adjusted")
    # And the ledger holds one adjustment, made by the store's staff user
    adjustment = LedgerEntry.objects.get(member=member, kind=LedgerEntry.Kind.ADJUSTMENT)
    assert (adjustment.points, adjustment.reason) == (30, "Parcel arrived late")
    assert adjustment.actor.startswith("staff:")


PHONE_WIDTH = 390


def overflow(frame) -> int:
    """How far the document is wider than its window, in CSS pixels (0: it fits)."""
    return frame.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_on_a_phone_the_pages_fit_the_screen_and_the_navigation_reaches_every_page(
    phone_page, embedded_app, installed_shop
):
    # Given a shop with members, open in the store admin on a 390 px wide phone
    for n in range(1, 4):
        member = member_upsert(
            shop=installed_shop,
            customer=CustomerRef(
                external_id=str(8_800_000 + n),
                email=f"a.very.long.address.for.customer{n}@example-store-domain.com",
                first_name="Alexandria",
                last_name="Montgomery-Featherstonehaugh",
            ),
        )
        points_adjust(
            member=member,
            points=1_234_567,
            reason="carried over",
            idempotency_key=f"c-{n}",
            actor="test",
        )
    phone_page.goto(store_admin_url(embedded_app, "customers/"))
    app = app_frame(phone_page)
    frame = app_frame_handle(phone_page)
    expect(app.get_by_test_id("customers-table")).to_be_visible()

    # Then neither the store admin nor the app scrolls sideways
    assert phone_page.evaluate("() => document.documentElement.scrollWidth") <= PHONE_WIDTH
    assert frame.evaluate("() => document.documentElement.scrollWidth") <= PHONE_WIDTH
    screenshot(phone_page, "phone-01-customers")

    # When the merchant taps through the navigation, the last tab included
    for number, (label, heading) in enumerate(
        [
            ("settings", "Settings"),
            ("tiers", "Tiers"),
            ("rewards", "Rewards"),
            ("program", "Program"),
            ("home", "Home"),
        ],
        start=2,
    ):
        app.get_by_test_id(f"nav-{label}").tap()

        # Then each page opens, and fits the screen too
        expect(app.get_by_role("heading", name=heading, level=1)).to_be_visible()
        frame = app_frame_handle(phone_page)
        assert overflow(frame) == 0, f"{heading} is wider than the phone"
        assert frame.evaluate("() => document.documentElement.scrollWidth") <= PHONE_WIDTH
        screenshot(phone_page, f"phone-0{number}-{label}")
