"""POST /api/v1/preview with a cart or an order payload: product facts come from the shop's
Admin API (the dev-store simulator over HTTP), and the preview matches what the order earns."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from loyalty_app.members.models import Member
from shopify_bridge.devstore.payloads import LineSpec, order_payload

from .conftest import COFFEE, MUG, program_put

RULES = {
    "line_rules": [
        {"field": "product_type", "value": "Coffee", "multiplier": 3},
        {"field": "collection", "value": "Sale", "exclude": True},
    ]
}


def preview(api, body):
    return api.post("/api/v1/preview", data=json.dumps(body), content_type="application/json")


@pytest.mark.django_db(transaction=True)
def test_a_product_page_preview_counts_the_products_type_from_the_admin_api(shop, api, simulator):
    # Given 3x on coffee, and a cart line that names only the product
    simulator.install(shop.shop)
    program_put(api, RULES)

    # When the storefront asks what one bag of coffee earns
    response = preview(api, {"lines": [{"price": "24.00", "product_id": str(COFFEE)}]})

    # Then it is 72 points, because the Admin API says the product is Coffee
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["points"] == 72
    assert body["explanation"]["lines"][0]["rule"]["value"] == "Coffee"


@pytest.mark.django_db(transaction=True)
def test_an_order_payload_previews_exactly_what_the_order_then_earns(
    shop, api, simulator, post_webhook
):
    simulator.install(shop.shop)
    program_put(api, RULES)
    order = order_payload(
        order_id=8801,
        customer_id=880,
        email="p@example.com",
        lines=[
            LineSpec(price=Decimal("24.00"), quantity=2, sku="C", product_id=COFFEE),
            LineSpec(price=Decimal("16.00"), sku="M", product_id=MUG),
            LineSpec(price=Decimal("10.00"), sku="X"),
        ],
    )

    previewed = preview(api, {"order": order})
    post_webhook("orders/create", order)

    assert previewed.status_code == 200, previewed.content
    # 2 x 24 coffee at 3x = 144, the mug is in Sale (0), the unnamed line 10
    assert previewed.json()["points"] == 154
    assert Member.objects.get(external_id="880").points_balance == 154


@pytest.mark.django_db(transaction=True)
def test_a_preview_says_503_when_the_admin_api_cannot_answer(shop, api, simulator):
    simulator.install(shop.shop)
    program_put(api, RULES)
    simulator.fail(shop.shop, "http_503")

    response = preview(api, {"lines": [{"price": "24.00", "product_id": str(COFFEE)}]})

    assert response.status_code == 503
    assert "try again" in response.json()["error"]


def test_a_preview_needs_a_cart_or_an_order_and_names_what_is_wrong(shop, api):
    assert preview(api, {}).json()["fields"].keys() == {"lines"}
    bad = preview(api, {"order": {"id": "x"}})
    assert bad.status_code == 400
    assert "order" in bad.json()["fields"]
