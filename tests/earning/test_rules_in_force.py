"""The shop's earning rules through real webhooks: the rules in force when an order was placed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from loyalty_app.earning.models import Order
from loyalty_app.earning.services import program_update
from loyalty_app.members.models import Member
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload

COFFEE = LineSpec(price=Decimal("24.00"), title="House Blend", sku="COF-HB-1K")
MUG = LineSpec(price=Decimal("16.00"), title="Mug", sku="MUG-CER")
RULES = {
    "points_per_unit": "2",
    "line_rules": [{"field": "sku", "value": "cof-hb-1k", "multiplier": 3}],
}


def balance(shop, customer_id: int) -> int:
    return Member.objects.get(shop=shop.shop, external_id=str(customer_id)).points_balance


def test_an_order_earns_under_the_shops_rules_and_a_refund_takes_back_the_multiplied_points(
    shop, post_webhook
):
    # Given 2 points per unit and 3x on the house blend
    program, _ = program_update(shop=shop.shop, data=RULES, actor="test")
    placed = datetime.now(UTC) + timedelta(seconds=1)
    order = order_payload(
        order_id=7001, lines=[COFFEE, MUG], customer_id=61, email="r@example.com", created_at=placed
    )

    # When the order is paid
    post_webhook("orders/create", order)

    # Then (24 x 3 + 16) x 2 = 176 points, under version 1
    assert balance(shop, 61) == 176
    assert Order.objects.get(external_id="7001").program_id == program.pk

    # And refunding the coffee takes back exactly its 3x points: 24 x 3 x 2 = 144
    post_webhook(
        "refunds/create",
        refund_payload(refund_id=1, order_id=7001, lines=[(line_id_for(7001, 0), COFFEE, 1)]),
    )
    assert balance(shop, 61) == 32


def test_a_rule_change_does_not_rewrite_orders_placed_before_it(shop, post_webhook):
    # Given an order placed in January under the default program
    january = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    post_webhook(
        "orders/create",
        order_payload(
            order_id=7002,
            lines=[COFFEE, MUG],
            customer_id=62,
            email="s@example.com",
            created_at=january,
        ),
    )
    assert balance(shop, 62) == 40

    # When the merchant switches to 2 points per unit and 3x coffee, and the order is then updated
    program_update(shop=shop.shop, data=RULES, actor="test")
    post_webhook(
        "orders/updated",
        order_payload(
            order_id=7002,
            lines=[COFFEE, MUG],
            customer_id=62,
            email="s@example.com",
            created_at=january,
            updated_at=january + timedelta(days=1),
        ),
    )

    # Then it keeps the rules it was placed under
    assert balance(shop, 62) == 40
    assert Order.objects.get(external_id="7002").program_id is None


def test_an_excluded_line_earns_nothing_and_its_refund_takes_nothing(shop, post_webhook):
    program_update(
        shop=shop.shop,
        data={"line_rules": [{"field": "sku", "value": "MUG-CER", "exclude": True}]},
        actor="test",
    )
    placed = datetime.now(UTC) + timedelta(seconds=1)
    post_webhook(
        "orders/create",
        order_payload(
            order_id=7003,
            lines=[COFFEE, MUG],
            customer_id=63,
            email="t@example.com",
            created_at=placed,
        ),
    )
    assert balance(shop, 63) == 24

    post_webhook(
        "refunds/create",
        refund_payload(refund_id=2, order_id=7003, lines=[(line_id_for(7003, 1), MUG, 1)]),
    )
    assert balance(shop, 63) == 24


def test_the_shop_knows_when_its_rules_need_product_facts(shop):
    from loyalty_app.earning.selectors import shop_uses_product_facts
    from loyalty_app.earning.services import campaign_save
    from loyalty_app.shops.models import Shop

    # Given rules on SKU only: no lookup needed
    program_update(shop=shop.shop, data=RULES, actor="test")
    assert not shop_uses_product_facts(shop=Shop.objects.get(pk=shop.shop.pk))

    # When a campaign on a collection is added, the shop needs product facts
    campaign_save(
        shop=shop.shop,
        data={
            "name": "3x sale",
            "kind": "multiplier",
            "multiplier": "3",
            "starts_at": "2026-01-01T00:00:00+00:00",
            "ends_at": "2026-02-01T00:00:00+00:00",
            "applies_to": {"field": "collection", "value": "Sale"},
        },
    )
    assert shop_uses_product_facts(shop=Shop.objects.get(pk=shop.shop.pk))


def test_a_product_type_rule_makes_the_shop_look_up_product_facts(shop):
    from loyalty_app.earning.selectors import shop_uses_product_facts
    from loyalty_app.shops.models import Shop

    program_update(
        shop=shop.shop,
        data={"line_rules": [{"field": "product_type", "value": "Coffee", "multiplier": 2}]},
        actor="test",
    )
    # And a later version without it still needs them, for orders placed before
    program_update(shop=shop.shop, data={}, actor="test")

    assert shop_uses_product_facts(shop=Shop.objects.get(pk=shop.shop.pk))
