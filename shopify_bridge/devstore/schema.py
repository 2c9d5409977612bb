"""The part of Shopify's Admin GraphQL schema the simulator serves, over its own tables.

Query root: ``nodes(ids:)`` and ``node(id:)`` for products (``id title productType vendor
tags updatedAt collections(first/after)``) and ``shop { name myshopifyDomain }``. The
mutation root is empty for now; the discount and store-credit mutations go here, each a
resolver taking the arguments and returning the payload object (with ``userErrors``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .graphql import GraphQLError, connection
from .models import DevStore, DevStoreProduct

MAX_INPUT_SIZE = 250  # Shopify refuses larger input arrays
_GID = re.compile(r"^gid://shopify/([A-Za-z]+)/([0-9]{1,19})$")


def _gid_parts(value: Any) -> tuple[str, int]:
    match = _GID.match(value) if isinstance(value, str) else None
    if match is None:
        raise GraphQLError(f"Invalid global id '{value}'", code="argumentLiteralsIncompatible")
    return match.group(1), int(match.group(2))


def _collection(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "Collection",
        "__interfaces": ("Node",),
        "id": f"gid://shopify/Collection/{data['id']}",
        "handle": data["handle"],
        "title": data["title"],
    }


def _product(row: DevStoreProduct) -> dict[str, Any]:
    collections = [_collection(c) for c in row.collections]
    return {
        "__typename": "Product",
        "__interfaces": ("Node",),
        "id": f"gid://shopify/Product/{row.product_id}",
        "title": row.title,
        "productType": row.product_type,
        "vendor": row.vendor,
        "tags": sorted(row.tags, key=str.lower),  # Shopify lists tags alphabetically
        "updatedAt": row.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "collections": lambda args: connection(collections, args),
    }


def _nodes(store: DevStore, ids: Any) -> list[dict[str, Any] | None]:
    if not isinstance(ids, list):
        raise GraphQLError("ids must be a list of IDs", code="argumentLiteralsIncompatible")
    if len(ids) > MAX_INPUT_SIZE:
        raise GraphQLError(
            f"The input array size of {len(ids)} is greater than the maximum allowed of "
            f"{MAX_INPUT_SIZE}.",
            code="MAX_INPUT_SIZE_EXCEEDED",
        )
    parts = [_gid_parts(value) for value in ids]
    wanted = [number for kind, number in parts if kind == "Product"]
    rows = {
        row.product_id: row
        for row in DevStoreProduct.objects.filter(store=store, product_id__in=wanted)
    }
    return [
        _product(rows[number]) if kind == "Product" and number in rows else None
        for kind, number in parts
    ]


def query_root(store: DevStore) -> dict[str, Any]:
    return {
        "__typename": "QueryRoot",
        "nodes": lambda args: _nodes(store, args.get("ids")),
        "node": lambda args: _nodes(store, [args.get("id")])[0],
        "shop": {
            "__typename": "Shop",
            "name": store.domain.split(".")[0],
            "myshopifyDomain": store.domain,
        },
    }


def mutation_root(store: DevStore) -> dict[str, Any]:
    return {"__typename": "Mutation"}
