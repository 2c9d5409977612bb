"""`manage.py devstore orders`: a seeded stream of signed order webhooks over real HTTP."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from loyalty_app.earning.models import Order
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from shopify_bridge.devstore.payloads import builtin_products, order_stream
from shopify_bridge.models import WebhookEvent


def orders(*args: str) -> dict:
    out = io.StringIO()
    call_command("devstore", "orders", *args, stdout=out)
    return json.loads(out.getvalue())


def stream(seed: int):
    return order_stream(
        seed=seed,
        count=30,
        customers=5,
        refund_rate=0.3,
        products=builtin_products(),
        when=datetime(2025, 1, 15, tzinfo=UTC),
    )


def test_the_stream_is_the_same_for_a_seed_and_differs_for_another():
    # When the stream is built twice with one seed, and once with another
    first, again, other = stream(3), stream(3), stream(4)

    # Then the same seed gives the same webhooks, another seed other ids
    assert first.deliveries == again.deliveries
    assert {d.webhook_id for d in first.deliveries}.isdisjoint(
        {d.webhook_id for d in other.deliveries}
    )
    # And it holds what a shop sends: customers first, orders created then paid, refunds
    topics = [d.topic for d in first.deliveries]
    assert topics.count("customers/create") == first.customers <= 5
    assert topics.count("orders/create") == topics.count("orders/paid") == 30
    assert topics.count("refunds/create") == first.refunds > 0
    assert topics.index("customers/create") < topics.index("orders/create")
    paid = [d.payload for d in first.deliveries if d.topic == "orders/paid"]
    assert all(p["financial_status"] == "paid" for p in paid)
    assert any(len(p["line_items"]) > 1 for p in paid)
    assert any(p["total_discounts"] != "0.00" for p in paid)
    assert any(p["total_shipping_price_set"]["shop_money"]["amount"] != "0.00" for p in paid)
    assert any(p["total_tax"] != "0.00" for p in paid)


def test_orders_are_sent_signed_over_http_and_a_rerun_awards_nothing_twice(shop, simulator):
    # Given the app's webhook receiver served over real HTTP
    domain = shop.shop.domain
    url = simulator.url + "/shopify/webhooks"

    # When 25 orders of 6 shoppers are sent, a fifth of them partly refunded
    result = orders(
        "--shop",
        domain,
        "--count",
        "25",
        "--customers",
        "6",
        "--seed",
        "11",
        "--refunds",
        "0.2",
        "--url",
        url,
    )

    # Then every webhook was accepted and applied
    assert result["failed"] == 0 and result["duplicates"] == 0
    assert result["accepted"] == result["sent"]
    assert result["sent"] == result["customers"] + 2 * result["orders"] + result["refunds"]
    assert result["orders"] == Order.objects.filter(shop=shop.shop, paid=True).count() == 25
    assert Member.objects.filter(shop=shop.shop).count() == result["customers"]
    assert WebhookEvent.objects.exclude(status="done").count() == 0
    awarded = LedgerEntry.objects.filter(shop=shop.shop).aggregate(s=Sum("points"))["s"]
    assert awarded == Order.objects.aggregate(s=Sum("points_awarded"))["s"] > 0

    # When the same command runs again with the same seed
    again = orders(
        "--shop",
        domain,
        "--count",
        "25",
        "--customers",
        "6",
        "--seed",
        "11",
        "--refunds",
        "0.2",
        "--url",
        url,
    )

    # Then every delivery is a duplicate and nothing more is awarded
    assert (again["duplicates"], again["accepted"], again["failed"]) == (result["sent"], 0, 0)
    assert LedgerEntry.objects.filter(shop=shop.shop).aggregate(s=Sum("points"))["s"] == awarded


def test_orders_use_the_simulated_shops_products_when_it_has_some(shop, simulator):
    # Given a simulated shop with its own products
    simulator.install(shop.shop)
    url = simulator.url + "/shopify/webhooks"

    # When orders are sent
    result = orders("--shop", shop.shop.domain, "--count", "5", "--seed", "2", "--url", url)

    # Then their lines are those products (gift cards aside)
    assert result["failed"] == 0
    products = {
        line["product_id"]
        for event in WebhookEvent.objects.filter(topic="orders/paid")
        for line in event.payload["line_items"]
        if not line["gift_card"]
    }
    assert products <= {6001, 6002, 6003, 6004}


def test_an_unreachable_receiver_counts_every_delivery_as_failed(shop):
    # When the receiver's address answers nothing
    result = orders(
        "--shop", shop.shop.domain, "--count", "2", "--url", "http://127.0.0.1:9/shopify/webhooks"
    )

    # Then each delivery failed and the command still reports
    assert result["failed"] == result["sent"] > 0
    assert result["accepted"] == 0


def test_out_of_range_arguments_are_refused(shop):
    with pytest.raises(CommandError, match="--count"):
        orders("--shop", shop.shop.domain, "--count", "0")
    with pytest.raises(CommandError, match="--refunds"):
        orders("--shop", shop.shop.domain, "--refunds", "1.5")
