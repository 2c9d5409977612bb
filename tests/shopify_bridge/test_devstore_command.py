"""`manage.py devstore`: what a demo or a bench does to the simulated Shopify."""

from __future__ import annotations

import io
import json

from django.core.management import call_command

from shopify_bridge.devstore.catalog import catalog
from shopify_bridge.devstore.models import DevStore, DevStoreProduct
from shopify_bridge.models import ProductFacts


def run(*args: str) -> dict:
    out = io.StringIO()
    call_command("devstore", *args, stdout=out)
    return json.loads(out.getvalue())


def test_a_catalogue_is_installed_and_read_into_the_cache(shop, simulator):
    # given the app installed on a simulated shop with a seeded catalogue of 50 products
    domain = shop.shop.domain
    installed = run("install", "--shop", domain)
    put = run("products", "--shop", domain, "--catalog", "50", "--seed", "7")

    # when the cache is warmed while the rate-limit bucket is nearly empty
    DevStore.objects.update(bucket_size=1000, bucket_available=100, restore_rate=1000)
    warmed = run("warm", "--shop", domain)

    # then every product's facts are cached, as the catalogue says, and no token was printed
    shop.shop.refresh_from_db()
    assert shop.shop.access_token not in json.dumps(installed)
    assert (put["products"], warmed["cached"]) == (50, 50)
    assert warmed["throttled"] >= 1
    expected = {str(p.product_id): p.product_type for p in catalog(50, 7)}
    assert dict(ProductFacts.objects.values_list("product_id", "product_type")) == expected
    assert DevStoreProduct.objects.count() == 50


def test_failures_and_the_rate_limit_are_set_per_shop(shop):
    domain = shop.shop.domain

    run("fail", "--shop", domain, "--mode", "http_503", "--count", "3")
    run("throttle", "--shop", domain, "--off")

    store = DevStore.objects.get(domain=domain)
    assert (store.fail_mode, store.fail_remaining, store.throttle_enforced) == (
        "http_503",
        3,
        False,
    )
