"""GET /api/v1/analytics: every figure of a small shop, computed by hand."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from loyalty_app.earning.services import program_update
from loyalty_app.rewards.services import reward_create

from .conftest import a_month_of_orders, noon

pytestmark = pytest.mark.django_db

PERIOD = {"from": "2025-03-01", "to": "2025-03-30"}


def get(api: Any, **params: str) -> dict[str, Any]:
    response = api.get("/api/v1/analytics", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_program_size_counts_members_customers_and_guests(api, shopper):
    # given a month of members' and guests' orders
    a_month_of_orders(shopper)

    # when March is read
    body = get(api, **PERIOD)

    # then two members and two guest checkouts bought: half the customers are members
    assert body["program"] == {
        "customers": 4,
        "members": 2,
        "new_members": 1,
        "member_customers": 2,
        "guest_orders": 2,
        "participation_rate": "0.5000",
        "active_members": 2,
    }
    assert (body["from"], body["to"], body["days"], body["currency"]) == (
        "2025-03-01",
        "2025-03-30",
        30,
        "USD",
    )


def test_points_and_the_liability_priced_by_the_cheapest_reward_per_point(api, shop, shopper):
    # given the orders, and rewards worth 5 cents and 10 cents a point
    a_month_of_orders(shopper)
    reward_create(
        shop=shop.shop,
        data={"kind": "fixed_amount", "title": "5 off", "points_cost": 100, "value": "5"},
        actor="test",
    )
    reward_create(
        shop=shop.shop,
        data={
            "kind": "variable_credit",
            "title": "Credit",
            "points_per_step": 10,
            "value_per_step": "1",
            "min_points": 10,
            "max_points": 1000,
        },
        actor="test",
    )

    body = get(api, **PERIOD)

    # then March issued 160 and took 20 back; 240 points are out, at 0.05 each
    assert body["points"] == {
        "issued": 160,
        "taken_back": 20,
        "redeemed": 0,
        "expired": 0,
        "pending": 0,
        "redemption_rate": "0.0000",
        "breakage": "0.0000",
        "outstanding": 240,
        "point_value": "0.05",
        "liability": "12.00",
    }
    days = {d["day"]: d for d in body["series"]["points_per_day"]}
    assert days["2025-03-05"] == {
        "day": "2025-03-05",
        "issued": 130,
        "redeemed": 0,
        "outstanding": 230,
    }
    assert days["2025-03-08"]["outstanding"] == 240
    assert days["2025-03-01"]["outstanding"] == 100  # February's points
    assert len(days) == 30


def test_members_and_non_members_behave_as_computed_by_hand(api, shopper):
    a_month_of_orders(shopper)

    body = get(api, **PERIOD)

    members, others = body["behaviour"]["members"], body["behaviour"]["non_members"]
    # members: 501 bought 50 + 30, 502 bought 80 less 20; 501 also 100 in February
    assert members == {
        "customers": 2,
        "orders": 3,
        "revenue": "140.00",
        "repeat_purchase_rate": "0.5000",
        "orders_per_customer": "1.5000",
        "average_order_value": "46.67",
        "revenue_per_customer": "70.00",
        "clv_to_date": "120.00",
        "clv_projected": "971.67",  # 120 + 70 x 365 / 30
        "mean_days_between_orders": "12.5",  # 501: 10 Feb -> 7 Mar, 25 days, 2 gaps
    }
    # non-members: two guest checkouts, one customer each
    assert others == {
        "customers": 2,
        "orders": 2,
        "revenue": "100.00",
        "repeat_purchase_rate": "0.0000",
        "orders_per_customer": "1.0000",
        "average_order_value": "50.00",
        "revenue_per_customer": "50.00",
        "clv_to_date": "50.00",
        "clv_projected": "658.33",
        "mean_days_between_orders": None,
    }
    revenue = {d["day"]: d for d in body["series"]["revenue_per_day"]}
    assert revenue["2025-03-05"] == {
        "day": "2025-03-05",
        "members": "110.00",
        "non_members": "0.00",
    }
    assert revenue["2025-03-06"]["non_members"] == "100.00"
    new = {d["day"]: d["new_members"] for d in body["series"]["members_per_day"]}
    assert new["2025-03-05"] == 1 and sum(new.values()) == 1


def test_the_attributed_revenue_is_members_revenue_above_the_non_member_baseline(api, shopper):
    a_month_of_orders(shopper)

    body = get(api, **PERIOD)

    # 140 - 50 per non-member x 2 members; no reward or cash-back cost, so no ROI
    assert body["cost"] == {
        "rewards_value": "0.00",
        "cashback": "0.00",
        "total": "0.00",
        "share_of_members_revenue": "0.0000",
        "members_revenue": "140.00",
        "baseline_revenue_per_customer": "50.00",
        "attributed_revenue": "40.00",
        "roi": None,
    }


def test_the_previous_period_is_the_same_number_of_days_before(api, shopper):
    a_month_of_orders(shopper)

    body = get(api, **PERIOD)

    # then February's figures sit beside March's, with the change in percent
    previous = body["previous"]
    assert (previous["from"], previous["to"]) == ("2025-01-30", "2025-02-28")
    assert previous["program"]["customers"] == 2
    assert previous["program"]["members"] == 1
    assert previous["points"]["issued"] == 100
    assert previous["cost"]["attributed_revenue"] == "80.00"  # 100 - 20 x 1
    assert body["changes"]["program.customers"] == 100
    assert body["changes"]["points.issued"] == 60
    assert body["changes"]["cost.roi"] is None


def test_without_dates_the_last_30_days_up_to_today_are_read(api, shopper):
    a_month_of_orders(shopper)  # the clock ends on 2 April

    body = get(api)

    assert (body["from"], body["to"]) == ("2025-03-04", "2025-04-02")
    assert body["program"]["customers"] == 4


def test_a_period_that_cannot_be_read_is_a_400_naming_the_field(api):
    assert api.get("/api/v1/analytics", {"from": "2025-13-01"}).status_code == 400
    response = api.get("/api/v1/analytics", {"from": "2025-03-10", "to": "2025-03-01"})
    assert response.status_code == 400 and "to" in response.json()["fields"]
    response = api.get("/api/v1/analytics", {"from": "2020-01-01", "to": "2025-03-01"})
    assert response.status_code == 400 and "from" in response.json()["fields"]


def test_another_shops_token_sees_none_of_these_orders(shop, shopper, other_shop):
    # given orders in the first shop
    a_month_of_orders(shopper)
    other = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    # when the other shop reads the same period
    body = get(other, **PERIOD)

    # then it sees nothing of them
    assert body["program"]["customers"] == 0 and body["program"]["members"] == 0
    assert body["points"]["issued"] == 0 and body["points"]["outstanding"] == 0


def test_without_a_token_the_figures_are_refused(client, db):
    assert client.get("/api/v1/analytics").status_code in (401, 403)


def test_a_customer_who_never_earned_counts_as_a_non_member(api, shop, shopper):
    # given the program paused when 601 bought twice, and live again when 602 bought
    shopper.clock.set(noon("2025-02-20"))
    program_update(shop=shop.shop, data={"enabled": False}, actor="test")
    shopper.buy(3001, "2025-03-02", "70.00", customer=601)
    shopper.buy(3002, "2025-03-09", "30.00", customer=601)
    shopper.clock.set(noon("2025-03-10"))
    program_update(shop=shop.shop, data={"enabled": True}, actor="test")
    shopper.buy(3003, "2025-03-12", "90.00", customer=602)
    shopper.clock.set(noon("2025-04-02"))

    body = get(api, **PERIOD)

    # then 601 has a customer record but never joined or earned: a non-member who came back
    assert body["program"]["customers"] == 2
    assert (body["program"]["members"], body["program"]["member_customers"]) == (1, 1)
    others = body["behaviour"]["non_members"]
    assert (others["customers"], others["orders"], others["revenue"]) == (1, 2, "100.00")
    assert others["repeat_purchase_rate"] == "1.0000"
    assert others["mean_days_between_orders"] == "7.0"


def test_off_postgresql_the_same_figures_come_from_the_portable_report(
    api, shopper, admin_client_for_shop, monkeypatch
):
    # given the month of orders, and a database the PostgreSQL aggregates cannot run on
    # (the embedded SQLite one): the report is computed by analytics.portable
    from types import SimpleNamespace

    from loyalty_app.analytics import selectors

    a_month_of_orders(shopper)
    monkeypatch.setattr(selectors, "connection", SimpleNamespace(vendor="sqlite"))

    # then the API answers the figures computed by hand, and the admin page shows them
    body = get(api, **PERIOD)
    assert body["program"]["customers"] == 4 and body["program"]["members"] == 2
    assert body["behaviour"]["members"]["revenue"] == "140.00"
    assert body["points"]["issued"] == 160 and body["points"]["outstanding"] == 240
    page = admin_client_for_shop.get("/app/analytics/", PERIOD)
    assert page.status_code == 200
    assert 'data-testid="points-issued">160<' in page.content.decode()
