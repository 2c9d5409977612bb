"""A shop names its points "stars" on the Program page; the storefront widget and the
admin's pages then say stars."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from playwright.sync_api import expect

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.merchant_admin.models import WidgetSettings
from loyalty_app.widget.selectors import shop_program_forget

from .conftest import SHOP, app_frame, screenshot, store_admin_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_merchant_names_the_points_stars_and_the_widget_says_stars(
    page, installed_shop, embedded_app
):
    caches["ratelimit"].clear()
    shop_program_forget()
    WidgetSettings.objects.create(shop=installed_shop, enabled=True)
    member = Member.objects.create(shop=installed_shop, external_id="7001", email="ada@example.com")
    ledger_entry_add(
        member=member,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        points=1250,
        idempotency_key="gift",
        reason="Welcome gift",
    )

    # the merchant names the points on the Program page
    page.goto(store_admin_url(embedded_app, "program/"))
    app = app_frame(page)
    app.get_by_label("One (singular)").fill("star")
    app.get_by_label("Many (plural)").fill("stars")
    app.get_by_test_id("save-program").click()
    expect(app.get_by_test_id("toast")).to_have_text("Program saved")
    expect(app.get_by_text("Stars per unit of currency")).to_be_visible()
    screenshot(page, "named-points-program")

    # the customer's page in the admin says stars
    page.goto(store_admin_url(embedded_app, f"customers/{member.pk}/"))
    expect(app_frame(page).get_by_role("heading", name="Stars history")).to_be_visible()

    # the storefront widget says stars
    shop_program_forget()
    page.goto(f"{embedded_app}/devstore/{SHOP}/store/?customer=7001")
    launcher = page.locator(".lw-launcher")
    expect(launcher).to_contain_text("1,250 stars")
    launcher.click()
    expect(page.locator(".lw-balance")).to_have_text("1,250 stars")
    screenshot(page, "named-points-widget")
