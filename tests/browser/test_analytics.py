"""The Analytics page in a real browser, inside the simulated store admin: the figures
of orders sent as signed webhooks, the charts, a CSV export link, and the what-if card."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from shopify_bridge.devstore.payloads import LineSpec, order_payload

from .conftest import app_frame, screenshot, send_webhook, store_admin_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_merchant_reads_the_figures_and_tries_two_points_per_dollar(
    page, embedded_app, installed_shop
):
    # Given two members' orders and a guest checkout, sent as the store sends them
    for order_id, customer, amount in (
        (9_200_001, 7_800_001, "120.00"),
        (9_200_002, 7_800_002, "80.00"),
        (9_200_003, None, "50.00"),
    ):
        payload = order_payload(
            order_id=order_id,
            lines=[LineSpec(price=Decimal(amount), title="House Blend Coffee 1kg")],
            customer_id=customer,
            email=f"c{customer}@example.com" if customer else "",
        )
        assert send_webhook(embedded_app, "orders/paid", payload).status_code == 200

    # When the merchant opens Analytics from the navigation
    page.goto(store_admin_url(embedded_app, "customers/"))
    app = app_frame(page)
    app.get_by_test_id("nav-analytics").click()

    # Then the headlines, the charts and the tables show the last 30 days
    expect(app.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    expect(app.get_by_test_id("headline-customers")).to_contain_text("3")
    expect(app.get_by_test_id("headline-participation_rate")).to_contain_text("66.7%")
    expect(app.get_by_test_id("points-chart")).to_be_visible()
    expect(app.get_by_test_id("revenue-chart")).to_be_visible()
    expect(app.get_by_test_id("table-behaviour")).to_contain_text("200.00")
    app.get_by_test_id("revenue-chart").scroll_into_view_if_needed()
    expect(app.get_by_test_id("export-behaviour")).to_have_attribute(
        "href", re.compile(r"export=behaviour")
    )
    screenshot(page, "analytics-01-figures")

    # When 2 points per dollar is tried on the last 12 months
    app.get_by_test_id("what-if-points-per-unit").fill("2")
    app.get_by_test_id("what-if-submit").click()

    # Then the card compares the rules in force with the proposal, and nothing changed
    expect(app.get_by_test_id("what-if-proposed-points")).to_have_text("400")
    app.get_by_test_id("what-if-result").scroll_into_view_if_needed()
    screenshot(page, "analytics-02-what-if")
