from decimal import Decimal

from shopify_bridge.devstore.payloads import LineSpec, order_payload


def test_a_paid_order_webhook_becomes_points(shop, post_webhook, api):
    payload = order_payload(
        order_id=1001,
        customer_id=501,
        email="ada@example.com",
        lines=[
            LineSpec(price=Decimal("24.00"), quantity=2, discount=Decimal("4.80")),
            LineSpec(price=Decimal("25.00"), gift_card=True),
        ],
        shipping=Decimal("5.00"),
        tax_rate=Decimal("0.08"),
    )
    response = post_webhook("orders/create", payload)
    assert response.status_code == 200, response.content
    body = api.get("/api/v1/customers/501").json()
    assert body["points_balance"] == 43
    assert body["tier"] is None
