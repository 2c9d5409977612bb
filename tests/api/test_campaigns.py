"""Bonus campaigns through the merchant API, and what they do to real orders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.test import Client

from loyalty_app.earning.models import Campaign, Order
from loyalty_app.members.models import Member
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload

NOW = datetime.now(UTC)
COFFEE = LineSpec(price=Decimal("24.00"), sku="COF-HB-1K")
MUG = LineSpec(price=Decimal("16.00"), sku="MUG-CER")


def create(api: Client, body: dict):
    return api.post("/api/v1/campaigns", data=json.dumps(body), content_type="application/json")


def window(hours_before: int = 1, hours_after: int = 48) -> dict:
    return {
        "starts_at": (NOW - timedelta(hours=hours_before)).isoformat(),
        "ends_at": (NOW + timedelta(hours=hours_after)).isoformat(),
    }


def balance(shop, customer_id: int) -> int:
    return Member.objects.get(shop=shop.shop, external_id=str(customer_id)).points_balance


def test_a_campaign_is_created_listed_changed_and_deleted(api, shop):
    created = create(
        api, {"name": "Double points weekend", "kind": "multiplier", "multiplier": "2", **window()}
    )
    assert created.status_code == 201, created.content
    campaign_id = created.json()["id"]
    assert created.json()["multiplier"] == "2"

    assert [c["id"] for c in api.get("/api/v1/campaigns").json()["results"]] == [campaign_id]

    changed = api.patch(
        f"/api/v1/campaigns/{campaign_id}",
        data=json.dumps({"multiplier": "3"}),
        content_type="application/json",
    )
    assert changed.status_code == 200
    assert changed.json()["multiplier"] == "3"
    assert changed.json()["name"] == "Double points weekend"

    assert api.delete(f"/api/v1/campaigns/{campaign_id}").status_code == 204
    assert api.get(f"/api/v1/campaigns/{campaign_id}").status_code == 404


def test_times_without_an_offset_are_the_shops_wall_clock(api, shop):
    shop.shop.timezone = "America/New_York"
    shop.shop.save()
    created = create(
        api,
        {
            "name": "Evening",
            "kind": "bonus",
            "bonus_points": 50,
            "starts_at": "2026-07-04T18:00:00",
            "ends_at": "2026-07-04T23:00:00",
        },
    )
    assert created.status_code == 201, created.content
    campaign = Campaign.objects.get()
    assert campaign.starts_at == datetime(2026, 7, 4, 22, 0, tzinfo=UTC)  # 18:00 EDT


def test_an_invalid_campaign_is_a_400_naming_the_field(api):
    response = create(
        api,
        {
            "name": "Backwards",
            "kind": "multiplier",
            "multiplier": "2",
            "starts_at": NOW.isoformat(),
            "ends_at": (NOW - timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("ends_at: ")
    assert Campaign.objects.count() == 0


def test_another_shop_cannot_see_or_change_a_campaign(api, other_shop):
    campaign_id = create(
        api, {"name": "Mine", "kind": "bonus", "bonus_points": 10, **window()}
    ).json()["id"]
    other = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    assert other.get(f"/api/v1/campaigns/{campaign_id}").status_code == 404
    assert other.delete(f"/api/v1/campaigns/{campaign_id}").status_code == 404
    assert other.get("/api/v1/campaigns").json()["results"] == []
    assert Campaign.objects.filter(pk=campaign_id).exists()


def test_an_order_during_a_campaign_earns_its_multiplier_and_a_refund_takes_it_back(
    api, shop, post_webhook
):
    create(
        api,
        {
            "name": "3x coffee",
            "kind": "multiplier",
            "multiplier": "3",
            "applies_to": {"field": "sku", "value": "COF-HB-1K"},
            **window(),
        },
    )
    post_webhook(
        "orders/create",
        order_payload(
            order_id=8101,
            lines=[COFFEE, MUG],
            customer_id=81,
            email="c@example.com",
            created_at=NOW,
        ),
    )
    assert balance(shop, 81) == 24 * 3 + 16

    post_webhook(
        "refunds/create",
        refund_payload(refund_id=81, order_id=8101, lines=[(line_id_for(8101, 0), COFFEE, 1)]),
    )
    assert balance(shop, 81) == 16


def test_a_first_order_bonus_is_given_once(api, shop, post_webhook):
    create(
        api,
        {
            "name": "Welcome",
            "kind": "bonus",
            "bonus_points": 100,
            "first_order_only": True,
            **window(hours_before=24 * 30),
        },
    )
    post_webhook(
        "orders/create",
        order_payload(
            order_id=8201,
            lines=[MUG],
            customer_id=82,
            email="d@example.com",
            created_at=NOW - timedelta(days=2),
        ),
    )
    post_webhook(
        "orders/create",
        order_payload(
            order_id=8202,
            lines=[MUG],
            customer_id=82,
            email="d@example.com",
            created_at=NOW - timedelta(days=1),
        ),
    )

    assert balance(shop, 82) == 16 + 100 + 16
    assert Order.objects.get(external_id="8201").first_order is True
    assert Order.objects.get(external_id="8202").first_order is False


def test_deleting_a_campaign_does_not_rewrite_orders_placed_during_it(api, shop, post_webhook):
    campaign_id = create(
        api, {"name": "Double", "kind": "multiplier", "multiplier": "2", **window()}
    ).json()["id"]
    order = order_payload(
        order_id=8301, lines=[MUG], customer_id=83, email="e@example.com", created_at=NOW
    )
    post_webhook("orders/create", order)
    assert balance(shop, 83) == 32

    api.delete(f"/api/v1/campaigns/{campaign_id}")
    post_webhook("orders/updated", {**order, "updated_at": (NOW + timedelta(hours=1)).isoformat()})

    assert balance(shop, 83) == 32


def test_an_order_placed_outside_the_window_earns_the_base_rate(api, shop, post_webhook):
    create(
        api,
        {
            "name": "Later",
            "kind": "multiplier",
            "multiplier": "2",
            **window(hours_before=-24, hours_after=48),
        },
    )
    post_webhook(
        "orders/create",
        order_payload(
            order_id=8401, lines=[MUG], customer_id=84, email="f@example.com", created_at=NOW
        ),
    )
    assert balance(shop, 84) == 16


def test_the_preview_counts_the_campaigns_in_force(api):
    create(api, {"name": "Double", "kind": "multiplier", "multiplier": "2", **window()})
    create(
        api,
        {
            "name": "Welcome",
            "kind": "bonus",
            "bonus_points": 100,
            "first_order_only": True,
            **window(),
        },
    )

    response = api.post(
        "/api/v1/preview",
        data=json.dumps({"lines": [{"price": "16.00"}], "first_order": True}),
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json()["points"] == 16 * 2 + 100
