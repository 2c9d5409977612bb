"""Tiers and cash-back through the merchant API: read, replace (versioned), preview, progress."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.test import Client

from loyalty_app.members.models import Member
from loyalty_app.rewards.services import reward_create
from loyalty_app.tiers.models import TierProgram

DEFINITION = {
    "metric": "orders_count",
    "period": "calendar_year",
    "retention": True,
    "tiers": [
        {"name": "Silver", "threshold": 1, "perks": ["Free gift wrap"]},
        {
            "name": "Gold",
            "threshold": 3,
            "earn_multiplier": "1.5",
            "cashback_rate": "5",
            "entry_reward": {"points": 500},
            "customer_tag": "vip-gold",
        },
    ],
    "cashback": {"enabled": True, "rate": "2", "delivery": "store_credit"},
}


def put(api: Client, body: object):
    return api.put("/api/v1/tiers", data=json.dumps(body), content_type="application/json")


def preview(api: Client, body: object):
    return api.post("/api/v1/tiers/preview", data=json.dumps(body), content_type="application/json")


def test_a_new_shop_has_no_tiers_and_no_cashback(api):
    response = api.get("/api/v1/tiers")

    assert response.status_code == 200
    assert response.json()["version"] is None
    assert response.json()["definition"] == {
        "metric": "points_earned",
        "period": "lifetime",
        "retention": False,
        "tiers": [],
        "cashback": {"enabled": False, "rate": "0", "delivery": "store_credit"},
    }


def test_saving_tiers_stores_a_version_and_saving_them_again_changes_nothing(api, shop):
    first = put(api, DEFINITION)
    again = put(api, DEFINITION)
    changed = put(api, {**DEFINITION, "retention": False})

    assert first.status_code == 201
    assert first.json()["version"] == 1
    assert first.json()["definition"]["tiers"][1]["entry_reward"] == {"points": 500}
    assert first.json()["updated_by"] == "api:alpha-store.myshopify.com"
    assert again.status_code == 200
    assert again.json()["version"] == 1
    assert changed.status_code == 201
    assert changed.json()["version"] == 2
    assert TierProgram.objects.filter(shop=shop.shop).count() == 2
    assert api.get("/api/v1/tiers").json()["definition"]["retention"] is False


def test_invalid_tiers_are_a_400_naming_each_field_and_store_nothing(api):
    body = {
        **DEFINITION,
        "tiers": [
            {"name": "Silver", "threshold": 3},
            {"name": "silver", "threshold": 2, "earn_multiplier": "0.5"},
        ],
    }

    response = put(api, body)

    assert response.status_code == 400
    fields = response.json()["fields"]
    assert set(fields) == {"tiers[1].name", "tiers[1].threshold", "tiers[1].earn_multiplier"}
    assert response.json()["error"].startswith("tiers[1].")
    assert TierProgram.objects.count() == 0


def test_an_entry_reward_must_be_a_reward_of_this_shops_catalog(api, shop, other_shop):
    theirs = reward_create(
        shop=other_shop.shop,
        data={"kind": "store_credit", "title": "10", "points_cost": 100, "value": "10"},
        actor="t",
    )
    body = {
        **DEFINITION,
        "tiers": [{"name": "Gold", "threshold": 3, "entry_reward": {"reward_id": theirs.pk}}],
    }

    response = put(api, body)

    assert response.status_code == 400
    assert "tiers[0].entry_reward.reward_id" in response.json()["fields"]


def test_a_tier_that_a_reward_requires_cannot_be_dropped(api, shop):
    put(api, DEFINITION)
    reward_create(
        shop=shop.shop,
        data={
            "kind": "store_credit",
            "title": "Gold credit",
            "points_cost": 100,
            "value": "10",
            "min_tier": "Gold",
        },
        actor="t",
    )

    response = put(api, {**DEFINITION, "tiers": DEFINITION["tiers"][:1]})

    assert response.status_code == 400
    assert "Gold credit" in response.json()["fields"]["tiers"][0]


def test_the_preview_counts_members_per_proposed_tier_and_saves_nothing(
    api, shop, place_order, clock
):
    clock.set(datetime(2025, 6, 1, tzinfo=UTC))
    for i in range(3):
        place_order(
            shop.shop,
            order_id=f"a{i}",
            customer="ann",
            amount="10",
            placed_at=datetime(2025, 2, 1, tzinfo=UTC),
        )
    place_order(
        shop.shop,
        order_id="b0",
        customer="bob",
        amount="10",
        placed_at=datetime(2025, 2, 1, tzinfo=UTC),
    )
    Member.objects.create(shop=shop.shop, external_id="cat")

    response = preview(api, DEFINITION)

    assert response.status_code == 200
    assert response.json() == {
        "at": "2025-06-01T00:00:00+00:00",
        "members": 3,
        "no_tier": 1,
        "tiers": [{"name": "Silver", "members": 1}, {"name": "Gold", "members": 1}],
    }
    assert TierProgram.objects.count() == 0


def test_an_invalid_preview_is_a_400_naming_the_field(api):
    response = preview(api, {"metric": "amount_spent", "tiers": [{"name": "A", "threshold": "x"}]})

    assert response.status_code == 400
    assert "tiers[0].threshold" in response.json()["fields"]


def test_a_customers_progress_says_what_is_missing(api, shop, place_order, clock):
    clock.set(datetime(2025, 6, 1, tzinfo=UTC))
    put(
        api,
        {**DEFINITION, "metric": "amount_spent", "tiers": [{"name": "Gold", "threshold": "100"}]},
    )
    place_order(
        shop.shop,
        order_id="1",
        customer="ann",
        amount="60.00",
        placed_at=datetime(2025, 3, 1, tzinfo=UTC),
    )

    response = api.get("/api/v1/customers/ann/tier-progress")

    assert response.status_code == 200
    body = response.json()
    assert (body["customer_id"], body["value"], body["currency"]) == ("ann", "60", "USD")
    assert (body["tier"], body["next_tier"], body["missing"]) == (None, "Gold", "40")


def test_another_shops_tiers_and_customers_are_out_of_reach(api, shop, other_shop, place_order):
    put(api, DEFINITION)
    place_order(
        shop.shop,
        order_id="1",
        customer="ann",
        amount="10",
        placed_at=datetime(2025, 3, 1, tzinfo=UTC),
    )
    other = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    assert other.get("/api/v1/tiers").json()["version"] is None
    assert other.get("/api/v1/customers/ann/tier-progress").status_code == 404
    assert preview(other, DEFINITION).json()["members"] == 0


def test_the_tier_routes_need_a_token(client):
    assert client.get("/api/v1/tiers").status_code in (401, 403)
    assert client.post("/api/v1/tiers/preview", data={}).status_code in (401, 403)
