"""POST /api/v1/events: actions reported by another app or the merchant's own system."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.earning.models import ActionEvent
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.selectors import ledger_balance
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_upsert
from shopify_bridge.devstore.payloads import LineSpec, order_payload

ALL_ACTIONS = [
    {"key": "signup", "points": 100},
    {"key": "newsletter", "points": 25},
    {"key": "social_follow", "points": 15},
    {"key": "product_review", "points": 50},
    {"key": "birthday", "points": 200},
    {
        "key": "store_event",
        "name": "Attended the store event",
        "points": 40,
        "limit": {"count": 2, "period": "month"},
    },
]


def post_event(client: Client, body: Any, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        "/api/v1/events", data=json.dumps(body), content_type="application/json", headers=headers
    )


def customer(shop, external_id: str = "501", email: str = "ada@example.com") -> Member:
    return member_upsert(shop=shop, customer=CustomerRef(external_id=external_id, email=email))


@pytest.fixture
def program(shop) -> None:
    program_update(shop=shop.shop, data={"actions": ALL_ACTIONS}, actor="test")


@pytest.fixture
def ada(shop, program) -> Member:
    return customer(shop.shop)


# --- each action ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "target", "points", "reason"),
    [
        ("newsletter", "", 25, "Signed up for the newsletter"),
        ("social_follow", "instagram", 15, "Followed us (instagram)"),
        ("product_review", "sku-42", 50, "Wrote a product review (sku-42)"),
        ("store_event", "", 40, "Attended the store event"),
        ("signup", "", 100, "Joined the program"),
    ],
)
def test_each_action_reported_for_a_customer_earns_its_points(
    api, ada, action, target, points, reason
):
    # When the action is reported for customer 501
    response = post_event(
        api, {"action": action, "customer_id": "501", "event_id": "e-1", "target": target}
    )

    # Then it is awarded and the balance shows it
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "awarded"
    assert body["points"] == points
    assert body["balance"] == points
    assert body["event_id"] == "e-1"
    assert body["customer_id"] == "501"
    assert body["replayed"] is False
    assert body["id"] == ActionEvent.objects.get().pk
    assert LedgerEntry.objects.get(member=ada).reason == reason


def test_an_event_over_its_limit_answers_limit_reached_with_no_points(api, ada):
    post_event(api, {"action": "newsletter", "customer_id": "501", "event_id": "n-1"})

    response = post_event(api, {"action": "newsletter", "customer_id": "501", "event_id": "n-2"})

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["points"], body["balance"]) == ("limit_reached", 0, 25)
    # Once in a lifetime: never again
    assert body["next_available_at"] is None


def test_limit_reached_says_when_the_next_award_is_possible(api, ada, clock):
    # Given twice a month, used twice in May (shop in UTC)
    clock.set(datetime(2025, 5, 10, 12, tzinfo=UTC))
    for i in (1, 2):
        post_event(api, {"action": "store_event", "customer_id": "501", "event_id": f"s-{i}"})

    # When a third is reported
    response = post_event(api, {"action": "store_event", "customer_id": "501", "event_id": "s-3"})

    # Then it is refused until June
    body = response.json()
    assert body["status"] == "limit_reached"
    assert body["next_available_at"] == "2025-06-01T00:00:00Z"


def test_the_idempotency_key_header_can_name_the_event(api, ada):
    first = post_event(api, {"action": "newsletter", "customer_id": "501"}, key="hdr-1")
    replay = post_event(api, {"action": "newsletter", "customer_id": "501"}, key="hdr-1")

    assert first.status_code == 201
    assert replay.status_code == 200
    assert replay.json()["replayed"] is True
    assert replay.json()["id"] == first.json()["id"]


def test_occurred_at_without_an_offset_is_the_shops_wall_clock(api, shop, ada, clock):
    shop.shop.timezone = "America/New_York"
    shop.shop.save(update_fields=["timezone"])
    clock.set(datetime(2025, 5, 20, 12, tzinfo=UTC))

    response = post_event(
        api,
        {
            "action": "newsletter",
            "customer_id": "501",
            "event_id": "n-1",
            "occurred_at": "2025-05-19T09:30:00",
        },
    )

    assert response.status_code == 201
    assert response.json()["occurred_at"] == "2025-05-19T13:30:00Z"


# --- replays and conflicts -----------------------------------------------------------------


def test_a_replayed_event_returns_the_first_result_and_awards_nothing(api, ada):
    body = {"action": "product_review", "customer_id": "501", "event_id": "r-1", "target": "p1"}
    first = post_event(api, body)

    replay = post_event(api, body)

    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == {**first.json(), "replayed": True}
    assert LedgerEntry.objects.count() == 1
    assert ledger_balance(member=ada) == 50


def test_the_same_event_id_for_another_action_is_a_conflict(api, ada):
    post_event(api, {"action": "newsletter", "customer_id": "501", "event_id": "k-1"})

    response = post_event(api, {"action": "store_event", "customer_id": "501", "event_id": "k-1"})

    assert response.status_code == 409
    assert "event_id was already used" in response.json()["error"]
    assert ActionEvent.objects.count() == 1


def test_the_same_event_id_for_another_email_is_a_conflict_and_creates_nobody(api, program):
    post_event(api, {"action": "signup", "email": "ada@example.com", "event_id": "k-1"})

    response = post_event(api, {"action": "signup", "email": "bob@example.com", "event_id": "k-1"})

    assert response.status_code == 409
    assert not Member.objects.filter(email="bob@example.com").exists()


def test_body_event_id_and_a_different_header_are_refused(api, ada):
    response = post_event(
        api, {"action": "newsletter", "customer_id": "501", "event_id": "a"}, key="b"
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("event_id:")


# --- errors name the field -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"customer_id": "501", "event_id": "k"}, "action", "required"),
        ({"action": "webinar", "customer_id": "501", "event_id": "k"}, "action", "'webinar'"),
        ({"action": "birthday", "customer_id": "501", "event_id": "k"}, "action", "birthday job"),
        ({"action": "newsletter", "event_id": "k"}, "customer_id", "is required"),
        (
            {"action": "newsletter", "customer_id": "501", "email": "a@b.co", "event_id": "k"},
            "customer_id",
            "not both",
        ),
        ({"action": "newsletter", "email": "not-an-email", "event_id": "k"}, "email", "valid"),
        ({"action": "newsletter", "customer_id": "501"}, "event_id", "Idempotency-Key"),
        (
            {"action": "newsletter", "customer_id": "501", "event_id": "k", "occurred_at": "soon"},
            "occurred_at",
            "ISO 8601",
        ),
        (
            {
                "action": "newsletter",
                "customer_id": "501",
                "event_id": "k",
                "occurred_at": "2999-01-01T00:00:00Z",
            },
            "occurred_at",
            "future",
        ),
        (
            {
                "action": "newsletter",
                "customer_id": "501",
                "event_id": "k",
                "occurred_at": "2001-01-01T00:00:00Z",
            },
            "occurred_at",
            "90 days",
        ),
        ({"action": "product_review", "customer_id": "501", "event_id": "k"}, "target", "target"),
        (
            {"action": "newsletter", "customer_id": "501", "event_id": "k", "data": [1]},
            "data",
            "object",
        ),
        (
            {
                "action": "newsletter",
                "customer_id": "501",
                "event_id": "k",
                "data": {"x": "y" * 3000},
            },
            "data",
            "2048",
        ),
    ],
)
def test_a_bad_event_is_refused_with_the_field_named(api, ada, body, field, message):
    response = post_event(api, body)

    assert response.status_code == 400
    error = response.json()
    assert error["error"].startswith(f"{field}:")
    assert field in error["fields"]
    assert message in error["error"]
    assert not ActionEvent.objects.exists()


def test_an_unknown_customer_id_is_404(api, program):
    response = post_event(api, {"action": "newsletter", "customer_id": "999", "event_id": "k"})

    assert response.status_code == 404
    assert not Member.objects.exists()


def test_a_disabled_action_is_refused(api, shop, ada):
    program_update(
        shop=shop.shop,
        data={"actions": [{"key": "newsletter", "points": 5, "enabled": False}]},
        actor="test",
    )

    response = post_event(api, {"action": "newsletter", "customer_id": "501", "event_id": "k"})

    assert response.status_code == 400
    assert response.json()["error"] == "action: 'newsletter' is disabled in this shop's program"


# --- sign-up with just an email ----------------------------------------------------------


def test_signing_up_with_just_an_email_joins_the_program_and_awards_it(api, shop, program):
    # When a newsletter form signs up a new shopper by email
    response = post_event(
        api, {"action": "signup", "email": "Grace@Example.com", "event_id": "form-77"}
    )

    # Then she is a member without a customer id, with the sign-up points
    assert response.status_code == 201
    body = response.json()
    assert (body["customer_id"], body["email"], body["balance"]) == (None, "Grace@Example.com", 100)
    member = Member.objects.get(shop=shop.shop)
    assert member.external_id is None
    assert member.points_balance == 100


def test_an_order_with_the_email_lands_on_the_member_who_signed_up_by_email(
    api, shop, program, post_webhook
):
    # Given a shopper who joined by email
    post_event(api, {"action": "signup", "email": "grace@example.com", "event_id": "form-77"})

    # When she places an order as customer 777 with that email
    payload = order_payload(
        order_id=9001,
        lines=[LineSpec(price=Decimal("30.00"))],
        customer_id=777,
        email="grace@example.com",
    )
    assert post_webhook("orders/create", payload).status_code == 200

    # Then it is the same member: her sign-up points and the order's are together
    member = Member.objects.get(shop=shop.shop)
    assert member.external_id == "777"
    assert member.points_balance == 130
    assert api.get("/api/v1/customers/777").json()["points_balance"] == 130


def test_a_refused_report_for_a_new_email_creates_nobody(api, program):
    # A review needs a target: the report is refused before anyone joins
    response = post_event(
        api, {"action": "product_review", "email": "new@example.com", "event_id": "k"}
    )

    assert response.status_code == 400
    assert not Member.objects.exists()


def test_replaying_a_signup_by_email_finds_the_member_it_created(api, program):
    body = {"action": "signup", "email": "grace@example.com", "event_id": "form-77"}
    first = post_event(api, body)

    replay = post_event(api, {**body, "email": "GRACE@example.com"})

    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    assert Member.objects.count() == 1


def test_an_email_of_a_known_customer_reports_for_that_customer(api, ada):
    response = post_event(
        api, {"action": "newsletter", "email": "ADA@example.com", "event_id": "k"}
    )

    assert response.status_code == 201
    assert response.json()["customer_id"] == "501"
    assert Member.objects.count() == 1


# --- tenancy -----------------------------------------------------------------------------------


def test_another_shops_token_cannot_report_for_this_shops_customer(ada, other_shop):
    program_update(shop=other_shop.shop, data={"actions": ALL_ACTIONS}, actor="test")
    other = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    response = post_event(other, {"action": "newsletter", "customer_id": "501", "event_id": "k"})

    assert response.status_code == 404
    assert not ActionEvent.objects.exists()


def test_the_same_event_id_in_two_shops_is_two_events(api, ada, other_shop):
    program_update(shop=other_shop.shop, data={"actions": ALL_ACTIONS}, actor="test")
    customer(other_shop.shop, "501")
    other = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    here = post_event(api, {"action": "newsletter", "customer_id": "501", "event_id": "k"})
    there = post_event(other, {"action": "newsletter", "customer_id": "501", "event_id": "k"})

    assert (here.status_code, there.status_code) == (201, 201)
    assert here.json()["id"] != there.json()["id"]
    assert ActionEvent.objects.count() == 2


def test_an_event_id_cannot_take_the_key_of_an_award_the_app_makes(api, ada):
    # A caller's id is namespaced: "signup:customer:501" does not block the webhook's sign-up
    post_event(
        api, {"action": "newsletter", "customer_id": "501", "event_id": "signup:customer:501"}
    )

    assert ActionEvent.objects.get().event_key == "api:signup:customer:501"


def test_what_the_reporter_says_about_the_event_is_kept_with_it(api, ada):
    response = post_event(
        api,
        {
            "action": "store_event",
            "customer_id": "501",
            "event_id": "ev-data-1",
            "data": {"venue": "Lyon", "ticket": 17},
        },
    )

    assert response.status_code == 201
    event = ActionEvent.objects.get(event_key="api:ev-data-1")
    assert event.data == {"venue": "Lyon", "ticket": 17}
