"""The merchant API of challenges and badges: validation, the draft/active rules, and one
shop never reading or changing another's."""

from __future__ import annotations

import pytest
from django.test import Client

from loyalty_app.challenges.models import Badge, Challenge
from loyalty_app.challenges.services import badge_update
from loyalty_app.ledger.models import LedgerEntry

from .conftest import CUSTOMER, badge, challenge_active, day, paid_order, progress, send

DRAFT = {"name": "Two orders", "block": "orders_count", "orders": 2, "reward_points": 10}


def dates() -> dict[str, str]:
    return {"starts_on": day(-1), "ends_on": day(10)}


def test_a_challenge_is_created_as_a_draft_and_reads_back(shop, api):
    created = send(api, "post", "/api/v1/challenges", {**DRAFT, **dates()})
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["orders"], body["target"], body["completed_count"]) == (
        "draft",
        2,
        "2",
        0,
    )
    listed = api.get("/api/v1/challenges?status=draft").json()["results"]
    assert [row["id"] for row in listed] == [body["id"]]
    assert api.get("/api/v1/challenges?status=active").json()["results"] == []


def test_a_bad_definition_is_a_400_naming_every_field(shop, api):
    response = send(api, "post", "/api/v1/challenges", {"block": "orders_count", "orders": -1})
    assert response.status_code == 400
    assert {"orders", "name", "starts_on", "ends_on", "reward_points"} <= set(
        response.json()["fields"]
    )
    assert not Challenge.objects.exists()


def test_a_draft_changes_freely_an_active_challenge_only_its_words(shop, api):
    body = send(api, "post", "/api/v1/challenges", {**DRAFT, **dates()}).json()
    path = f"/api/v1/challenges/{body['id']}"
    changed = send(api, "patch", path, {"block": "amount_spent", "amount": "75"})
    assert changed.status_code == 200, changed.content
    assert (changed.json()["block"], changed.json()["amount"], "orders" in changed.json()) == (
        "amount_spent",
        "75.00",
        False,
    )
    assert send(api, "post", f"{path}/activate").json()["status"] == "active"
    refused = send(api, "patch", path, {"amount": "10"})
    assert refused.status_code == 400
    assert "only the name and description" in refused.json()["error"]
    renamed = send(api, "patch", path, {"name": "Spend 75"})
    assert renamed.json()["name"] == "Spend 75"
    archived = send(api, "delete", path)
    assert archived.json()["status"] == "archived"
    again = send(api, "post", f"{path}/activate")
    assert again.status_code == 400


def test_a_reward_must_be_the_shops_and_a_badge_too(shop, api, other_shop):
    other_api = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})
    theirs = badge(other_api, "Theirs")
    response = send(
        api,
        "post",
        "/api/v1/challenges",
        {**DRAFT, **dates(), "badge_id": theirs["id"], "reward_id": 99},
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"badge_id", "reward_id"}


def test_badge_names_are_unique_per_shop_whatever_the_case(shop, api, other_shop):
    badge(api, "Explorer")
    clash = send(api, "post", "/api/v1/badges", {"name": "explorer"})
    assert clash.status_code == 400
    other_api = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})
    assert send(other_api, "post", "/api/v1/badges", {"name": "Explorer"}).status_code == 201


@pytest.mark.django_db
def test_one_shop_never_reads_or_changes_anothers_challenges(shop, api, other_shop, post_webhook):
    # Given shop A's active challenge and a customer of A who completed it
    ours = challenge_active(api, block="orders_count", orders=1, reward_points=10)
    post_webhook("orders/paid", paid_order(9001))
    assert progress(api)[0]["completed"] is True
    mine = badge(api, "Mine")

    # Then shop B's token finds none of it
    other_api = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})
    path = f"/api/v1/challenges/{ours['id']}"
    assert other_api.get("/api/v1/challenges").json()["results"] == []
    assert other_api.get(path).status_code == 404
    assert send(other_api, "patch", path, {"name": "Hijacked"}).status_code == 404
    assert send(other_api, "delete", path).status_code == 404
    assert send(other_api, "post", f"{path}/activate").status_code == 404
    assert other_api.get(f"{path}/completions").status_code == 404
    assert other_api.get(f"/api/v1/badges/{mine['id']}").status_code == 404
    assert (
        send(other_api, "patch", f"/api/v1/badges/{mine['id']}", {"name": "x"}).status_code == 404
    )
    assert other_api.get(f"/api/v1/customers/{CUSTOMER}/challenges").status_code == 404
    assert other_api.get(f"/api/v1/customers/{CUSTOMER}/badges").status_code == 404
    assert Challenge.objects.get().name == "Three orders"

    # And B's orders never count in A's challenge, even for the same customer id
    other = challenge_active(other_api, block="orders_count", orders=2, reward_points=5)
    post_webhook("orders/paid", paid_order(9002), shop_domain="beta-store.myshopify.com")
    [seen] = progress(other_api)
    assert (seen["id"], seen["text"]) == (other["id"], "1 of 2 orders")
    assert progress(api)[0]["value"] == "1"
    assert list(LedgerEntry.objects.filter(kind="challenge").values_list("points", flat=True)) == [
        10
    ]


def test_the_schema_lists_the_routes(shop, api):
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for route in (
        "/api/v1/challenges/",
        "/api/v1/challenges/{challenge_id}/",
        "/api/v1/challenges/{challenge_id}/activate/",
        "/api/v1/badges/",
        "/api/v1/customers/{customer_id}/challenges/",
        "/api/v1/customers/{customer_id}/badges/",
    ):
        assert route in paths


def test_a_badge_patch_changes_only_the_fields_it_sends(shop, api):
    made = badge(api, "Regular", colour="gold", description="Ten orders")
    path = f"/api/v1/badges/{made['id']}"

    recoloured = send(api, "patch", path, {"colour": "red"})
    assert recoloured.status_code == 200, recoloured.content
    body = recoloured.json()
    assert (body["name"], body["description"], body["icon"], body["colour"]) == (
        "Regular",
        "Ten orders",
        "trophy",
        "red",
    )

    # The service itself keeps what a change leaves out, as read under the row's lock:
    # a second change made from a stale read of the badge does not undo the first.
    badge_update(shop=shop.shop, badge_id=made["id"], data={"name": "Loyal"}, actor="test")
    kept = Badge.objects.get(pk=made["id"])
    assert (kept.name, kept.description, kept.icon, kept.colour) == (
        "Loyal",
        "Ten orders",
        "trophy",
        "red",
    )
