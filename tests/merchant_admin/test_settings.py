"""Settings: the widget's look, one row per shop, validated and audited."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty_app.merchant_admin.models import AuditEntry, WidgetSettings
from loyalty_app.merchant_admin.selectors import widget_settings_get

from .conftest import AdminClient

pytestmark = pytest.mark.django_db


def widget_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "enabled": "on",
        "primary_colour": "#112233",
        "text_colour": "#FFFFFF",
        "launcher_position": "left",
        "launcher_text": "Points",
        "panel_title": "Coffee club",
        "welcome_text": "Earn a point per euro.",
    }
    data.update(overrides)
    return data


def test_a_shop_without_settings_sees_the_defaults(admin: AdminClient) -> None:
    response = admin.get("/app/settings/")
    assert response.context["values"]["launcher_position"] == "right"
    assert not WidgetSettings.objects.exists()


def test_the_widget_settings_are_saved_and_audited(admin: AdminClient) -> None:
    response = admin.post("/app/settings/", widget_post())
    assert response.status_code == 303 and "toast=settings_saved" in response["Location"]
    saved = widget_settings_get(shop=admin.shop)
    assert saved.summary() == {
        "enabled": True,
        "primary_colour": "#112233",
        "text_colour": "#FFFFFF",
        "launcher_position": "left",
        "launcher_text": "Points",
        "panel_title": "Coffee club",
        "welcome_text": "Earn a point per euro.",
    }
    assert saved.updated_by == "staff:42"
    audit = AuditEntry.objects.get(shop=admin.shop)
    assert audit.action == "widget.update"
    assert (
        audit.before["primary_colour"] == "#008060" and audit.after["primary_colour"] == "#112233"
    )
    # saving the same again records nothing new, and there is still one row
    admin.post("/app/settings/", widget_post())
    assert WidgetSettings.objects.filter(shop=admin.shop).count() == 1
    assert AuditEntry.objects.filter(shop=admin.shop).count() == 1


def test_wrong_values_are_shown_at_their_fields_and_nothing_changes(admin: AdminClient) -> None:
    response = admin.post(
        "/app/settings/",
        widget_post(
            primary_colour="red",
            text_colour="#12345",
            launcher_position="top",
            launcher_text="x" * 31,
            panel_title="",
        ),
    )
    assert response.status_code == 400
    errors = response.context["errors"].by_input
    assert set(errors) == {
        "primary_colour",
        "text_colour",
        "launcher_position",
        "launcher_text",
        "panel_title",
    }
    assert errors["primary_colour"] == "must be a colour written #rrggbb"
    assert not WidgetSettings.objects.filter(enabled=True).exists()
    assert not AuditEntry.objects.exists()
    # and the preview never receives an unchecked colour
    assert b"--w-primary: #000000" in response.content


def test_each_shop_has_its_own_settings(admin: AdminClient, other_admin: AdminClient) -> None:
    admin.post("/app/settings/", widget_post())
    assert other_admin.get("/app/settings/").context["values"]["primary_colour"] == "#008060"
