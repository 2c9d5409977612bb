"""The earning program through the merchant API: read, change (versioned), preview."""

from __future__ import annotations

import json

from django.test import Client

from loyalty_app.earning.models import Program


def put(api: Client, body: object):
    return api.put("/api/v1/program", data=json.dumps(body), content_type="application/json")


def preview(api: Client, body: object):
    return api.post("/api/v1/preview", data=json.dumps(body), content_type="application/json")


def test_a_new_shop_runs_the_default_program(api):
    response = api.get("/api/v1/program")

    assert response.status_code == 200
    body = response.json()
    assert body["version"] is None
    assert body["rules"] == {
        "points_per_unit": "1",
        "include_shipping": False,
        "include_tax": False,
        "rounding": "down",
        "min_order_amount": "0",
        "max_points_per_order": None,
        "line_rules": [],
        "actions": [],
        "pending_days": 0,
        "expiry": {"mode": "off", "months": 12, "reminder_days": 30},
        "enabled": True,
    }


def test_changing_the_rules_stores_a_new_version(api, shop):
    # Given a merchant who sets 2.5 points per unit and 3x on Coffee
    rules = {
        "points_per_unit": "2.5",
        "line_rules": [{"field": "product_type", "value": "Coffee", "multiplier": 3}],
    }

    # When they save it twice, then change it
    first = put(api, rules)
    again = put(api, rules)
    changed = put(api, {**rules, "rounding": "nearest"})

    # Then the first save is version 1, the retry changes nothing, the change is version 2
    assert first.status_code == 201
    assert first.json()["version"] == 1
    assert first.json()["rules"]["line_rules"] == [
        {"field": "product_type", "value": "Coffee", "multiplier": "3"}
    ]
    assert again.status_code == 200
    assert again.json()["version"] == 1
    assert changed.status_code == 201
    assert changed.json()["version"] == 2
    assert list(
        Program.objects.filter(shop=shop.shop).values_list("version", flat=True).order_by("version")
    ) == [1, 2]
    assert api.get("/api/v1/program").json()["rules"]["rounding"] == "nearest"


def test_an_invalid_rule_is_a_400_naming_the_field_and_stores_nothing(api, shop):
    response = put(
        api,
        {
            "line_rules": [
                {"field": "product_type", "value": "Coffee", "multiplier": 3},
                {"field": "colour", "value": "red", "multiplier": 2},
            ]
        },
    )

    assert response.status_code == 400
    body = response.json()
    assert "line_rules[1].field" in body["fields"]
    assert body["error"].startswith("line_rules[1].field: ")
    assert Program.objects.count() == 0


def test_a_negative_rate_is_refused(api):
    response = put(api, {"points_per_unit": "-1"})
    assert response.status_code == 400
    assert "points_per_unit" in response.json()["fields"]


def test_another_shops_program_is_its_own(api, other_shop):
    put(api, {"points_per_unit": "5"})
    other = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    assert other.get("/api/v1/program").json()["version"] is None
    assert (
        other.post(
            "/api/v1/preview",
            data=json.dumps({"lines": [{"price": "10"}]}),
            content_type="application/json",
        ).json()["points"]
        == 10
    )


def test_the_preview_says_what_a_cart_earns_and_why(api):
    put(
        api,
        {
            "points_per_unit": "2",
            "line_rules": [
                {"field": "product_type", "value": "coffee", "multiplier": 3},
                {"field": "tag", "value": "sale", "exclude": True},
            ],
        },
    )

    response = preview(
        api,
        {
            "lines": [
                {"price": "24.00", "quantity": 2, "discount": "4.00", "product_type": "Coffee"},
                {"price": "16.00", "tags": ["sale"]},
                {"price": "10.00"},
                {"price": "25.00", "gift_card": True},
            ],
            "shipping": "5.00",
        },
    )

    # (44.00 x 3 + 0 + 10.00) x 2 points per unit = 284; shipping, the sale item and the gift card earn nothing
    assert response.status_code == 200
    body = response.json()
    assert body["points"] == 284
    assert body["program_version"] == 1
    assert isinstance(body["summary"], str) and body["summary"]
    assert len(body["explanation"]["lines"]) == 4


def test_a_preview_with_a_bad_line_names_it(api):
    response = preview(api, {"lines": [{"price": "10"}, {"price": "-3"}]})
    assert response.status_code == 400
    assert "lines[1].price" in response.json()["error"]


def test_the_program_needs_a_token(client, db):
    assert client.get("/api/v1/program").status_code == 401
