"""Tiers and Cash-back through the admin: one definition, two pages, a live preview."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.merchant_admin.models import AuditEntry
from loyalty_app.tiers.selectors import tier_program_current_config

from .conftest import AdminClient, member_create

pytestmark = pytest.mark.django_db


def tiers_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "metric": "points_earned",
        "period": "lifetime",
        "tiers-0-order": "1",
        "tiers-0-name": "Silver",
        "tiers-0-threshold": "100",
        "tiers-0-earn_multiplier": "1",
        "tiers-1-order": "2",
        "tiers-1-name": "Gold",
        "tiers-1-threshold": "500",
        "tiers-1-earn_multiplier": "1.5",
        "tiers-1-entry_points": "50",
        "tiers-1-perks": "Free shipping\nEarly access",
        "tiers-1-customer_tag": "vip-gold",
        "tiers-2-order": "3",
        "tiers-2-name": "",
        "tiers-2-threshold": "",
    }
    data.update(overrides)
    return data


def test_tiers_are_created_in_order_and_audited(admin: AdminClient) -> None:
    response = admin.post("/app/tiers/", tiers_post())
    assert response.status_code == 303 and "toast=tiers_saved" in response["Location"]
    config = tier_program_current_config(shop=admin.shop)
    assert [(t.name, t.threshold) for t in config.tiers] == [("Silver", 100), ("Gold", 500)]
    gold = config.tiers[1]
    assert gold.perks == ("Free shipping", "Early access") and gold.customer_tag == "vip-gold"
    assert gold.entry_reward is not None and gold.entry_reward.points == 50
    assert AuditEntry.objects.get(shop=admin.shop).action == "tiers.update"
    body = admin.get("/app/tiers/").content.decode()
    assert 'value="Silver"' in body and 'value="Gold"' in body


def test_tiers_are_reordered_by_their_position_and_removed_by_their_box(admin: AdminClient) -> None:
    admin.post("/app/tiers/", tiers_post())
    # the merchant moves Gold above Silver and changes thresholds to match, then drops Silver
    admin.post(
        "/app/tiers/",
        tiers_post(**{"tiers-0-order": "2", "tiers-1-order": "1", "tiers-0-threshold": "900"}),
    )
    assert [t.name for t in tier_program_current_config(shop=admin.shop).tiers] == [
        "Gold",
        "Silver",
    ]
    admin.post("/app/tiers/", tiers_post(**{"tiers-0-remove": "on"}))
    assert [t.name for t in tier_program_current_config(shop=admin.shop).tiers] == ["Gold"]


def test_wrong_tiers_show_every_error_at_its_row_and_save_nothing(admin: AdminClient) -> None:
    response = admin.post(
        "/app/tiers/",
        tiers_post(
            **{
                "tiers-1-threshold": "50",
                "tiers-0-earn_multiplier": "0.5",
                "tiers-1-name": "silver",
            }
        ),
    )
    assert response.status_code == 400
    errors = response.context["form"].errors.by_input
    assert "tiers-0-earn_multiplier" in errors
    assert "tiers-1-threshold" in errors and "tiers-1-name" in errors
    assert tier_program_current_config(shop=admin.shop).tiers == ()
    assert not AuditEntry.objects.exists()


def test_the_preview_counts_the_members_each_tier_would_hold(admin: AdminClient) -> None:
    for n, points in enumerate((20, 150, 700, 800)):
        member = member_create(admin.shop, n)
        ledger_entry_add(
            member=member,
            kind="action",
            source_type="action",
            points=points,
            idempotency_key=f"a{n}",
        )
    response = Client().post(
        "/app/tiers/preview",
        tiers_post(),
        headers={"Authorization": f"Bearer {admin.token()}", "Accept": "application/json"},
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["results"] == [
        {"key": "tiers-0-members", "text": "1 member"},
        {"key": "tiers-1-members", "text": "2 members"},
    ]
    assert answer["summary"] == "1 member in no tier."
    assert tier_program_current_config(shop=admin.shop).tiers == ()  # nothing saved


def test_the_preview_of_a_wrong_form_names_the_fields(admin: AdminClient) -> None:
    response = Client().post(
        "/app/tiers/preview",
        tiers_post(**{"tiers-1-threshold": "10"}),
        headers={"Authorization": f"Bearer {admin.token()}"},
    )
    assert "tiers-1-threshold" in response.json()["errors"]


def test_the_preview_needs_a_session_token(admin: AdminClient) -> None:
    response = Client().post(
        "/app/tiers/preview", tiers_post(), headers={"Accept": "application/json"}
    )
    assert response.status_code == 401


def test_cash_back_rates_are_saved_and_keep_the_tiers(admin: AdminClient) -> None:
    admin.post("/app/tiers/", tiers_post())
    response = admin.post(
        "/app/cashback/",
        {
            "cashback_enabled": "on",
            "cashback_rate": "2",
            "cashback_delivery": "store_credit",
            "tiers-0-cashback_rate": "",
            "tiers-1-cashback_rate": "5",
        },
    )
    assert response.status_code == 303
    config = tier_program_current_config(shop=admin.shop)
    assert config.cashback_rate("Silver") == 2 and config.cashback_rate("Gold") == 5
    assert [t.name for t in config.tiers] == ["Silver", "Gold"]


def test_a_wrong_cash_back_rate_is_shown_and_nothing_changes(admin: AdminClient) -> None:
    response = admin.post(
        "/app/cashback/",
        {"cashback_enabled": "on", "cashback_rate": "250", "cashback_delivery": "store_credit"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors.by_input["cashback_rate"] == "must be at most 100"
    assert tier_program_current_config(shop=admin.shop).cashback.enabled is False
