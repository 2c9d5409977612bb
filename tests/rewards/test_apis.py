"""The rewards catalog through the merchant API and the services the admin calls."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from loyalty_app.rewards.models import Reward
from loyalty_app.rewards.selectors import rewards_list
from loyalty_app.rewards.services import reward_archive, reward_create, reward_update
from loyalty_app.tiers.services import tier_program_update

FIVE_OFF = {"kind": "fixed_amount", "title": "5.00 off", "points_cost": 500, "value": "5.00"}


def post(api: Client, body: object):
    return api.post("/api/v1/rewards", data=json.dumps(body), content_type="application/json")


def patch(api: Client, reward_id: int, body: object):
    return api.patch(
        f"/api/v1/rewards/{reward_id}", data=json.dumps(body), content_type="application/json"
    )


def test_a_reward_is_created_and_read_back(api):
    created = post(api, {**FIVE_OFF, "min_order_amount": "20", "collection_ids": [11, 12]})

    assert created.status_code == 201
    body = created.json()
    fetched = api.get(f"/api/v1/rewards/{body['id']}").json()
    assert fetched == body
    assert body["kind"] == "fixed_amount"
    assert body["value"] == "5"
    assert body["currency"] == "USD"
    assert body["min_order_amount"] == "20"
    assert body["collection_ids"] == ["11", "12"]
    assert body["code_valid_days"] == 30
    assert body["stock_remaining"] is None
    assert body["archived_at"] is None
    assert "variant_id" not in body  # only the fields of its kind


def test_the_catalog_lists_rewards_by_position(api):
    post(api, {**FIVE_OFF, "title": "Second", "position": 2})
    post(api, {**FIVE_OFF, "title": "First", "position": 1})

    titles = [r["title"] for r in api.get("/api/v1/rewards").json()["results"]]

    assert titles == ["First", "Second"]


def test_an_invalid_reward_is_a_400_naming_each_field_and_stores_nothing(api):
    response = post(api, {"kind": "percentage", "title": "", "points_cost": 0, "value": "150"})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"title", "points_cost", "value"}
    assert Reward.objects.count() == 0


def test_a_patch_changes_only_the_fields_it_names(api):
    reward_id = post(api, {**FIVE_OFF, "stock_total": 10}).json()["id"]

    response = patch(api, reward_id, {"points_cost": 450, "description": "Spend less"})

    assert response.status_code == 200
    body = response.json()
    assert (body["points_cost"], body["description"], body["value"]) == (450, "Spend less", "5")
    assert body["stock_remaining"] == 10


def test_an_invalid_patch_is_a_400_and_changes_nothing(api):
    reward_id = post(api, FIVE_OFF).json()["id"]

    response = patch(api, reward_id, {"value": "-1"})

    assert response.status_code == 400
    assert "value" in response.json()["fields"]
    assert Reward.objects.get(pk=reward_id).value == 5


def test_a_change_of_kind_drops_the_old_kinds_fields(api):
    reward_id = post(api, {**FIVE_OFF, "collection_ids": ["1"]}).json()["id"]

    response = patch(api, reward_id, {"kind": "free_product", "variant_id": "42"})

    assert response.status_code == 200
    assert response.json()["variant_id"] == "42"
    assert Reward.objects.get(pk=reward_id).collection_ids == []


def test_delete_archives_the_reward_and_it_leaves_the_catalog(api):
    reward_id = post(api, FIVE_OFF).json()["id"]

    first = api.delete(f"/api/v1/rewards/{reward_id}")
    again = api.delete(f"/api/v1/rewards/{reward_id}")

    assert first.status_code == 200
    assert first.json()["archived_at"] is not None
    assert again.json()["archived_at"] == first.json()["archived_at"]
    assert api.get("/api/v1/rewards").json()["results"] == []
    listed = api.get("/api/v1/rewards?include_archived=true").json()["results"]
    assert [r["id"] for r in listed] == [reward_id]
    assert patch(api, reward_id, {"title": "Back"}).status_code == 400
    assert Reward.objects.filter(pk=reward_id).exists()


def test_another_shops_rewards_are_not_found(api, other_shop):
    reward_id = post(api, FIVE_OFF).json()["id"]
    other = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    assert other.get(f"/api/v1/rewards/{reward_id}").status_code == 404
    assert patch(other, reward_id, {"title": "Mine"}).status_code == 404
    assert other.delete(f"/api/v1/rewards/{reward_id}").status_code == 404
    assert other.get("/api/v1/rewards").json()["results"] == []
    reward = Reward.objects.get(pk=reward_id)
    assert (reward.title, reward.archived_at) == ("5.00 off", None)


def test_a_punch_card_grants_a_live_reward_of_the_same_shop(api, shop, other_shop):
    mug = post(api, {"kind": "free_product", "title": "Mug", "grant_only": True, "variant_id": "9"})
    theirs = reward_create(shop=other_shop.shop, data=FIVE_OFF, actor="t")
    card = {
        "kind": "punch_card",
        "title": "Buy 5 mugs, get one",
        "punch_target": "product",
        "punch_target_id": "gid://shopify/Product/77",
        "punch_count": 5,
    }

    stranger = post(api, {**card, "punch_reward_id": theirs.pk})
    created = post(api, {**card, "punch_reward_id": mug.json()["id"]})
    archive_granted = api.delete(f"/api/v1/rewards/{mug.json()['id']}")

    assert stranger.status_code == 400
    assert "punch_reward_id" in stranger.json()["fields"]
    assert created.status_code == 201
    assert created.json()["punch_reward_id"] == mug.json()["id"]
    assert archive_granted.status_code == 400
    assert "punch_reward_id" in archive_granted.json()["fields"]


def test_a_punch_card_cannot_grant_another_punch_card(shop):
    mug = reward_create(
        shop=shop.shop,
        data={"kind": "free_product", "title": "Mug", "points_cost": 10, "variant_id": "9"},
        actor="t",
    )
    card = {
        "kind": "punch_card",
        "title": "Card",
        "punch_target": "collection",
        "punch_target_id": "5",
        "punch_count": 3,
        "punch_reward_id": mug.pk,
    }
    first = reward_create(shop=shop.shop, data=card, actor="t")

    with pytest.raises(ValidationError) as caught:
        reward_create(shop=shop.shop, data={**card, "punch_reward_id": first.pk}, actor="t")

    assert "punch_reward_id" in caught.value.message_dict


def test_min_tier_names_a_tier_in_force(shop):
    tier_program_update(
        shop=shop.shop, data={"tiers": [{"name": "Gold", "threshold": 100}]}, actor="t"
    )

    reward = reward_create(shop=shop.shop, data={**FIVE_OFF, "min_tier": "GOLD"}, actor="t")
    with pytest.raises(ValidationError) as caught:
        reward_create(shop=shop.shop, data={**FIVE_OFF, "min_tier": "Platinum"}, actor="t")

    assert reward.min_tier == "Gold"
    assert "min_tier" in caught.value.message_dict


def test_the_stock_left_follows_a_change_of_the_total_but_never_below_what_was_taken(shop):
    reward = reward_create(shop=shop.shop, data={**FIVE_OFF, "stock_total": 10}, actor="t")
    # Three taken, as a redemption does under the row's lock.
    Reward.objects.filter(pk=reward.pk).update(stock_remaining=7)

    raised = reward_update(shop=shop.shop, reward_id=reward.pk, data={"stock_total": 20}, actor="t")
    with pytest.raises(ValidationError) as caught:
        reward_update(shop=shop.shop, reward_id=reward.pk, data={"stock_total": 2}, actor="t")
    unlimited = reward_update(
        shop=shop.shop, reward_id=reward.pk, data={"stock_total": None}, actor="t"
    )

    assert raised.stock_remaining == 17
    assert "stock_total" in caught.value.message_dict
    assert (unlimited.stock_total, unlimited.stock_remaining) == (None, None)


def test_the_database_refuses_stock_below_zero(shop):
    from django.db import IntegrityError, transaction

    reward = reward_create(shop=shop.shop, data={**FIVE_OFF, "stock_total": 1}, actor="t")

    with pytest.raises(IntegrityError), transaction.atomic():
        Reward.objects.filter(pk=reward.pk).update(stock_remaining=-1)


def test_a_reward_a_tier_gives_on_entry_cannot_be_archived(shop):
    reward = reward_create(shop=shop.shop, data=FIVE_OFF, actor="t")
    tier_program_update(
        shop=shop.shop,
        data={
            "tiers": [{"name": "Gold", "threshold": 1, "entry_reward": {"reward_id": reward.pk}}]
        },
        actor="t",
    )

    with pytest.raises(ValidationError) as caught:
        reward_archive(shop=shop.shop, reward_id=reward.pk, actor="t")

    assert "entry_reward" in caught.value.message_dict
    assert list(rewards_list(shop=shop.shop)) == [reward]


def test_the_services_record_who_changed_a_reward(shop):
    reward = reward_create(shop=shop.shop, data=FIVE_OFF, actor="admin:ann@example.com")
    reward = reward_update(
        shop=shop.shop, reward_id=reward.pk, data={"title": "Five off"}, actor="admin:bob"
    )

    assert (reward.created_by, reward.updated_by) == ("admin:ann@example.com", "admin:bob")
