"""Challenges in a real browser: the merchant creates a badge and a challenge on the
Challenges page inside the simulated store admin, orders arrive as signed webhooks over
HTTP, and the shopper's widget on the simulated storefront shows the progress, then the
badge."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import caches
from playwright.sync_api import expect

from loyalty_app.challenges.models import Challenge
from loyalty_app.challenges.selectors import widget_challenges_forget
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.merchant_admin.models import WidgetSettings
from loyalty_app.widget.selectors import shop_program_forget
from shopify_bridge.devstore.payloads import LineSpec, order_payload

from .conftest import SHOP, app_frame, screenshot, send_webhook, store_admin_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CUSTOMER = 7_300_001


def order(order_id: int) -> dict:
    return order_payload(
        order_id=order_id,
        lines=[LineSpec(price=Decimal("30.00"), title="House Blend Coffee 1kg")],
        customer_id=CUSTOMER,
        email="lin@example.com",
        first_name="Lin",
        created_at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5),
    )


def test_a_merchant_creates_a_challenge_and_the_shopper_sees_progress_then_the_badge(
    page, installed_shop, embedded_app
):
    caches["ratelimit"].clear()
    shop_program_forget()
    widget_challenges_forget()
    WidgetSettings.objects.create(shop=installed_shop, enabled=True, panel_title="Bean Club")
    today = datetime.now(UTC).date()

    # Given the merchant on the Challenges page of the store admin
    page.goto(store_admin_url(embedded_app, "challenges/"))
    app = app_frame(page)
    expect(app.get_by_role("heading", name="Challenges", level=1)).to_be_visible()

    # When they create the Regular badge: a gold crown
    app.get_by_label("Badge name").fill("Regular")
    app.get_by_label("Icon").select_option("crown")
    app.get_by_label("Colour").select_option("gold")
    app.get_by_test_id("create-badge").click()
    expect(app.get_by_test_id("toast")).to_have_text("Badge created")
    expect(app.get_by_test_id("badges-list")).to_contain_text("Regular")

    # And a challenge "2 orders in the next 12 days" giving 50 points and the badge
    app.get_by_test_id("create-challenge").click()
    expect(app.get_by_role("heading", name="New challenge", level=1)).to_be_visible()
    app.get_by_label("Name", exact=True).fill("Come back soon")
    app.get_by_label(re.compile(r"^Description")).fill("Two orders before the month is out")
    app.get_by_test_id("challenge-block").select_option("orders_count")
    app.get_by_label("Orders to place").fill("2")
    app.get_by_label(re.compile(r"^Starts on")).fill(today.isoformat())
    app.get_by_label(re.compile(r"^Ends on")).fill((today + timedelta(days=12)).isoformat())
    app.locator("#reward_points").fill("50")
    app.get_by_test_id("challenge-badge").select_option(label="Regular")
    screenshot(page, "challenges-01-form")
    app.get_by_test_id("save-challenge").click()
    expect(app.get_by_test_id("toast")).to_have_text("Challenge created")
    expect(app.get_by_test_id("challenge-status")).to_have_text("Draft")

    # And activate it
    app.get_by_test_id("activate-challenge").click()
    expect(app.get_by_test_id("toast")).to_have_text("Challenge activated")
    expect(app.get_by_test_id("challenge-status")).to_have_text("Active")
    screenshot(page, "challenges-02-active")
    assert Challenge.objects.get(shop=installed_shop).status == "active"

    # When the customer's first order arrives
    assert send_webhook(embedded_app, "orders/paid", order(9_300_001)).status_code == 200

    # Then their widget shows the challenge at 1 of 2 orders, 12 days left
    store = f"{embedded_app}/devstore/{SHOP}/store/?customer={CUSTOMER}"
    page.goto(store)
    page.get_by_role("button", name=re.compile(r"^Rewards")).click()
    dialog = page.get_by_role("dialog", name="Bean Club")
    item = dialog.locator(".lw-challenge")
    expect(item).to_contain_text("Come back soon")
    expect(item).to_contain_text("1 of 2 orders")
    expect(item).to_contain_text("12 days left")
    bar = dialog.get_by_role("progressbar", name="Come back soon")
    expect(bar).to_have_attribute("aria-valuenow", "50")
    expect(bar).to_have_attribute("aria-valuetext", "1 of 2 orders")
    expect(dialog.get_by_text("Your badges")).to_have_count(0)
    screenshot(page, "challenges-03-widget-progress")

    # When the second order arrives
    assert send_webhook(embedded_app, "orders/paid", order(9_300_002)).status_code == 200

    # Then the widget shows the challenge completed and the badge, and the points arrived
    widget_challenges_forget()
    page.goto(store)
    page.get_by_role("button", name=re.compile(r"^Rewards")).click()
    dialog = page.get_by_role("dialog", name="Bean Club")
    expect(dialog.locator(".lw-challenge")).to_contain_text("Completed")
    expect(dialog.locator(".lw-challenge")).to_contain_text("2 of 2 orders")
    badges = dialog.get_by_role("region", name="Your badges")
    expect(badges).to_contain_text("Regular")
    expect(dialog.locator(".lw-balance")).to_contain_text("110")
    screenshot(page, "challenges-04-widget-badge")
    assert LedgerEntry.objects.filter(kind="challenge", points=50).count() == 1

    # And the merchant sees who completed it
    page.goto(store_admin_url(embedded_app, f"challenges/{Challenge.objects.get().pk}/"))
    app = app_frame(page)
    expect(app.get_by_test_id("completions-table")).to_contain_text("lin@example.com")
    screenshot(page, "challenges-05-completed")
