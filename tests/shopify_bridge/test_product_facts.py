"""Product facts from the Admin API and their per-shop cache, against the simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty_app.common.time import now
from shopify_bridge.admin_api import AdminApiTransientError
from shopify_bridge.models import ProductFacts
from shopify_bridge.product_facts import (
    IDS_PER_CALL,
    product_facts_change,
    product_facts_fetch,
    product_facts_forget,
    product_facts_get,
)
from shopify_bridge.translate import ProductChange, product_change_from_payload

from .conftest import COFFEE, KETTLE, MUG, SALE


def product(product_id: int, **fields):
    return {
        "id": product_id,
        "title": f"Product {product_id}",
        "product_type": fields.get("product_type", "Coffee"),
        "tags": fields.get("tags", []),
        "collections": fields.get("collections", []),
    }


def test_facts_of_many_products_are_read_in_batches_under_the_cost_limit(shop, simulator):
    # given a shop with 80 products
    simulator.install(shop.shop)
    simulator.products(shop.shop, [product(10_000 + i) for i in range(80)])

    # when the app reads all of them
    facts = product_facts_fetch(shop=shop.shop, product_ids=[str(10_000 + i) for i in range(80)])

    # then it took one call per batch, each accepted by the store's cost limit
    assert IDS_PER_CALL == 34
    assert simulator.calls(shop.shop) == 3
    assert len(facts) == 80
    assert {f.product_type for f in facts.values()} == {"Coffee"}


def test_a_product_in_many_collections_gets_all_of_them(shop, simulator):
    # given a product in 60 collections (more than one page of them)
    simulator.install(shop.shop)
    collections = [{"id": 900 + i, "handle": f"c-{i}", "title": f"C {i}"} for i in range(60)]
    simulator.products(shop.shop, [product(77, collections=collections)])

    # when its facts are read
    facts = product_facts_fetch(shop=shop.shop, product_ids=["77"])["77"]

    # then every collection is there, with each of its names, after one follow-up call
    assert len(facts.collections) == 60
    assert facts.collection_names()[:3] == ("900", "c-0", "C 0")
    assert simulator.calls(shop.shop) == 2


def test_an_unknown_product_and_an_id_that_cannot_be_one_are_told_apart(shop, simulator):
    simulator.install(shop.shop)

    facts = product_facts_fetch(shop=shop.shop, product_ids=["424242", "not-an-id", ""])

    assert set(facts) == {"424242"}
    assert facts["424242"].found is False
    assert simulator.calls(shop.shop) == 1


def test_the_cache_answers_in_one_query_without_a_call_while_fresh(shop, simulator):
    # given facts read once
    simulator.install(shop.shop)
    product_facts_get(shop=shop.shop, product_ids=[str(COFFEE), str(KETTLE), str(MUG)])
    assert simulator.calls(shop.shop) == 1

    # when they are asked for again
    with CaptureQueriesContext(connection) as queries:
        facts = product_facts_get(shop=shop.shop, product_ids=[str(COFFEE), str(KETTLE), str(MUG)])

    # then one query answered and the store was not called
    assert len(queries) == 1
    assert simulator.calls(shop.shop) == 1
    assert facts[str(MUG)].collection_names() == (str(SALE["id"]), "sale", "Sale")
    assert facts[str(COFFEE)].tags == ("beans", "organic")


def test_facts_older_than_the_ttl_are_read_again(shop, simulator, settings):
    # given facts read more than a TTL ago
    settings.PRODUCT_FACTS_TTL_SECONDS = 3600
    simulator.install(shop.shop)
    product_facts_get(shop=shop.shop, product_ids=[str(COFFEE)])
    ProductFacts.objects.update(fetched_at=now() - timedelta(seconds=3601))

    # when they are needed, then the store is asked again and the row is fresh
    product_facts_get(shop=shop.shop, product_ids=[str(COFFEE)])
    assert simulator.calls(shop.shop) == 2
    assert ProductFacts.objects.get().fetched_at > now() - timedelta(seconds=60)


def test_a_cold_cache_with_the_store_down_raises_a_transient_error(shop, simulator):
    simulator.install(shop.shop)
    simulator.fail(shop.shop, "http_503")

    with pytest.raises(AdminApiTransientError):
        product_facts_get(shop=shop.shop, product_ids=[str(COFFEE)])
    assert ProductFacts.objects.count() == 0


def test_a_products_update_takes_type_and_tags_and_marks_collections_for_a_new_read(
    shop, simulator
):
    # given a cached product
    simulator.install(shop.shop)
    product_facts_get(shop=shop.shop, product_ids=[str(MUG)])

    # when products/update says it is now Drinkware, tagged "gift, ceramic"
    payload = {
        "id": MUG,
        "product_type": "Drinkware",
        "tags": "gift, ceramic ,",
        "updated_at": (now() + timedelta(minutes=1)).isoformat(),
    }
    changed = product_facts_change(shop=shop.shop, change=product_change_from_payload(payload))

    # then the row holds them, and must be read again before its next use
    row = ProductFacts.objects.get()
    assert changed == 1
    assert (row.product_type, row.tags, row.fetched_at) == ("Drinkware", ["gift", "ceramic"], None)
    product_facts_get(shop=shop.shop, product_ids=[str(MUG)])
    assert simulator.calls(shop.shop) == 2


def test_an_older_products_update_delivered_late_changes_nothing(shop, simulator):
    simulator.install(shop.shop)
    product_facts_get(shop=shop.shop, product_ids=[str(MUG)])
    read_at = ProductFacts.objects.get().source_updated_at

    stale = ProductChange(str(MUG), "Old type", (), read_at - timedelta(days=1))
    assert product_facts_change(shop=shop.shop, change=stale) == 0
    assert ProductFacts.objects.get().product_type == "Merch"


def test_an_uncached_product_update_is_left_for_the_first_order_that_needs_it(shop):
    change = ProductChange("123", "Coffee", ("new",), now())

    assert product_facts_change(shop=shop.shop, change=change) == 0
    assert ProductFacts.objects.count() == 0


def test_a_deleted_product_keeps_its_last_known_facts(shop, simulator):
    # given a cached product, deleted in the shop
    simulator.install(shop.shop)
    product_facts_get(shop=shop.shop, product_ids=[str(MUG)])
    product_facts_forget(shop=shop.shop, product_id=str(MUG))
    simulator.delete(shop.shop, MUG)
    ProductFacts.objects.update(fetched_at=now() - timedelta(days=2))

    # when a late order needs it after the TTL, then the store says it is unknown and the
    # last known facts stay
    facts = product_facts_get(shop=shop.shop, product_ids=[str(MUG)])[str(MUG)]
    assert facts.found is False
    assert facts.product_type == "Merch"
    assert facts.collection_names() == (str(SALE["id"]), "sale", "Sale")


def test_one_shops_cache_is_never_used_for_another(shop, other_shop, simulator):
    # given the same product id cached for the first shop
    simulator.install(shop.shop)
    simulator.install(other_shop.shop)
    simulator.products(other_shop.shop, [product(COFFEE, product_type="Tea")])
    product_facts_get(shop=shop.shop, product_ids=[str(COFFEE)])

    # when the second shop needs that id
    facts = product_facts_get(shop=other_shop.shop, product_ids=[str(COFFEE)])

    # then it asked its own store and got its own facts; each shop has its own row
    assert facts[str(COFFEE)].product_type == "Tea"
    assert simulator.calls(other_shop.shop) == 1
    assert sorted(ProductFacts.objects.values_list("shop_id", "product_type")) == sorted(
        [(shop.shop.pk, "Coffee"), (other_shop.shop.pk, "Tea")]
    )
