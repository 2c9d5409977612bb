"""`manage.py devstore`: set up the dev-store simulator (Shopify's side) for a demo or a bench.

    devstore install  --shop D                     install the app: a new access token, kept by the app
    devstore products --shop D --file F.json       put products (a JSON list) in the simulated shop
    devstore products --shop D --catalog N [--seed S]   ... or a seeded catalogue of N products
    devstore fail     --shop D --mode http_503 --count 5 [--slow-ms 3000]   make the next calls fail
    devstore throttle --shop D --off | --on [--bucket 2000 --rate 100]
    devstore warm     --shop D                     read every simulated product into the app's cache
    devstore orders   --shop D --count 100 [--customers 20] [--seed S] [--refunds 0.1]
                      [--url http://127.0.0.1:8000/shopify/webhooks]
                                                   send the shop's order webhooks, signed, over HTTP

Each prints one JSON object. The access token is never printed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty_app.common.time import now
from loyalty_app.shops.models import Shop
from shopify_bridge.admin_api import AdminApiThrottled
from shopify_bridge.devstore.catalog import catalog
from shopify_bridge.devstore.client import WebhookSender
from shopify_bridge.devstore.models import DevStore, DevStoreProduct
from shopify_bridge.devstore.payloads import (
    StreamProduct,
    builtin_products,
    order_stream,
    product_price,
)
from shopify_bridge.devstore.services import (
    devstore_fail,
    devstore_install,
    devstore_products_put,
    devstore_throttle,
)
from shopify_bridge.product_facts import IDS_PER_CALL, product_facts_refresh


def _answer_status(response: requests.Response) -> str:
    """The receiver's ``status`` ("accepted", "duplicate"), or "" for another answer."""
    try:
        answer = response.json()
    except ValueError:
        return ""
    return str(answer.get("status", "")) if isinstance(answer, dict) else ""


class Command(BaseCommand):
    help = "Set up the dev-store simulator: install, products, failures, throttling, cache warm-up."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name in ("install", "products", "fail", "throttle", "warm", "orders"):
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
            elif name == "orders":
                action.add_argument("--count", type=int, default=100, help="orders to send")
                action.add_argument("--customers", type=int, default=20, help="distinct shoppers")
                action.add_argument("--seed", type=int, default=1)
                action.add_argument(
                    "--url",
                    default="http://127.0.0.1:8000/shopify/webhooks",
                    help="the app's webhook receiver",
                )
                action.add_argument(
                    "--refunds", type=float, default=0.1, help="share of orders partly refunded"
                )

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
        elif options["action"] == "orders":
            result.update(self._orders(domain, options))
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

    def _orders(self, domain: str, options: dict[str, Any]) -> dict[str, Any]:
        """Send a seeded stream of the shop's webhooks (``payloads.order_stream``) to the
        receiver, one by one, signed with the app's secret, as the platform would.

        The same seed sends the same webhook ids, so a second run is only redeliveries:
        the receiver answers "duplicate" and nothing is awarded twice. A delivery the
        receiver does not answer with 2xx (or cannot be reached for) counts as failed;
        the run goes on.
        """
        count, customers, seed = options["count"], options["customers"], options["seed"]
        if not 1 <= count <= 1_000_000:
            raise CommandError("--count must be between 1 and 1,000,000")
        if not 1 <= customers <= 1_000_000:
            raise CommandError("--customers must be between 1 and 1,000,000")
        if not 0 <= seed <= 1_000_000:
            raise CommandError("--seed must be between 0 and 1,000,000")
        if not 0 <= options["refunds"] <= 1:
            raise CommandError("--refunds is a share of the orders, between 0 and 1")
        stored = DevStoreProduct.objects.filter(store__domain=domain).order_by("product_id")
        products = [
            StreamProduct(
                product_id=p.product_id,
                title=p.title or f"Product {p.product_id}",
                sku=f"SKU-{p.product_id}",
                product_type=p.product_type,
                vendor=p.vendor or "Demo Roasters",
                price=product_price(p.product_id),
            )
            for p in stored[:500]
        ] or builtin_products()
        stream = order_stream(
            seed=seed,
            count=count,
            customers=customers,
            refund_rate=options["refunds"],
            products=products,
            when=now().replace(microsecond=0),
        )
        sender = WebhookSender(
            base_url="",
            endpoint=options["url"],
            secret=settings.SHOPIFY_API_SECRET,
            shop_domain=domain,
        )
        sent = accepted = duplicates = failed = 0
        for delivery in stream.deliveries:
            sent += 1
            try:
                response = sender.send(
                    delivery.topic,
                    delivery.payload,
                    webhook_id=delivery.webhook_id,
                    event_id=delivery.webhook_id,
                )
            except requests.RequestException:
                failed += 1
                continue
            if not response.ok:
                failed += 1
            elif _answer_status(response) == "duplicate":
                duplicates += 1
            else:
                accepted += 1
        return {
            "seed": seed,
            "sent": sent,
            "accepted": accepted,
            "duplicates": duplicates,
            "failed": failed,
            "customers": stream.customers,
            "orders": stream.orders,
            "refunds": stream.refunds,
        }

    def _shop(self, domain: str) -> Shop:
        shop = Shop.objects.filter(domain=domain).first()
        if shop is None:
            raise CommandError(f"no shop {domain}; create it with `manage.py shop create`")
        return shop
