"""Product facts for the earning rules: type, tags and collections, which order webhooks do
not carry, read from the shop's Admin API and cached per shop (``ProductFacts``).

The award path (``purchase_with_product_facts``) runs before the engine's transaction:

1. Only for a shop whose rules match on product type, tag or collection
   (``shop_uses_product_facts``, a flag on the shop row), for an order that can still earn
   (not a test, cancelled or fully refunded one), and for lines with a product id that are
   not gift cards.
2. Facts already stored with the order win (see "Which facts an order keeps").
3. The rest come from the cache, read in one query. Rows older than
   ``PRODUCT_FACTS_TTL_SECONDS``, or marked stale by a products/update, or missing, are read
   from the Admin API in one call per ``IDS_PER_CALL`` products and written back.
4. If the Admin API cannot answer (``AdminApiTransientError``), the error propagates: the
   event is recorded as failed-to-retry and tried again later, so an order is never awarded
   on facts that were not known.

Which facts an order keeps
==========================
An order's product facts are fixed when the app first records the order, like the program
version and the campaigns of its placement: a later snapshot of the same order
(orders/updated, orders/paid, a fulfilment) reuses the facts stored for each of its lines,
even if the product has changed since. Shopify does the same with a line's title, SKU and
vendor, which are copies taken at checkout. Only a line the stored order does not have (an
order edit) is looked up afresh. A products/update changes the cache, hence orders first
recorded after it, never an order already recorded.

Collections are given to the rules under every name a merchant may use for one: its
numeric id, its handle and its title.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import Q

from loyalty_app.common.time import now
from loyalty_app.earning.domain import Purchase, PurchaseLine
from loyalty_app.earning.models import Order
from loyalty_app.earning.selectors import shop_uses_product_facts
from loyalty_app.shops.models import Shop

from .admin_api import AdminApiTransientError, admin_graphql
from .models import ProductFacts
from .translate import ProductChange

logger = logging.getLogger(__name__)

# Shopify refuses a query whose requested cost is over 1000. Per product this query costs
# 1 (the product) + 2 + COLLECTIONS_PAGE (the collections connection) + 1 (pageInfo), so a
# call asks for at most 1000 // 29 = 34 products (and never more than the 250 ids Shopify
# accepts in one argument). A product in more collections than one page gets the rest in
# follow-up calls of 250 (cost 254 each).
MAX_QUERY_COST = 1000
COLLECTIONS_PAGE = 25
IDS_PER_CALL = min(250, MAX_QUERY_COST // (4 + COLLECTIONS_PAGE))
MORE_COLLECTIONS_PAGE = 250

PRODUCT_FACTS_QUERY = f"""
query ProductFacts($ids: [ID!]!) {{
  nodes(ids: $ids) {{
    ... on Product {{
      id
      productType
      tags
      updatedAt
      collections(first: {COLLECTIONS_PAGE}) {{
        nodes {{ id handle title }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}
  }}
}}
"""

PRODUCT_COLLECTIONS_QUERY = f"""
query ProductCollections($id: ID!, $after: String) {{
  node(id: $id) {{
    ... on Product {{
      collections(first: {MORE_COLLECTIONS_PAGE}, after: $after) {{
        nodes {{ id handle title }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}
  }}
}}
"""


@dataclass(frozen=True)
class Facts:
    """One product's facts as the rules need them. ``collections``: ``{"id", "handle",
    "title"}`` objects; ``found`` is false for a product the Admin API does not know."""

    product_type: str = ""
    tags: tuple[str, ...] = ()
    collections: tuple[Mapping[str, str], ...] = ()
    found: bool = True
    updated_at: datetime | None = None

    def collection_names(self) -> tuple[str, ...]:
        """Every identifier of every collection (id, handle, title), first seen first."""
        names: dict[str, None] = {}
        for collection in self.collections:
            for key in ("id", "handle", "title"):
                value = str(collection.get(key) or "").strip()
                if value:
                    names.setdefault(value, None)
        return tuple(names)


NOT_FOUND = Facts(found=False)


def _gid(product_id: str) -> str:
    return f"gid://shopify/Product/{product_id}"


def _numeric_id(gid: Any) -> str:
    return str(gid).rsplit("/", 1)[-1] if gid else ""


def _looks_like_id(product_id: str) -> bool:
    # Anything else cannot be a Shopify product id; asking for it would only fail the call.
    return product_id.isdigit() and len(product_id) <= 20 and product_id != "0"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _collections_of(connection: Any) -> tuple[list[dict[str, str]], str | None]:
    """A collections connection -> (collections, cursor of the next page or None)."""
    if not isinstance(connection, dict):
        return [], None
    collections = [
        {
            "id": _numeric_id(node.get("id")),
            "handle": str(node.get("handle") or ""),
            "title": str(node.get("title") or ""),
        }
        for node in connection.get("nodes") or ()
        if isinstance(node, dict)
    ]
    page = connection.get("pageInfo") or {}
    more = page.get("endCursor") if isinstance(page, dict) and page.get("hasNextPage") else None
    return collections, more


def _more_collections(shop: Shop, product_id: str, after: str) -> list[dict[str, str]]:
    collections: list[dict[str, str]] = []
    cursor: str | None = after
    while cursor:
        result = admin_graphql(
            shop=shop,
            query=PRODUCT_COLLECTIONS_QUERY,
            variables={"id": _gid(product_id), "after": cursor},
        )
        node = result.data.get("node")
        page, cursor = _collections_of(node.get("collections") if isinstance(node, dict) else None)
        collections.extend(page)
    return collections


def product_facts_fetch(*, shop: Shop, product_ids: Iterable[str]) -> dict[str, Facts]:
    """Read products' facts from the shop's Admin API: one call per ``IDS_PER_CALL``
    products (plus one per further page of a product's collections). Every id asked for is
    in the answer; an unknown product is ``NOT_FOUND``. Slow I/O: outside any transaction.
    Raises ``AdminApiError`` (``AdminApiTransientError`` when trying later may work)."""
    wanted = sorted({pid for pid in product_ids if _looks_like_id(pid)})
    facts: dict[str, Facts] = {}
    for start in range(0, len(wanted), IDS_PER_CALL):
        chunk = wanted[start : start + IDS_PER_CALL]
        result = admin_graphql(
            shop=shop, query=PRODUCT_FACTS_QUERY, variables={"ids": [_gid(p) for p in chunk]}
        )
        nodes = result.data.get("nodes")
        if not isinstance(nodes, list) or len(nodes) != len(chunk):
            raise AdminApiTransientError(
                f"Admin API of {shop.domain} answered {type(nodes).__name__} for {len(chunk)} ids"
            )
        for product_id, node in zip(chunk, nodes, strict=True):
            if not isinstance(node, dict) or _numeric_id(node.get("id")) != product_id:
                facts[product_id] = NOT_FOUND
                continue
            collections, more = _collections_of(node.get("collections"))
            if more:
                collections.extend(_more_collections(shop, product_id, more))
            tags = node.get("tags")
            facts[product_id] = Facts(
                product_type=str(node.get("productType") or "")[:255],
                tags=tuple(str(t)[:255] for t in tags) if isinstance(tags, list) else (),
                collections=tuple(collections),
                updated_at=_time(node.get("updatedAt")),
            )
    return facts


def _facts_of(row: ProductFacts) -> Facts:
    return Facts(
        product_type=row.product_type,
        tags=tuple(row.tags),
        collections=tuple(row.collections),
        found=row.found,
        updated_at=row.source_updated_at,
    )


def _fresh(row: ProductFacts, moment: datetime) -> bool:
    ttl = timedelta(seconds=settings.PRODUCT_FACTS_TTL_SECONDS)
    return row.fetched_at is not None and row.fetched_at > moment - ttl


def _cache_write(shop: Shop, facts: Mapping[str, Facts], moment: datetime) -> None:
    ProductFacts.objects.bulk_create(
        [
            ProductFacts(
                shop=shop,
                product_id=product_id,
                product_type=value.product_type,
                tags=list(value.tags),
                collections=[dict(c) for c in value.collections],
                found=value.found,
                source_updated_at=value.updated_at,
                fetched_at=moment,
            )
            for product_id, value in facts.items()
        ],
        update_conflicts=True,
        unique_fields=["shop", "product_id"],
        update_fields=[
            "product_type",
            "tags",
            "collections",
            "found",
            "source_updated_at",
            "fetched_at",
            "updated_at",
        ],
    )


def product_facts_get(*, shop: Shop, product_ids: Iterable[str]) -> dict[str, Facts]:
    """Facts of the shop's products: the cache where fresh (one query), the Admin API for
    the rest (written back to the cache). Ids that cannot be product ids are left out.
    Raises ``AdminApiError`` when the Admin API is needed and fails."""
    wanted = {pid for pid in product_ids if _looks_like_id(pid)}
    if not wanted:
        return {}
    moment = now()
    rows = {
        row.product_id: row for row in ProductFacts.objects.filter(shop=shop, product_id__in=wanted)
    }
    facts = {pid: _facts_of(row) for pid, row in rows.items() if _fresh(row, moment)}
    missing = wanted - facts.keys()
    if missing:
        fetched = product_facts_fetch(shop=shop, product_ids=missing)
        for product_id, value in fetched.items():
            known = rows.get(product_id)
            if not value.found and known is not None:
                # Deleted since: the last known facts stay (they can no longer change).
                fetched[product_id] = dataclasses.replace(_facts_of(known), found=False)
        _cache_write(shop, fetched, now())
        facts.update(fetched)
        logger.info(
            "product facts of %d products read from the Admin API of %s (%d cached)",
            len(fetched),
            shop.domain,
            len(wanted) - len(missing),
            extra={"shop": shop.domain},
        )
    return facts


def product_facts_refresh(*, shop: Shop, product_ids: Iterable[str]) -> int:
    """Read the products' facts from the Admin API now, whatever the cache holds (warming a
    cache, or after a bulk change in the shop). Returns how many were written."""
    fetched = product_facts_fetch(shop=shop, product_ids=product_ids)
    _cache_write(shop, fetched, now())
    return len(fetched)


def product_facts_change(*, shop: Shop, change: ProductChange) -> int:
    """products/update: the product's type and tags as the webhook gives them. Its
    collections may have changed too (smart collections follow tags and type) and the
    webhook does not list them, so the row must be read from the Admin API again before
    its next use (``fetched_at`` cleared). Only a product already cached is touched; an
    older update delivered after a newer read changes nothing. Returns the rows changed."""
    newer = Q(source_updated_at__isnull=True)
    if change.updated_at is not None:
        newer |= Q(source_updated_at__lte=change.updated_at)
    return (
        ProductFacts.objects.filter(shop=shop, product_id=change.product_id)
        .filter(newer)
        .update(
            product_type=change.product_type,
            tags=list(change.tags),
            source_updated_at=change.updated_at,
            fetched_at=None,
            updated_at=now(),
        )
    )


def product_facts_forget(*, shop: Shop, product_id: str) -> int:
    """products/delete: the product is gone. Its last known facts are kept (an order
    placed before the deletion may still be delivered late) and never read again."""
    return ProductFacts.objects.filter(shop=shop, product_id=product_id).update(
        found=False, updated_at=now()
    )


class _Stored(NamedTuple):
    product_id: str
    product_type: str
    tags: tuple[str, ...]
    collections: tuple[str, ...]


def _stored_line_facts(shop: Shop, order_external_id: str) -> dict[str, _Stored]:
    """The product facts the app stored with this order's lines, by line id (none if the
    order is new). Reads the engine's order row: the facts an order keeps are the ones it
    was first recorded with."""
    stored = (
        Order.objects.filter(shop=shop, external_id=order_external_id, has_snapshot=True)
        .values_list("lines", flat=True)
        .first()
    )
    return {
        str(line["id"]): _Stored(
            product_id=str(line.get("product_id") or ""),
            product_type=str(line.get("product_type") or ""),
            tags=tuple(line.get("tags") or ()),
            collections=tuple(line.get("collections") or ()),
        )
        for line in stored or ()
        if isinstance(line, dict) and line.get("id")
    }


def _needs_facts(line: PurchaseLine) -> bool:
    return not line.gift_card and _looks_like_id(line.product_id)


def purchase_with_product_facts(*, shop: Shop, purchase: Purchase) -> Purchase:
    """The purchase with each line's product type, tags and collections filled in, when
    the shop's rules use them (see the module's doc for which facts an order keeps).
    Raises ``AdminApiError`` when facts are needed and the Admin API cannot give them."""
    if not shop_uses_product_facts(shop=shop):
        return purchase
    if purchase.test or purchase.cancelled or purchase.fully_refunded:
        # It earns nothing now and never will (these only ever move one way).
        return purchase
    lines: Sequence[PurchaseLine] = [line for line in purchase.lines if _needs_facts(line)]
    if not lines:
        return purchase
    # A cart (a preview) has no order id and nothing stored.
    stored = _stored_line_facts(shop, purchase.external_id) if purchase.external_id else {}
    kept = {
        line.line_id
        for line in lines
        if line.line_id in stored and stored[line.line_id].product_id == line.product_id
    }
    looked_up = product_facts_get(
        shop=shop, product_ids={line.product_id for line in lines if line.line_id not in kept}
    )
    enriched = []
    for line in purchase.lines:
        if not _needs_facts(line):
            enriched.append(line)
        elif line.line_id in kept:
            known = stored[line.line_id]
            enriched.append(
                dataclasses.replace(
                    line,
                    product_type=known.product_type,
                    tags=known.tags,
                    collections=known.collections,
                )
            )
        else:
            facts = looked_up.get(line.product_id, NOT_FOUND)
            enriched.append(
                dataclasses.replace(
                    line,
                    product_type=facts.product_type,
                    tags=facts.tags,
                    collections=facts.collection_names(),
                )
            )
    return dataclasses.replace(purchase, lines=tuple(enriched))
