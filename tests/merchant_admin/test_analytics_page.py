"""The Analytics page: headline figures against the period before, charts, tables with
their CSV exports, and the what-if card."""

from __future__ import annotations

import csv
import io

import pytest

from loyalty_app.earning.models import Order
from loyalty_app.ledger.models import LedgerEntry
from tests.analytics.conftest import Shopper, a_month_of_orders
from tests.conftest import Clock, PostWebhook

from .conftest import AdminClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper(post_webhook: PostWebhook, clock: Clock) -> Shopper:
    return Shopper(post_webhook, clock)


PERIOD = {"from": "2025-03-01", "to": "2025-03-30"}


def test_the_page_shows_the_headlines_against_the_period_before(
    admin: AdminClient, shopper: Shopper
):
    # given February's and March's orders
    a_month_of_orders(shopper)

    # when March is shown
    response = admin.get("/app/analytics/", PERIOD)

    # then the headlines carry March's figures and the change from February
    assert response.status_code == 200
    body = response.content.decode()
    headlines = {h.key: h for h in response.context["headlines"]}
    assert (headlines["customers"].value, headlines["customers"].previous) == ("4", "2")
    assert headlines["customers"].change == 100
    assert headlines["participation_rate"].value == "50.0%"
    assert headlines["attributed_revenue"].value == "40.00 USD"
    for testid in (
        "points-chart",
        "members-chart",
        "revenue-chart",
        "tier-distribution",
        "what-if",
    ):
        assert f'data-testid="{testid}"' in body
    assert 'data-testid="nav-analytics"' in body and 'aria-current="page"' in body


def test_every_table_exports_as_csv(admin: AdminClient, shopper: Shopper):
    a_month_of_orders(shopper)

    response = admin.get("/app/analytics/", {**PERIOD, "export": "behaviour"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "analytics-behaviour-2025-03-01-2025-03-30.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["group", "customers", "orders", "revenue"]
    assert rows[1][:4] == ["members", "2", "3", "140.00"]
    assert rows[2][:4] == ["non_members", "2", "2", "100.00"]
    for table in (
        "points_per_day",
        "members_per_day",
        "revenue_per_day",
        "redemptions_by_reward",
        "coupon_return",
        "tiers",
        "tier_moves",
    ):
        exported = admin.get("/app/analytics/", {**PERIOD, "export": table})
        assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    days = list(
        csv.reader(
            io.StringIO(
                admin.get(
                    "/app/analytics/", {**PERIOD, "export": "points_per_day"}
                ).content.decode()
            )
        )
    )
    assert len(days) == 31 and days[5] == ["2025-03-05", "130", "0", "230"]


def test_an_unknown_table_is_not_found(admin: AdminClient):
    assert admin.get("/app/analytics/", {"export": "salaries"}).status_code == 404


def test_a_period_that_cannot_be_read_says_so_and_shows_the_last_30_days(admin: AdminClient):
    response = admin.get("/app/analytics/", {"from": "2025-03-10", "to": "2025-03-01"})
    assert response.status_code == 200
    assert 'data-testid="period-error"' in response.content.decode()
    assert response.context["period"].days == 30


def test_the_what_if_card_compares_the_proposal_and_writes_nothing(
    admin: AdminClient, shopper: Shopper
):
    # given orders, and the ledger as it is
    a_month_of_orders(shopper)
    entries, orders = (
        LedgerEntry.objects.count(),
        list(Order.objects.values_list("pk", "points_awarded")),
    )

    # when 2 points per dollar is tried on the last 12 months
    response = admin.get(
        "/app/analytics/", {**PERIOD, "what_if": "1", "points_per_unit": "2", "months": "12"}
    )

    # then the card shows both columns, and nothing was written
    assert response.status_code == 200
    result = response.context["what_if"]["result"]
    assert (result["current"]["points_issued"], result["proposed"]["points_issued"]) == (240, 480)
    assert 'data-testid="what-if-result"' in response.content.decode()
    assert LedgerEntry.objects.count() == entries
    assert list(Order.objects.values_list("pk", "points_awarded")) == orders


def test_a_proposal_that_cannot_be_read_says_which_field(admin: AdminClient):
    response = admin.get("/app/analytics/", {"what_if": "1", "points_per_unit": "lots"})
    assert response.status_code == 200
    assert response.context["what_if"]["error"].startswith("Points per unit")
    assert response.context["what_if"]["result"] is None


def test_another_shops_admin_sees_none_of_these_figures(
    admin: AdminClient, other_admin: AdminClient, shopper: Shopper
):
    a_month_of_orders(shopper)

    response = other_admin.get("/app/analytics/", PERIOD)

    headlines = {h.key: h for h in response.context["headlines"]}
    assert headlines["customers"].value == "0" and headlines["members"].value == "0"
    exported = other_admin.get("/app/analytics/", {**PERIOD, "export": "behaviour"})
    assert list(csv.reader(io.StringIO(exported.content.decode())))[1][1] == "0"


def test_without_a_session_token_the_page_is_refused(client):
    assert client.get("/app/analytics/").status_code == 401
