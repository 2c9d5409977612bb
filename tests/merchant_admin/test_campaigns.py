"""Campaigns through the admin: create, change, delete, with the API's validation."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty_app.earning.models import Campaign
from loyalty_app.earning.services import campaign_save
from loyalty_app.merchant_admin.models import AuditEntry

from .conftest import AdminClient

pytestmark = pytest.mark.django_db


def campaign_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Double points weekend",
        "kind": "multiplier",
        "multiplier": "2",
        "bonus_points": "",
        "starts_at": "2026-12-05T00:00",
        "ends_at": "2026-12-07T00:00",
        "applies_to_field": "",
        "applies_to_value": "",
        "tiers": "",
    }
    data.update(overrides)
    return data


def test_an_empty_shop_shows_an_empty_state_with_a_call_to_action(admin: AdminClient) -> None:
    body = admin.get("/app/campaigns/").content.decode()
    assert 'data-testid="empty-state"' in body and "Create campaign" in body


def test_a_campaign_is_created_listed_and_audited(admin: AdminClient) -> None:
    response = admin.post("/app/campaigns/new", campaign_post())
    assert response.status_code == 303 and "toast=campaign_created" in response["Location"]
    campaign = Campaign.objects.get(shop=admin.shop)
    assert campaign.definition["name"] == "Double points weekend"
    assert campaign.definition["multiplier"] == "2"
    assert AuditEntry.objects.get(shop=admin.shop).action == "campaign.create"
    assert b"Double points weekend" in admin.get("/app/campaigns/").content


def test_a_bonus_campaign_for_one_product_and_first_orders(admin: AdminClient) -> None:
    admin.post(
        "/app/campaigns/new",
        campaign_post(
            name="Welcome",
            kind="bonus",
            multiplier="",
            bonus_points="100",
            first_order_only="on",
            applies_to_field="sku",
            applies_to_value="COF-1",
        ),
    )
    definition = Campaign.objects.get(shop=admin.shop).definition
    assert definition["bonus_points"] == 100 and definition["multiplier"] is None
    assert definition["first_order_only"] is True
    assert definition["applies_to"] == {"field": "sku", "value": "COF-1"}


def test_wrong_fields_are_all_shown_and_nothing_is_created(admin: AdminClient) -> None:
    response = admin.post(
        "/app/campaigns/new", campaign_post(name="", multiplier="500", ends_at="")
    )
    assert response.status_code == 400
    errors = response.context["form"].errors.by_input
    assert errors == {
        "name": "must not be empty",
        "ends_at": "is required",
        "multiplier": "must be at most 100",
    }
    assert not Campaign.objects.filter(shop=admin.shop).exists()
    assert not AuditEntry.objects.exists()


def test_an_end_before_the_start_is_refused_at_the_end(admin: AdminClient) -> None:
    response = admin.post("/app/campaigns/new", campaign_post(ends_at="2026-12-01T00:00"))
    assert response.context["form"].errors.by_input == {"ends_at": "must be after starts_at"}


def test_a_campaign_is_changed_and_deleted(admin: AdminClient) -> None:
    admin.post("/app/campaigns/new", campaign_post())
    campaign = Campaign.objects.get(shop=admin.shop)
    form = admin.get(f"/app/campaigns/{campaign.pk}/").content.decode()
    assert 'value="2026-12-05T00:00"' in form
    response = admin.post(f"/app/campaigns/{campaign.pk}/", campaign_post(multiplier="3"))
    assert response.status_code == 303
    campaign.refresh_from_db()
    assert campaign.definition["multiplier"] == "3"
    assert campaign.definition["id"] == str(campaign.pk)
    response = admin.post(f"/app/campaigns/{campaign.pk}/delete")
    assert response.status_code == 303 and "toast=campaign_deleted" in response["Location"]
    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    assert list(
        AuditEntry.objects.filter(shop=admin.shop).order_by("pk").values_list("action", flat=True)
    ) == ["campaign.create", "campaign.update", "campaign.delete"]


def test_another_shops_campaign_is_not_found(admin: AdminClient, other_admin: AdminClient) -> None:
    theirs = campaign_save(
        shop=other_admin.shop,
        data={
            "name": "Theirs",
            "kind": "bonus",
            "bonus_points": 5,
            "starts_at": "2026-01-01T00:00:00",
            "ends_at": "2026-02-01T00:00:00",
        },
    )
    assert admin.get(f"/app/campaigns/{theirs.pk}/").status_code == 404
    assert admin.post(f"/app/campaigns/{theirs.pk}/", campaign_post()).status_code == 404
    assert admin.post(f"/app/campaigns/{theirs.pk}/delete").status_code == 404
    theirs.refresh_from_db()
    assert theirs.definition["name"] == "Theirs"
