"""Setting up the dev-store simulator: its shops, their products, the failures it serves.

The simulator plays Shopify; these functions are what a developer (or a test, or a bench)
does to the simulated platform: install the app on a shop, put products in the catalogue,
make the Admin API fail for a while.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from loyalty_app.common.crypto import api_token_digest
from loyalty_app.shops.models import Shop

from .models import DevStore, DevStoreProduct


def devstore_get(*, domain: str) -> DevStore | None:
    return DevStore.objects.filter(domain=domain.strip().lower()).first()


@transaction.atomic
def devstore_install(*, shop: Shop, token: str | None = None) -> str:
    """Install the app on a simulated shop: the store issues an access token and the app
    keeps it (encrypted) on its shop row, as OAuth will once it exists. Returns the token;
    installing again issues a new one and the old one stops working."""
    token = token or "shpat_" + secrets.token_hex(16)
    store, _ = DevStore.objects.get_or_create(domain=shop.domain)
    store.access_token_digest = api_token_digest(token)
    store.save(update_fields=["access_token_digest"])
    shop.access_token = token
    shop.save(update_fields=["access_token_encrypted"])
    return token


def _collections(raw: Any) -> list[dict[str, Any]]:
    collections = []
    for item in raw or ():
        collection_id = int(item["id"])
        collections.append(
            {
                "id": collection_id,
                "handle": str(item.get("handle") or f"collection-{collection_id}"),
                "title": str(item.get("title") or ""),
            }
        )
    return collections


@transaction.atomic
def devstore_products_put(*, domain: str, products: Iterable[Mapping[str, Any]]) -> int:
    """Create or replace products of a simulated shop (the shop is created if needed).

    Each product: ``id`` (int), ``title``, ``product_type``, ``vendor``, ``tags`` (list),
    ``collections`` (list of ``{"id", "handle", "title"}``). Returns how many were put.
    """
    store, _ = DevStore.objects.get_or_create(domain=domain.strip().lower())
    rows = [
        DevStoreProduct(
            store=store,
            product_id=int(product["id"]),
            title=str(product.get("title") or ""),
            product_type=str(product.get("product_type") or ""),
            vendor=str(product.get("vendor") or ""),
            tags=[str(tag) for tag in product.get("tags") or ()],
            collections=_collections(product.get("collections")),
        )
        for product in products
    ]
    DevStoreProduct.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["store", "product_id"],
        update_fields=["title", "product_type", "vendor", "tags", "collections", "updated_at"],
    )
    return len(rows)


def devstore_fail(
    *, domain: str, mode: str, count: int, slow_ms: int = 0
) -> None:  # fmt: skip
    """Make the next ``count`` Admin API calls of a shop fail as ``mode`` says
    (``DevStore.FailMode``); ``count`` 0 or mode "" ends it."""
    if mode not in DevStore.FailMode.values:
        raise ValueError(f"unknown failure mode {mode!r}; one of {DevStore.FailMode.values}")
    store, _ = DevStore.objects.get_or_create(domain=domain.strip().lower())
    DevStore.objects.filter(pk=store.pk).update(
        fail_mode=mode, fail_remaining=max(0, count) if mode else 0, slow_ms=max(0, slow_ms)
    )


def devstore_throttle(
    *, domain: str, enforced: bool, bucket_size: int = 2000, restore_rate: int = 100
) -> None:
    """Switch the simulated rate limit on or off (a bench may want to measure without it)."""
    store, _ = DevStore.objects.get_or_create(domain=domain.strip().lower())
    DevStore.objects.filter(pk=store.pk).update(
        throttle_enforced=enforced,
        bucket_size=bucket_size,
        restore_rate=restore_rate,
        bucket_available=bucket_size,
        bucket_at=None,
    )
