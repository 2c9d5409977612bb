"""Storefront widget API benchmark: how long the widget's endpoints take to answer for a
member with 1,000 ledger entries, on PostgreSQL.

    DEBUG=true .venv/bin/python bench/widget_api.py
    DEBUG=true .venv/bin/python bench/widget_api.py --entries 5000 --requests 1000

It seeds one shop through the app's own services: a program with actions, three tiers on
amount spent, ten rewards, 40 paid orders and ``--entries`` ledger entries in all for one
member (orders, actions, adjustments), a birthday, and a past redemption with its code.

Then it requests each endpoint ``--requests`` times in-process through Django's test
``Client`` (the full request path: middleware, the app proxy signature check, the rate
limiter, the views; no network), each URL signed as Shopify's app proxy signs it (signed
before the clock starts, as the proxy does its part before the request reaches the app).
It prints per endpoint the SQL queries of one request and p50, p95 and p99; the last line
is one JSON object with every figure. The exit status is 1 if a p99 reaches
``--limit-ms`` (20 ms) or an answer is not 200.

The rate limiter counts in Redis when ``REDIS_URL`` is set (as in production), in this
process's memory otherwise; its limits are raised for the run. The bench uses its own
database (``--db-name``, default ``loyalty_bench_widget``) on the server of
``$DATABASE_URL``, dropped and created again at start.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.stack import bench_database_setup  # noqa: E402

DOMAIN = "bench-widget.myshopify.com"
CUSTOMER = "7001"
ORDERS = 40


def seed(shop: Any, entries: int) -> None:
    from loyalty_app.actions.services import action_record
    from loyalty_app.common.time import now
    from loyalty_app.earning.domain import CustomerRef, Purchase, PurchaseLine
    from loyalty_app.earning.services import order_sync, program_update
    from loyalty_app.ledger.models import LedgerEntry
    from loyalty_app.ledger.services import ledger_entry_add
    from loyalty_app.members.models import Member
    from loyalty_app.members.services import member_birthday_set
    from loyalty_app.merchant_admin.models import WidgetSettings
    from loyalty_app.rewards.services import reward_create
    from loyalty_app.tiers.services import tier_program_update

    program_update(
        shop=shop,
        data={
            "points_per_unit": "1",
            "actions": [
                {"key": "signup", "points": 100},
                {"key": "birthday", "points": 200},
                {"key": "newsletter", "points": 25},
                {"key": "social_follow", "points": 15},
                {"key": "product_review", "points": 50},
            ],
        },
        actor="bench",
    )
    tier_program_update(
        shop=shop,
        data={
            "metric": "amount_spent",
            "tiers": [
                {"name": "Bronze", "threshold": "0"},
                {"name": "Silver", "threshold": "500"},
                {"name": "Gold", "threshold": "100000"},
            ],
        },
        actor="bench",
    )
    for index in range(10):
        reward_create(
            shop=shop,
            data={
                "kind": "fixed_amount",
                "title": f"{5 * (index + 1)}.00 off",
                "points_cost": 500 * (index + 1),
                "value": f"{5 * (index + 1)}.00",
            },
            actor="bench",
        )
    WidgetSettings.objects.create(shop=shop, enabled=True)
    start = now() - timedelta(days=300)
    for index in range(ORDERS):
        placed = start + timedelta(days=index * 7)
        order_sync(
            shop=shop,
            purchase=Purchase(
                external_id=f"bench-{index}",
                currency=shop.currency,
                customer=CustomerRef(external_id=CUSTOMER, email="whale@example.com"),
                name=f"#{1000 + index}",
                updated_at=placed,
                placed_at=placed,
                paid=True,
                lines=(PurchaseLine(line_id=f"l{index}", amount=Decimal("37.50")),),
            ),
            actor="bench",
        )
    member = Member.objects.get(shop=shop, external_id=CUSTOMER)
    member_birthday_set(member=member, month=5, day=17)
    for key, target in (("signup", ""), ("newsletter", ""), ("social_follow", "instagram")):
        action_record(shop=shop, member=member, action=key, event_key=f"bench:{key}", target=target)
    written = LedgerEntry.objects.filter(member=member).count()
    for index in range(max(entries - written, 0)):
        ledger_entry_add(
            member=member,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            points=5 if index % 3 else -2,
            idempotency_key=f"bench-adjust:{index}",
            reason="Goodwill" if index % 3 else "Correction",
            actor="bench",
        )


def redemption_seed(shop: Any) -> None:
    """A past redemption with a code, through the redemption service. Its delivery (the
    Admin API call the outbox makes after commit) finds no installed shop to call here and
    waits for a retry: what is measured is the widget's reads, not delivery."""
    import logging

    logging.getLogger("shopify_bridge.outbox").setLevel(logging.ERROR)
    from loyalty_app.members.models import Member
    from loyalty_app.rewards.models import Reward
    from loyalty_app.rewards.redemption import reward_redeem

    member = Member.objects.get(shop=shop, external_id=CUSTOMER)
    reward = Reward.objects.filter(shop=shop).order_by("pk").first()
    reward_redeem(
        shop=shop,
        member=member,
        reward_id=reward.pk,
        idempotency_key="bench-redemption",
        actor="bench",
    )


def signed(path: str, customer: str, **params: str) -> str:
    from shopify_bridge.devstore.storefront import app_proxy_query

    query = app_proxy_query(shop=DOMAIN, customer_id=customer, extra=list(params.items()))
    return f"/proxy/{path}?{urlencode(query)}"


def measure(client: Any, label: str, url_for: Any, runs: int, warmup: int) -> dict[str, Any]:
    from django.db import connection

    queries: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        first = client.get(url_for())
    if first.status_code != 200:
        raise SystemExit(f"{label}: answered {first.status_code} {first.content[:300]!r}")
    for _ in range(warmup):
        client.get(url_for())
    urls = [url_for() for _ in range(runs)]
    times = []
    statuses = set()
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        statuses.add(response.status_code)
    times.sort()
    quantiles = statistics.quantiles(times, n=100, method="inclusive")
    return {
        "endpoint": label,
        "queries": len(queries),
        "bytes": len(first.content),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(quantiles[94], 2),
        "p99_ms": round(quantiles[98], 2),
        "max_ms": round(times[-1], 2),
        "statuses": sorted(statuses),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1000, help="the member's ledger entries")
    parser.add_argument("--requests", type=int, default=500, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--limit-ms", type=float, default=20.0, help="p99 each endpoint must beat")
    parser.add_argument("--db-name", default="loyalty_bench_widget")
    args = parser.parse_args()

    bench_database_setup(args.db_name, keep_redis=True)
    from django.conf import settings
    from django.core.cache import caches
    from django.core.management import call_command
    from django.test import Client

    from loyalty_app.ledger.models import LedgerEntry
    from loyalty_app.shops.services import shop_create

    call_command("migrate", verbosity=0)
    settings.DEBUG = False  # no query log while timing
    settings.WIDGET_RATE_LIMITS = {"customer": (10**9, 60), "shop": (10**9, 60)}
    caches["ratelimit"].clear()
    shop = shop_create(domain=DOMAIN).shop
    started = time.perf_counter()
    seed(shop, args.entries)
    redemption_seed(shop)
    entries = LedgerEntry.objects.filter(shop=shop).count()
    print(
        f"seeded {entries} ledger entries for customer {CUSTOMER} "
        f"in {time.perf_counter() - started:.1f} s; rate limiter: "
        f"{'Redis' if os.environ.get('REDIS_URL') else 'local memory'}",
        flush=True,
    )

    client = Client()
    product = {"product_id": "9300000000", "price": "24.00"}
    endpoints = [
        ("GET state (member, 1,000 entries)", lambda: signed("state", CUSTOMER)),
        ("GET state (guest)", lambda: signed("state", "")),
        ("GET product-points (member)", lambda: signed("product-points", CUSTOMER, **product)),
    ]
    results = []
    failed = False
    print(f"{'endpoint':40} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for label, url_for in endpoints:
        row = measure(client, label, url_for, args.requests, args.warmup)
        results.append(row)
        over = row["p99_ms"] >= args.limit_ms or row["statuses"] != [200]
        failed = failed or over
        print(
            f"{label:40} {row['queries']:>7} {row['p50_ms']:>8} {row['p95_ms']:>8} "
            f"{row['p99_ms']:>8}{'  OVER' if over else ''}",
            flush=True,
        )
    print(
        json.dumps(
            {
                "ledger_entries": entries,
                "requests": args.requests,
                "limit_ms": args.limit_ms,
                "rate_limiter": "redis" if os.environ.get("REDIS_URL") else "locmem",
                "results": results,
            }
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
