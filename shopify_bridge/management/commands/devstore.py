"""`manage.py devstore`: set up the dev-store simulator (Shopify's side) for a demo or a bench.

    devstore install  --shop D                     install the app: a new access token, kept by the app
    devstore products --shop D --file F.json       put products (a JSON list) in the simulated shop
    devstore products --shop D --catalog N [--seed S]   ... or a seeded catalogue of N products
    devstore fail     --shop D --mode http_503 --count 5 [--slow-ms 3000]   make the next calls fail
    devstore throttle --shop D --off | --on [--bucket 2000 --rate 100]
    devstore warm     --shop D                     read every simulated product into the app's cache

Each prints one JSON object. The access token is never printed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty_app.shops.models import Shop
from shopify_bridge.admin_api import AdminApiThrottled
from shopify_bridge.devstore.catalog import catalog
from shopify_bridge.devstore.models import DevStore, DevStoreProduct
from shopify_bridge.devstore.services import (
    devstore_fail,
    devstore_install,
    devstore_products_put,
    devstore_throttle,
)
from shopify_bridge.product_facts import IDS_PER_CALL, product_facts_refresh


class Command(BaseCommand):
    help = "Set up the dev-store simulator: install, products, failures, throttling, cache warm-up."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name in ("install", "products", "fail", "throttle", "warm"):
            action = sub.add_parser(name)
            action.add_argument("--shop", required=True, help="the shop's domain")
            if name == "products":
                action.add_argument("--file", type=Path, help="a JSON list of products")
                action.add_argument("--catalog", type=int, help="a seeded catalogue of N products")
                action.add_argument("--seed", type=int, default=1)
            elif name == "fail":
                action.add_argument(
                    "--mode", required=True, choices=[m for m in DevStore.FailMode.values if m]
                )
                action.add_argument("--count", type=int, default=1)
                action.add_argument("--slow-ms", type=int, default=0)
            elif name == "throttle":
                action.add_argument("--off", action="store_true", help="no rate limit")
                action.add_argument("--bucket", type=int, default=2000)
                action.add_argument("--rate", type=int, default=100)

    def handle(self, *args: Any, **options: Any) -> None:
        domain = options["shop"].strip().lower()
        result: dict[str, Any] = {"shop": domain, "action": options["action"]}
        if options["action"] == "install":
            shop = self._shop(domain)
            devstore_install(shop=shop)
            result["installed"] = True
        elif options["action"] == "products":
            if options["file"]:
                products = json.loads(options["file"].read_text())
            elif options["catalog"]:
                products = [p.as_devstore() for p in catalog(options["catalog"], options["seed"])]
            else:
                raise CommandError("give --file or --catalog")
            result["products"] = devstore_products_put(domain=domain, products=products)
        elif options["action"] == "fail":
            devstore_fail(
                domain=domain,
                mode=options["mode"],
                count=options["count"],
                slow_ms=options["slow_ms"],
            )
            result.update(mode=options["mode"], count=options["count"])
        elif options["action"] == "throttle":
            devstore_throttle(
                domain=domain,
                enforced=not options["off"],
                bucket_size=options["bucket"],
                restore_rate=options["rate"],
            )
            result["enforced"] = not options["off"]
        else:
            shop = self._shop(domain)
            ids = [
                str(pid)
                for pid in DevStoreProduct.objects.filter(store__domain=domain)
                .order_by("product_id")
                .values_list("product_id", flat=True)
            ]
            written = throttled = 0
            for start in range(0, len(ids), IDS_PER_CALL):
                chunk = ids[start : start + IDS_PER_CALL]
                while True:
                    try:
                        written += product_facts_refresh(shop=shop, product_ids=chunk)
                        break
                    except AdminApiThrottled as exc:
                        # A bulk read empties the shop's bucket: wait until it holds enough.
                        throttled += 1
                        if throttled > 1000:
                            raise CommandError("still throttled after 1000 waits") from exc
                        time.sleep(min(10.0, max(0.2, exc.retry_after or 1.0)))
            result.update(cached=written, throttled=throttled)
        self.stdout.write(json.dumps(result))

    def _shop(self, domain: str) -> Shop:
        shop = Shop.objects.filter(domain=domain).first()
        if shop is None:
            raise CommandError(f"no shop {domain}; create it with `manage.py shop create`")
        return shop
