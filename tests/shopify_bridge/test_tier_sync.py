"""A member's tier shown on the customer in the simulated shop, over real HTTP: the tier's
tag (the old one removed) and the loyalty.tier / loyalty.points metafields, one outbox call
per change, never twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty_app.members.models import Member
from loyalty_app.tiers.domain import TierNotice
from loyalty_app.tiers.services import tier_program_update
from shopify_bridge.devstore.models import DevStoreMetafield, DevStoreMutation, DevStoreTags
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload
from shopify_bridge.models import AdminApiCall
from shopify_bridge.tier_sync import tier_changes_publish, tier_sync_call

pytestmark = pytest.mark.django_db(transaction=True)

SHIRT = LineSpec(price=Decimal("100.00"), title="Shirt", sku="SHIRT")
TIERS = {
    "metric": "amount_spent",
    "period": "calendar_year",
    "tiers": [
        {"name": "Silver", "threshold": "200", "customer_tag": "vip-silver"},
        {"name": "Gold", "threshold": "500", "customer_tag": "vip-gold"},
    ],
}


def buy(post_webhook, order_id: int, customer_id: int, quantity: int) -> None:
    spec = LineSpec(price=SHIRT.price, quantity=quantity, title="Shirt", sku="SHIRT")
    payload = order_payload(
        order_id=order_id, lines=[spec], customer_id=customer_id, email=f"c{customer_id}@x.io"
    )
    assert post_webhook("orders/create", payload).status_code == 200


def customer_state(shop, customer_id: int) -> tuple[list[str], dict[str, str]]:
    gid = f"gid://shopify/Customer/{customer_id}"
    tags = DevStoreTags.objects.filter(store__domain=shop.domain, owner_id=gid).first()
    fields = {
        f"{m.namespace}.{m.key}": m.value
        for m in DevStoreMetafield.objects.filter(store__domain=shop.domain, owner_id=gid)
    }
    return (tags.tags if tags else []), fields


def test_an_upgrade_sets_the_tag_and_the_metafields_on_the_customer(shop, simulator, post_webhook):
    # Given the app installed on a simulated shop with tiers
    simulator.install(shop.shop)
    tier_program_update(shop=shop.shop, data=TIERS, actor="test")

    # When a customer's order of 300.00 makes them Silver, then one of 200.00 Gold
    buy(post_webhook, 8801, 901, 3)
    assert customer_state(shop.shop, 901) == (
        ["vip-silver"],
        {"loyalty.tier": "Silver", "loyalty.points": "300"},
    )
    buy(post_webhook, 8802, 901, 2)

    # Then the shop's customer carries Gold's tag only, and the metafields say Gold
    tags, fields = customer_state(shop.shop, 901)
    assert tags == ["vip-gold"]
    assert fields == {"loyalty.tier": "Gold", "loyalty.points": "500"}
    # And each change was one call, performed once
    calls = AdminApiCall.objects.filter(shop=shop.shop, kind="tier_sync")
    assert [c.status for c in calls] == ["done", "done"]


def test_an_undone_upgrade_puts_the_previous_tag_back(shop, simulator, post_webhook):
    # Given a customer made Gold by an order (from Silver)
    simulator.install(shop.shop)
    tier_program_update(shop=shop.shop, data=TIERS, actor="test")
    buy(post_webhook, 8811, 902, 3)
    buy(post_webhook, 8812, 902, 2)

    # When that order is refunded at once
    spec = LineSpec(price=SHIRT.price, quantity=2, title="Shirt", sku="SHIRT")
    refund = refund_payload(refund_id=91, order_id=8812, lines=[(line_id_for(8812, 0), spec, 2)])
    assert post_webhook("refunds/create", refund).status_code == 200

    # Then the customer is Silver again in the shop
    tags, fields = customer_state(shop.shop, 902)
    assert tags == ["vip-silver"]
    assert fields["loyalty.tier"] == "Silver"


def test_a_notice_published_again_records_no_second_call(shop, simulator):
    # Given the app installed and one tier change's notice
    simulator.install(shop.shop)
    member = Member.objects.create(shop=shop.shop, external_id="903")
    notice = TierNotice(
        member_id=member.pk,
        customer_id="903",
        event_id=1,
        tier="Gold",
        tag="vip-gold",
        tags_removed=("vip-silver", "vip-gold"),
        points_balance=42,
    )

    # When it is published twice (a re-run of the evaluation)
    tier_changes_publish(shop=shop.shop, notices=[notice])
    tier_changes_publish(shop=shop.shop, notices=[notice])

    # Then one call was recorded and the shop received one mutation of each kind
    assert AdminApiCall.objects.filter(shop=shop.shop, kind="tier_sync").count() == 1
    names = list(
        DevStoreMutation.objects.filter(store__domain=shop.shop.domain).values_list(
            "name", flat=True
        )
    )
    assert sorted(names) == ["metafieldsSet", "tagsAdd", "tagsRemove"]
    assert customer_state(shop.shop, 903)[1] == {"loyalty.tier": "Gold", "loyalty.points": "42"}


def test_leaving_every_tier_removes_the_tags_and_writes_none():
    # Given a member who drops out of every tier
    notice = TierNotice(
        member_id=1,
        customer_id="904",
        event_id=3,
        tier=None,
        tag="",
        tags_removed=("vip-silver", "vip-gold"),
        points_balance=0,
    )

    # When the call is built
    document, variables = tier_sync_call(notice=notice)

    # Then it removes both tags, adds none, and writes "none" (a metafield cannot be blank)
    assert "tagsRemove" in document and "tagsAdd" not in document
    assert variables["remove"] == ["vip-silver", "vip-gold"]
    assert variables["metafields"][0]["value"] == "none"
    assert variables["metafields"][1] == {
        "ownerId": "gid://shopify/Customer/904",
        "namespace": "loyalty",
        "key": "points",
        "type": "number_integer",
        "value": "0",
    }
