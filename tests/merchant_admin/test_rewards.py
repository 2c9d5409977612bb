"""The rewards catalog through the admin: every kind, the API's validation, archive."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from loyalty_app.merchant_admin.models import AuditEntry
from loyalty_app.rewards.models import Reward
from loyalty_app.rewards.services import reward_create

from .conftest import AdminClient

pytestmark = pytest.mark.django_db


def reward_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "kind": "fixed_amount",
        "title": "5 off",
        "description": "",
        "points_cost": "500",
        "active": "on",
        "value": "5",
        "position": "0",
        # fields of other kinds, hidden in the form, are not sent on
        "cause": "Trees",
        "punch_count": "9",
    }
    data.update(overrides)
    return data


def test_an_empty_catalog_shows_a_call_to_action(admin: AdminClient) -> None:
    body = admin.get("/app/rewards/").content.decode()
    assert 'data-testid="empty-state"' in body and "Create reward" in body


def test_a_reward_is_created_listed_and_audited(admin: AdminClient) -> None:
    response = admin.post("/app/rewards/new", reward_post())
    assert response.status_code == 303 and "toast=reward_created" in response["Location"]
    reward = Reward.objects.get(shop=admin.shop)
    assert (reward.kind, reward.title, reward.points_cost, reward.value) == (
        "fixed_amount",
        "5 off",
        500,
        Decimal(5),
    )
    assert reward.cause == "" and reward.punch_count is None
    assert AuditEntry.objects.get(shop=admin.shop).action == "reward.create"
    assert b"5 off" in admin.get("/app/rewards/").content


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "percentage", "value": "10"},
        {"kind": "free_shipping", "value": ""},
        {"kind": "free_product", "variant_id": "gid://shopify/ProductVariant/1"},
        {"kind": "store_credit", "value": "7.50"},
        {
            "kind": "variable_credit",
            "points_cost": "",
            "points_per_step": "100",
            "value_per_step": "1",
            "max_points": "1000",
        },
        {"kind": "donation", "value": "1", "cause": "Trees"},
        {"kind": "experience", "fulfilment_note": "Book a tasting", "customer_tag": "tasting"},
    ],
)
def test_every_kind_of_reward_can_be_created(admin: AdminClient, fields: dict[str, str]) -> None:
    response = admin.post("/app/rewards/new", reward_post(**fields))
    assert response.status_code == 303, response.context["form"].errors.by_input
    assert Reward.objects.get(shop=admin.shop).kind == fields["kind"]


def test_a_punch_card_grants_another_reward(admin: AdminClient) -> None:
    prize = reward_create(
        shop=admin.shop,
        data={
            "kind": "free_product",
            "title": "Free coffee",
            "grant_only": True,
            "variant_id": "42",
        },
        actor="t",
    )
    response = admin.post(
        "/app/rewards/new",
        reward_post(
            kind="punch_card",
            title="Buy 9",
            points_cost="",
            punch_target="product",
            punch_target_id="7",
            punch_count="9",
            punch_reward_id=str(prize.pk),
        ),
    )
    assert response.status_code == 303, response.context["form"].errors.by_input
    assert Reward.objects.get(title="Buy 9").punch_reward_id == prize.pk


def test_wrong_fields_are_all_shown_and_nothing_is_created(admin: AdminClient) -> None:
    response = admin.post("/app/rewards/new", reward_post(title="", points_cost="0", value="-1"))
    assert response.status_code == 400
    errors = response.context["form"].errors.by_input
    assert set(errors) == {"title", "points_cost", "value"}
    assert not Reward.objects.exists() and not AuditEntry.objects.exists()


def test_a_reward_is_changed_and_archived(admin: AdminClient) -> None:
    admin.post("/app/rewards/new", reward_post())
    reward = Reward.objects.get(shop=admin.shop)
    assert b'value="5 off"' in admin.get(f"/app/rewards/{reward.pk}/").content
    response = admin.post(f"/app/rewards/{reward.pk}/", reward_post(points_cost="600"))
    assert response.status_code == 303
    reward.refresh_from_db()
    assert reward.points_cost == 600
    response = admin.post(f"/app/rewards/{reward.pk}/archive")
    assert response.status_code == 303
    reward.refresh_from_db()
    assert reward.archived_at is not None
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "reward.create",
        "reward.update",
        "reward.archive",
    ]
    assert b"5 off" not in admin.get("/app/rewards/").content


def test_another_shops_reward_is_not_found(admin: AdminClient, other_admin: AdminClient) -> None:
    theirs = reward_create(
        shop=other_admin.shop,
        data={"kind": "store_credit", "title": "Theirs", "points_cost": 10, "value": "1"},
        actor="t",
    )
    assert admin.get(f"/app/rewards/{theirs.pk}/").status_code == 404
    assert admin.post(f"/app/rewards/{theirs.pk}/", reward_post()).status_code == 404
    assert admin.post(f"/app/rewards/{theirs.pk}/archive").status_code == 404
    theirs.refresh_from_db()
    assert theirs.title == "Theirs" and theirs.archived_at is None
