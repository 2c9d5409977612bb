"""The merchant API for customers: balance, ledger, adjustments; tokens and tenancy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_upsert
from loyalty_app.shops.models import ApiToken
from loyalty_app.shops.services import api_token_revoke


def new_member(shop, external_id: str = "501", points: int = 0) -> Member:
    member = member_upsert(
        shop=shop,
        customer=CustomerRef(
            external_id=external_id, email="ada@example.com", first_name="Ada", last_name="L"
        ),
    )
    if points:
        ledger_entry_add(
            member=member, kind="order", points=points, idempotency_key=f"seed:{external_id}"
        )
    return member


def client_for(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})


def adjust(client: Client, customer_id: str, body: Any, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/api/v1/customers/{customer_id}/adjustments",
        data=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture
def ada(shop) -> Member:
    return new_member(shop.shop, points=120)


# --- reading a customer ----------------------------------------------------------------------


def test_a_customer_shows_its_points_balance_and_no_tier(api, ada):
    response = api.get("/api/v1/customers/501")

    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == "501"
    assert body["points_balance"] == 120
    assert type(body["points_balance"]) is int
    assert body["tier"] is None
    assert (body["email"], body["first_name"], body["last_name"]) == ("ada@example.com", "Ada", "L")
    assert body["member_since"]


def test_the_trailing_slash_is_optional(api, ada):
    assert api.get("/api/v1/customers/501/").json()["points_balance"] == 120


def test_an_unknown_customer_is_404(api, ada):
    response = api.get("/api/v1/customers/999")

    assert response.status_code == 404
    assert response.json() == {"error": "no such customer in this shop"}


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "Authentication credentials were not provided."),
        ({"Authorization": "Bearer lyl_not-a-real-token"}, "invalid or revoked API token"),
        ({"Authorization": "Bearer"}, "expected 'Authorization: Bearer <api_token>'"),
        ({"Authorization": "Token abc"}, "expected 'Authorization: Bearer <api_token>'"),
        ({"Authorization": "Bearer a b"}, "expected 'Authorization: Bearer <api_token>'"),
    ],
    ids=["missing", "unknown", "empty", "other scheme", "two tokens"],
)
def test_a_request_without_a_valid_token_is_401(ada, headers, error):
    response = Client(headers=headers).get("/api/v1/customers/501")

    assert response.status_code == 401
    assert response.json() == {"error": error}
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_is_401(shop, ada):
    # given the shop's token, revoked
    token_id = ApiToken.objects.get(shop=shop.shop).pk
    api_token_revoke(shop=shop.shop, token_id=token_id)

    response = client_for(shop.api_token).get("/api/v1/customers/501")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid or revoked API token"}


def test_a_revoked_token_cannot_adjust(shop, ada):
    api_token_revoke(shop=shop.shop, token_id=ApiToken.objects.get(shop=shop.shop).pk)

    response = adjust(client_for(shop.api_token), "501", {"points": 5, "reason": "x"})

    assert response.status_code == 401
    assert LedgerEntry.objects.count() == 1


# --- tenancy -----------------------------------------------------------------------------------


def test_another_shops_token_cannot_see_or_change_this_shops_customer(ada, other_shop):
    # given a customer of shop A, and shop B's token
    theirs = client_for(other_shop.api_token)

    # when B asks for A's customer, their ledger, or adjusts their points
    detail = theirs.get("/api/v1/customers/501")
    ledger = theirs.get("/api/v1/customers/501/ledger")
    adjustment = adjust(theirs, "501", {"points": -120, "reason": "steal"}, key="k")

    # then each is the same 404 as a missing customer, and the balance is untouched
    for response in (detail, ledger, adjustment):
        assert response.status_code == 404
        assert response.json() == {"error": "no such customer in this shop"}
    ada.refresh_from_db()
    assert ada.points_balance == 120
    assert LedgerEntry.objects.count() == 1


def test_the_same_customer_id_in_two_shops_are_two_customers(api, ada, other_shop):
    new_member(other_shop.shop, "501", points=7)

    assert api.get("/api/v1/customers/501").json()["points_balance"] == 120
    assert (
        client_for(other_shop.api_token).get("/api/v1/customers/501").json()["points_balance"] == 7
    )


# --- the ledger --------------------------------------------------------------------------------


def test_the_ledger_lists_entries_newest_first_a_page_at_a_time(api, ada):
    # given 120 seeded points and 4 adjustments: 5 entries
    for n in range(1, 5):
        assert adjust(api, "501", {"points": n, "reason": f"r{n}"}, key=f"k{n}").status_code == 201

    # when read two at a time
    first = api.get("/api/v1/customers/501/ledger?page_size=2").json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    # then newest first, every entry once, and the last page has no next
    assert [e["points"] for e in first["results"]] == [4, 3]
    assert [e["points"] for e in second["results"]] == [2, 1]
    assert [e["points"] for e in third["results"]] == [120]
    assert first["previous"] is None
    assert third["next"] is None
    assert third["previous"] is not None
    newest = first["results"][0]
    assert newest["balance_after"] == 130
    assert (newest["kind"], newest["reason"], newest["source_type"]) == (
        "adjustment",
        "r4",
        "adjustment",
    )
    assert newest["actor"] == "api:alpha-store.myshopify.com"


def test_the_ledger_page_size_defaults_to_50_and_is_capped_at_200(api, ada):
    for n in range(1, 60):
        ledger_entry_add(member=ada, kind="order", points=1, idempotency_key=f"bulk{n}")

    default = api.get("/api/v1/customers/501/ledger").json()
    capped = api.get("/api/v1/customers/501/ledger?page_size=100000").json()

    assert len(default["results"]) == 50
    assert default["next"] is not None
    assert len(capped["results"]) == 60
    assert capped["next"] is None


def test_a_new_member_has_an_empty_ledger(api, shop):
    new_member(shop.shop, "777")

    body = api.get("/api/v1/customers/777/ledger").json()

    assert body == {"next": None, "previous": None, "results": []}


# --- adjustments -------------------------------------------------------------------------------


def test_an_adjustment_is_created_with_201(api, ada):
    response = adjust(api, "501", {"points": 30, "reason": "  goodwill  "}, key="adj-1")

    assert response.status_code == 201
    body = response.json()
    assert (body["points"], body["balance_after"], body["reason"]) == (30, 150, "goodwill")
    ada.refresh_from_db()
    assert ada.points_balance == 150


def test_replaying_an_adjustment_with_its_key_returns_the_same_entry_with_200(api, ada):
    first = adjust(api, "501", {"points": 30, "reason": "goodwill"}, key="adj-1")

    replay = adjust(api, "501", {"points": 30, "reason": "goodwill"}, key="adj-1")

    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == first.json()
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 1
    ada.refresh_from_db()
    assert ada.points_balance == 150


def test_the_same_key_with_other_points_is_409(api, ada):
    adjust(api, "501", {"points": 30, "reason": "goodwill"}, key="adj-1")

    response = adjust(api, "501", {"points": 31, "reason": "goodwill"}, key="adj-1")

    assert response.status_code == 409
    assert response.json() == {
        "error": "Idempotency-Key was already used for a different adjustment"
    }
    ada.refresh_from_db()
    assert ada.points_balance == 150


def test_adjustments_without_a_key_are_each_applied(api, ada):
    adjust(api, "501", {"points": 10, "reason": "a"})
    adjust(api, "501", {"points": 10, "reason": "a"})

    ada.refresh_from_db()
    assert ada.points_balance == 140


def test_a_deduction_beyond_the_balance_is_409_and_writes_nothing(api, ada):
    response = adjust(api, "501", {"points": -121, "reason": "redeem"}, key="too-much")

    assert response.status_code == 409
    assert response.json() == {"error": "insufficient points: balance is 120"}
    assert LedgerEntry.objects.count() == 1
    ada.refresh_from_db()
    assert ada.points_balance == 120


def test_a_deduction_of_the_whole_balance_is_allowed(api, ada):
    response = adjust(api, "501", {"points": -120, "reason": "redeem"})

    assert response.status_code == 201
    assert response.json()["balance_after"] == 0


@pytest.mark.parametrize(
    ("body", "field", "error"),
    [
        ({"points": 0, "reason": "x"}, "points", "points: must not be zero"),
        ({"reason": "x"}, "points", "points: This field is required."),
        ({"points": "ten", "reason": "x"}, "points", "points: A valid integer is required."),
        ({"points": 1.5, "reason": "x"}, "points", "points: A valid integer is required."),
        ({"points": None, "reason": "x"}, "points", "points: This field may not be null."),
        (
            {"points": 10**9 + 1, "reason": "x"},
            "points",
            "points: Ensure this value is less than or equal to 1000000000.",
        ),
        ({"points": 5}, "reason", "reason: This field is required."),
        ({"points": 5, "reason": "   "}, "reason", "reason: This field may not be blank."),
        (
            {"points": 5, "reason": "x" * 501},
            "reason",
            "reason: Ensure this field has no more than 500 characters.",
        ),
    ],
)
def test_an_invalid_adjustment_is_400_naming_the_field(api, ada, body, field, error):
    response = adjust(api, "501", body, key="bad")

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert list(response.json()["fields"]) == [field]
    assert LedgerEntry.objects.count() == 1


def test_an_adjustment_body_that_is_not_json_is_400(api, ada):
    response = api.post(
        "/api/v1/customers/501/adjustments", data="points=5", content_type="text/plain"
    )

    assert response.status_code == 415
    assert LedgerEntry.objects.count() == 1


def test_an_overlong_idempotency_key_is_400(api, ada):
    response = adjust(api, "501", {"points": 5, "reason": "x"}, key="k" * 151)

    assert response.status_code == 400
    assert response.json()["error"] == "Idempotency-Key: at most 150 printable characters"
    assert LedgerEntry.objects.count() == 1


# --- the schema --------------------------------------------------------------------------------


def test_the_openapi_schema_lists_the_customer_endpoints(client, db):
    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["info"]["title"] == "Loyalty app merchant API"
    # The routes take an optional trailing slash; the schema shows them with one.
    paths = schema["paths"]
    assert set(paths) == {
        "/api/v1/customers/{customer_id}/",
        "/api/v1/customers/{customer_id}/ledger/",
        "/api/v1/customers/{customer_id}/adjustments/",
        "/api/v1/program/",
        "/api/v1/preview/",
        "/api/v1/campaigns/",
        "/api/v1/campaigns/{campaign_id}/",
        "/api/v1/events/",
        "/api/v1/member-events/",
        "/api/v1/customers/{customer_id}/actions/",
        "/api/v1/customers/{customer_id}/birthday/",
        "/api/v1/imports/",
        "/api/v1/imports/{job_id}/",
        "/api/v1/tiers/",
        "/api/v1/tiers/preview/",
        "/api/v1/customers/{customer_id}/tier-progress/",
        "/api/v1/customers/{customer_id}/tier-events/",
        "/api/v1/tiers/evaluations/{job_id}/",
        "/api/v1/customers/{customer_id}/cashback/",
        "/api/v1/cashback/summary/",
        "/api/v1/rewards/",
        "/api/v1/rewards/{reward_id}/",
        "/api/v1/customers/{customer_id}/redemptions/",
        "/api/v1/redemptions/{redemption_id}/",
        "/api/v1/redemptions/",
        "/api/v1/redemptions/{redemption_id}/fulfil/",
        "/api/v1/redemptions/{redemption_id}/decline/",
        "/api/v1/donations/summary/",
        "/api/v1/billing/summary/",
        "/api/v1/customers/{customer_id}/punch-cards/",
        "/api/v1/data-requests/",
        "/api/v1/data-requests/{data_request_id}/",
        "/api/v1/analytics/",
        "/api/v1/analytics/what-if/",
        "/api/v1/actions/bulk/",
        "/api/v1/actions/bulk/{award_id}/",
        "/api/v1/actions/bulk/{award_id}/confirm/",
        "/api/v1/referrals/",
        "/api/v1/referrals/program/",
        "/api/v1/referrals/summary/",
        "/api/v1/challenges/",
        "/api/v1/challenges/{challenge_id}/",
        "/api/v1/challenges/{challenge_id}/activate/",
        "/api/v1/challenges/{challenge_id}/completions/",
        "/api/v1/badges/",
        "/api/v1/badges/{badge_id}/",
        "/api/v1/customers/{customer_id}/challenges/",
        "/api/v1/customers/{customer_id}/badges/",
    }
    assert list(paths["/api/v1/customers/{customer_id}/"]) == ["get"]
    assert list(paths["/api/v1/customers/{customer_id}/ledger/"]) == ["get"]
    assert list(paths["/api/v1/customers/{customer_id}/adjustments/"]) == ["post"]
    assert list(paths["/api/v1/program/"]) == ["get", "put"]
    assert list(paths["/api/v1/preview/"]) == ["post"]
    assert list(paths["/api/v1/customers/{customer_id}/redemptions/"]) == ["get", "post"]
    assert schema["components"]["securitySchemes"]["ShopToken"]["scheme"] == "bearer"


def test_the_schema_needs_no_token(client, db):
    assert client.get("/api/schema/").status_code == 200
