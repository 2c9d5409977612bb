"""A seeded catalogue of products with types, vendors, tags and collections, for the
simulator, the benchmarks and the demo. Pure: no Django.

``catalog(size, seed)`` gives the same products for the same arguments, so a bench can
build orders and their expected points in one process and load the same catalogue into the
simulator in another (``manage.py devstore products --file``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .payloads import CENT, LineSpec

PRODUCT_ID_BASE = 7_100_000_000
PRODUCT_TYPES = ("Coffee", "Tea", "Equipment", "Merch", "Supplies", "Chocolate")
VENDORS = ("Demo Roasters", "Acme Brewing", "Clearance Co", "Highland Tea", "Cocoa & Co")
TAGS = (
    "organic",
    "fair-trade",
    "limited",
    "decaf",
    "single-origin",
    "gift",
    "clearance",
    "new",
    "bestseller",
    "vegan",
)
# (id, handle, title): rules may name a collection by any of the three.
COLLECTIONS = (
    (480_001, "sale", "Sale"),
    (480_002, "staff-picks", "Staff picks"),
    (480_003, "brewing-gear", "Brewing gear"),
    (480_004, "gift-ideas", "Gift ideas"),
    (480_005, "summer", "Summer"),
    (480_006, "holiday", "Holiday"),
    (480_007, "subscriptions", "Subscriptions"),
    (480_008, "bundles", "Bundles"),
    (480_009, "new-arrivals", "New arrivals"),
    (480_010, "best-sellers", "Best sellers"),
    (480_011, "single-origin", "Single origin"),
    (480_012, "under-20", "Under 20"),
)
GIFT_CARD_PRODUCT_ID = PRODUCT_ID_BASE - 1


@dataclass(frozen=True)
class CatalogProduct:
    product_id: int
    title: str
    sku: str
    vendor: str
    product_type: str
    tags: tuple[str, ...]
    collections: tuple[tuple[int, str, str], ...]
    price: Decimal

    def as_devstore(self) -> dict[str, Any]:
        """The shape ``devstore_products_put`` takes."""
        return {
            "id": self.product_id,
            "title": self.title,
            "product_type": self.product_type,
            "vendor": self.vendor,
            "tags": list(self.tags),
            "collections": [
                {"id": cid, "handle": handle, "title": title}
                for cid, handle, title in self.collections
            ],
        }

    def collection_names(self) -> tuple[str, ...]:
        """As the app gives them to the rules: id, handle and title of each collection."""
        names: dict[str, None] = {}
        for cid, handle, title in self.collections:
            for name in (str(cid), handle, title):
                names.setdefault(name, None)
        return tuple(names)


def catalog(size: int, seed: int = 1) -> list[CatalogProduct]:
    rng = random.Random(seed)  # noqa: S311 - a seeded catalogue, not a secret
    products = []
    for index in range(size):
        product_type = rng.choice(PRODUCT_TYPES)
        products.append(
            CatalogProduct(
                product_id=PRODUCT_ID_BASE + index,
                title=f"{product_type} #{index}",
                sku=f"{product_type[:3].upper()}-{index:05d}",
                vendor=rng.choice(VENDORS),
                product_type=product_type,
                tags=tuple(rng.sample(TAGS, rng.choice([0, 1, 1, 2, 3]))),
                collections=tuple(rng.sample(COLLECTIONS, rng.choice([0, 1, 1, 2, 3]))),
                price=(Decimal(rng.randint(300, 15000)) / 100).quantize(CENT),
            )
        )
    return products


def catalog_lines(
    rng: random.Random, products: list[CatalogProduct], *, gift_card_chance: float = 0.05
) -> list[LineSpec]:
    """A basket of 1-4 catalogue products, sometimes discounted, sometimes with a gift card."""
    lines = []
    for product in rng.sample(products, rng.randint(1, min(4, len(products)))):
        quantity = rng.choice([1, 1, 1, 2, 3])
        discount = Decimal("0")
        if rng.random() < 0.3:
            discount = (
                product.price * quantity * Decimal(rng.choice([5, 10, 15, 20])) / 100
            ).quantize(CENT)
        lines.append(
            LineSpec(
                price=product.price,
                quantity=quantity,
                discount=discount,
                title=product.title,
                sku=product.sku,
                product_type=product.product_type,
                product_id=product.product_id,
                vendor=product.vendor,
            )
        )
    if rng.random() < gift_card_chance:
        lines.append(
            LineSpec(
                price=Decimal("25.00"),
                gift_card=True,
                title="Gift Card",
                sku="GIFT-25",
                product_id=GIFT_CARD_PRODUCT_ID,
            )
        )
    return lines
