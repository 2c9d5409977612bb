"""The Program page saves through earning's program_update with the API's validation."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty_app.earning.models import Program
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.merchant_admin.models import AuditEntry

from .conftest import AdminClient

pytestmark = pytest.mark.django_db


def program_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "enabled": "on",
        "points_per_unit": "2.5",
        "rounding": "nearest",
        "min_order_amount": "20",
        "max_points_per_order": "5000",
        "include_shipping": "on",
        "pending_days": "14",
        "expiry_mode": "per_earning",
        "expiry_months": "12",
        "expiry_reminder_days": "30",
        "line_rules-0-field": "sku",
        "line_rules-0-value": "COF-HB-1K",
        "line_rules-0-effect": "multiplier",
        "line_rules-0-multiplier": "3",
        "line_rules-1-field": "vendor",
        "line_rules-1-value": "Clearance Co",
        "line_rules-1-effect": "exclude",
        "line_rules-2-field": "sku",
        "line_rules-2-value": "",
        "line_rules-2-multiplier": "",
        "actions-0-key": "signup",
        "actions-0-points": "100",
        "actions-0-enabled": "on",
        "actions-1-key": "store_event",
        "actions-1-name": "Attended the store event",
        "actions-1-points": "40",
        "actions-1-limit_count": "2",
        "actions-1-limit_period": "month",
        "actions-1-enabled": "on",
    }
    data.update(overrides)
    return data


def test_the_program_form_saves_a_new_version_with_the_rules_given(admin: AdminClient) -> None:
    # when the merchant saves the form
    response = admin.post("/app/program/", program_post())
    # then a new version holds exactly those rules, audited, and the page says so
    assert response.status_code == 303
    assert "toast=program_saved" in response["Location"]
    config = program_config(program_current(shop=admin.shop)).to_dict()
    assert config["points_per_unit"] == "2.5"
    assert config["rounding"] == "nearest"
    assert config["max_points_per_order"] == 5000
    assert config["include_shipping"] is True and config["include_tax"] is False
    assert config["line_rules"] == [
        {"field": "sku", "value": "COF-HB-1K", "multiplier": "3"},
        {"field": "vendor", "value": "Clearance Co", "exclude": True},
    ]
    assert [a["key"] for a in config["actions"]] == ["signup", "store_event"]
    assert config["actions"][1]["limit"] == {"count": 2, "period": "month", "per_target": False}
    assert config["pending_days"] == 14
    assert config["expiry"] == {"mode": "per_earning", "months": 12, "reminder_days": 30}
    entry = AuditEntry.objects.get(shop=admin.shop)
    assert entry.action == "program.update" and entry.actor == "staff:42"
    assert entry.after["points_per_unit"] == "2.5" and entry.before["points_per_unit"] == "1"


def test_saving_the_same_program_twice_makes_one_version(admin: AdminClient) -> None:
    admin.post("/app/program/", program_post())
    response = admin.post("/app/program/", program_post())
    assert "toast=program_unchanged" in response["Location"]
    assert Program.objects.filter(shop=admin.shop).count() == 1
    assert AuditEntry.objects.filter(shop=admin.shop).count() == 1


def test_every_wrong_field_is_shown_next_to_its_input_and_nothing_is_saved(
    admin: AdminClient,
) -> None:
    # given several wrong fields at once
    response = admin.post(
        "/app/program/",
        program_post(
            points_per_unit="-1",
            max_points_per_order="lots",
            **{
                "line_rules-1-value": "Sale",
                "line_rules-1-effect": "multiplier",
                "line_rules-1-multiplier": "500",
                "actions-1-limit_count": "0",
            },
            expiry_months="0",
        ),
    )
    # then the page comes back with each message at its field and a summary banner
    assert response.status_code == 400
    errors = response.context["form"].errors.by_input
    assert errors["points_per_unit"] == "must be at least 0"
    assert errors["max_points_per_order"] == "must be a whole number"
    assert errors["line_rules-1-multiplier"] == "must be at most 100"
    assert errors["actions-1-limit_count"] == "must be at least 1"
    assert errors["expiry_months"] == "must be at least 1"
    body = response.content.decode()
    assert 'data-testid="error-banner"' in body
    assert 'id="points_per_unit-error"' in body
    assert 'aria-invalid="true"' in body
    # and nothing changed
    assert program_current(shop=admin.shop) is None
    assert not AuditEntry.objects.filter(shop=admin.shop).exists()


def test_a_duplicate_action_is_refused_as_the_api_refuses_it(admin: AdminClient) -> None:
    response = admin.post(
        "/app/program/",
        program_post(**{"actions-1-key": "signup", "actions-1-limit_count": ""}),
    )
    assert response.status_code == 400
    assert response.context["form"].errors.by_input == {"actions-1-key": "'signup' appears twice"}


def test_the_form_shows_the_rules_in_force(admin: AdminClient) -> None:
    admin.post("/app/program/", program_post())
    response = admin.get("/app/program/")
    body = response.content.decode()
    assert 'value="COF-HB-1K"' in body and 'value="Attended the store event"' in body


def test_pausing_and_resuming_the_program_is_a_new_version_each(admin: AdminClient) -> None:
    # when the merchant pauses the program from Home
    response = admin.post("/app/program/status", {"next": "home"})
    # then the program earns nothing, and Home says it is paused
    assert response.status_code == 303 and response["Location"].startswith("/app/?")
    assert program_config(program_current(shop=admin.shop)).to_dict()["enabled"] is False
    assert b'data-testid="program-status">Paused' in admin.get("/app/").content
    # when it is made live again
    admin.post("/app/program/status", {"enabled": "on", "next": "settings"})
    assert program_config(program_current(shop=admin.shop)).to_dict()["enabled"] is True
    assert list(
        AuditEntry.objects.filter(shop=admin.shop).order_by("pk").values_list("after", flat=True)
    ) == [{"enabled": False}, {"enabled": True}]
