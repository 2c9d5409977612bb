"""The survey after a redemption, in a real browser: the shopper redeems in the storefront
widget, answers "how likely are you to recommend", and the merchant reads the net
promoter score on the Analytics page inside the simulated store admin."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from playwright.sync_api import expect

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.merchant_admin.models import WidgetSettings
from loyalty_app.rewards.services import reward_create
from loyalty_app.surveys.models import SurveyResponse
from loyalty_app.widget.selectors import shop_program_forget

from .conftest import SHOP, app_frame, screenshot, store_admin_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def store(installed_shop, embedded_app):
    """The storefront with the widget on, one reward, and customers 7001 and 7002 members
    with 600 points each."""
    caches["ratelimit"].clear()
    shop_program_forget()
    WidgetSettings.objects.create(shop=installed_shop, enabled=True, panel_title="Bean Club")
    reward_create(
        shop=installed_shop,
        data={"kind": "fixed_amount", "title": "5.00 off", "points_cost": 500, "value": "5.00"},
        actor="t",
    )
    for customer in ("7001", "7002"):
        member = Member.objects.create(
            shop=installed_shop, external_id=customer, email=f"c{customer}@example.com"
        )
        ledger_entry_add(
            member=member,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            points=600,
            idempotency_key=f"gift-{customer}",
            reason="Welcome gift",
        )
    return f"{embedded_app}/devstore/{SHOP}/store/"


def redeem_in_the_widget(page, store, customer):
    page.goto(f"{store}?customer={customer}")
    page.get_by_role("button", name="Rewards").click()
    page.get_by_role("button", name="Redeem 5.00 off").click()
    expect(page.locator(".lw-fresh")).to_contain_text("Your new code")


def test_a_shopper_answers_after_redeeming_and_the_merchant_reads_the_score(
    page, browser, store, embedded_app
):
    # Given the merchant turns the survey on from the Analytics page
    page.goto(store_admin_url(embedded_app, "analytics/"))
    app = app_frame(page)
    app.get_by_test_id("survey-enabled").check()
    app.get_by_test_id("survey-save").click()
    expect(app.get_by_text("Survey saved")).to_be_visible()
    expect(app.get_by_test_id("survey-enabled")).to_be_checked()

    # When customer 7001 redeems a reward in the storefront widget
    shopper = browser.new_page(viewport={"width": 1280, "height": 900})
    shopper.set_default_timeout(10_000)
    redeem_in_the_widget(shopper, store, "7001")

    # Then the panel asks how likely they are to recommend the shop
    survey = shopper.locator(".lw-survey")
    expect(survey).to_contain_text("How likely are you to recommend")
    screenshot(shopper, "nps-01-survey-after-redemption")

    # When they choose 10, add a comment and send it
    shopper.get_by_role("button", name="10 out of 10").click()
    expect(shopper.get_by_role("button", name="10 out of 10")).to_have_attribute(
        "aria-pressed", "true"
    )
    shopper.locator("#lw-survey-comment").fill("Great beans, fast shipping")
    shopper.get_by_role("button", name="Send").click()

    # Then the widget thanks them and does not ask again, even after a reload
    expect(shopper.locator(".lw-live")).to_contain_text("Thank you for your answer!")
    expect(survey).to_have_count(0)
    screenshot(shopper, "nps-02-answered")
    shopper.reload()
    shopper.get_by_role("button", name="Rewards").click()
    expect(shopper.locator(".lw-balance")).to_contain_text("100")
    expect(shopper.locator(".lw-survey")).to_have_count(0)

    # When customer 7002 redeems and answers 6 without a comment
    redeem_in_the_widget(shopper, store, "7002")
    shopper.get_by_role("button", name="6 out of 10").click()
    shopper.get_by_role("button", name="Send").click()
    expect(shopper.locator(".lw-live")).to_contain_text("Thank you")
    shopper.close()
    assert sorted(SurveyResponse.objects.values_list("score", flat=True)) == [6, 10]

    # Then the Analytics page shows one promoter and one detractor of two answers: 0
    page.goto(store_admin_url(embedded_app, "analytics/"))
    app = app_frame(page)
    expect(app.get_by_test_id("nps-score")).to_have_text("0.0")
    expect(app.get_by_test_id("nps-responses")).to_have_text("2")
    expect(app.get_by_test_id("nps-promoters")).to_have_text("1")
    expect(app.get_by_test_id("nps-detractors")).to_have_text("1")
    expect(app.get_by_test_id("export-nps_responses")).to_have_attribute(
        "href", __import__("re").compile(r"export=nps_responses")
    )
    app.get_by_test_id("nps-card").scroll_into_view_if_needed()
    screenshot(page, "nps-03-analytics-score")
