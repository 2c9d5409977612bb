"""A customer's actions (what they did, what they can still do) and their birthday."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.earning.services import program_update
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_upsert

ACTIONS = [
    {"key": "newsletter", "points": 25},
    {"key": "social_follow", "points": 15},
    {"key": "birthday", "points": 200},
    {"key": "training", "points": 10, "limit": {"count": 3, "period": "month"}},
    {"key": "webinar", "points": 5, "enabled": False},
]


def post_event(client: Client, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/events", data=json.dumps(body), content_type="application/json")


def put_birthday(client: Client, customer_id: str, body: Any) -> Any:
    return client.put(
        f"/api/v1/customers/{customer_id}/birthday",
        data=json.dumps(body),
        content_type="application/json",
    )


@pytest.fixture
def ada(shop) -> Member:
    program_update(shop=shop.shop, data={"actions": ACTIONS}, actor="test")
    return member_upsert(
        shop=shop.shop, customer=CustomerRef(external_id="501", email="ada@example.com")
    )


# --- GET /customers/<id>/actions -------------------------------------------------------


def test_a_customer_sees_each_enabled_action_with_what_is_left_of_its_limit(api, ada, clock):
    # Given in May: a newsletter sign-up, an Instagram follow, two trainings
    clock.set(datetime(2025, 5, 10, 12, tzinfo=UTC))
    post_event(api, {"action": "newsletter", "customer_id": "501", "event_id": "n"})
    post_event(
        api,
        {"action": "social_follow", "customer_id": "501", "event_id": "f", "target": "instagram"},
    )
    for i in (1, 2):
        post_event(api, {"action": "training", "customer_id": "501", "event_id": f"t{i}"})

    # When the widget asks
    response = api.get("/api/v1/customers/501/actions")

    # Then each enabled action says how much of its limit is used
    assert response.status_code == 200
    body = response.json()
    actions = {a["key"]: a for a in body["actions"]}
    assert list(actions) == ["newsletter", "social_follow", "birthday", "training"]
    assert actions["newsletter"] | {"limit": None} == {
        "key": "newsletter",
        "name": "Sign up for the newsletter",
        "points": 25,
        "limit": None,
        "used": 1,
        "remaining": 0,
        "available": False,
        "period_start": None,
        "period_end": None,
        "next_available_at": None,
        "targets_done": [],
    }
    assert actions["social_follow"]["available"] is True  # another network still earns
    assert actions["social_follow"]["targets_done"] == ["instagram"]
    assert actions["social_follow"]["remaining"] is None
    training = actions["training"]
    assert (training["used"], training["remaining"], training["available"]) == (2, 1, True)
    assert training["limit"] == {"count": 3, "period": "month", "per_target": False}
    assert (training["period_start"], training["period_end"]) == (
        "2025-05-01T00:00:00Z",
        "2025-06-01T00:00:00Z",
    )
    assert actions["birthday"]["available"] is True
    # And what the customer did, newest first
    assert [e["action"] for e in body["recent"]][-1] == "newsletter"
    assert len(body["recent"]) == 4


def test_a_used_up_monthly_action_says_when_it_comes_back(api, ada, clock):
    clock.set(datetime(2025, 5, 10, 12, tzinfo=UTC))
    for i in (1, 2, 3):
        post_event(api, {"action": "training", "customer_id": "501", "event_id": f"t{i}"})

    training = next(
        a
        for a in api.get("/api/v1/customers/501/actions").json()["actions"]
        if a["key"] == "training"
    )

    assert training["available"] is False
    assert training["next_available_at"] == "2025-06-01T00:00:00Z"


def test_another_shops_token_gets_404_for_a_customers_actions(ada, other_shop):
    other = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    assert other.get("/api/v1/customers/501/actions").status_code == 404
    assert put_birthday(other, "501", {"month": 5, "day": 17}).status_code == 404
    ada.refresh_from_db()
    assert ada.birthday_month is None


def test_an_unknown_customer_has_no_actions(api, ada):
    assert api.get("/api/v1/customers/999/actions").status_code == 404


# --- PUT /customers/<id>/birthday ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "month", "day"),
    [
        ({"month": 5, "day": 17}, 5, 17),
        ({"date": "1990-05-17"}, 5, 17),
        ({"month": 2, "day": 29}, 2, 29),
        ({"date": "2000-02-29"}, 2, 29),
    ],
)
def test_a_birthday_is_set_by_month_and_day_or_by_date(api, ada, body, month, day):
    response = put_birthday(api, "501", body)

    assert response.status_code == 200
    assert response.json() == {"customer_id": "501", "birthday": {"month": month, "day": day}}
    ada.refresh_from_db()
    assert (ada.birthday_month, ada.birthday_day) == (month, day)
    assert api.get("/api/v1/customers/501/actions").json()["birthday"] == {
        "month": month,
        "day": day,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"month": 13, "day": 1}, "month"),
        ({"month": 4, "day": 31}, "day"),
        ({"month": 2, "day": 30}, "day"),
        ({"month": 5}, "day"),
        ({"day": 5}, "month"),
        ({}, "month"),
        ({"date": "1990-02-29"}, "date"),
        ({"date": "17/05/1990"}, "date"),
        ({"date": "1990-05-17", "month": 5}, "date"),
        ({"month": "May", "day": 17}, "month"),
    ],
)
def test_a_bad_birthday_is_refused_with_the_field_named(api, ada, body, field):
    response = put_birthday(api, "501", body)

    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{field}:")
    ada.refresh_from_db()
    assert ada.birthday_month is None


def test_a_birthday_for_an_unknown_customer_is_404(api, ada):
    assert put_birthday(api, "999", {"month": 5, "day": 17}).status_code == 404


def test_the_openapi_schema_lists_the_action_endpoints(client, db):
    paths = client.get("/api/schema/?format=json").json()["paths"]

    assert list(paths["/api/v1/events/"]) == ["post"]
    assert list(paths["/api/v1/customers/{customer_id}/actions/"]) == ["get"]
    assert list(paths["/api/v1/customers/{customer_id}/birthday/"]) == ["put"]
