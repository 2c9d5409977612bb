"""What-if benchmark: how long the what-if replay of 12 months takes on PostgreSQL, against a
database seeded by ``bench/analytics.py`` (its shop, orders, ledger and tiers).

    DEBUG=true .venv/bin/python bench/what_if.py --seed --members 100000 --orders 1000000
    DEBUG=true .venv/bin/python bench/what_if.py                      # time it again
    DEBUG=true .venv/bin/python bench/what_if.py --db-name loyalty_bench_analytics --runs 1

``--seed`` drops and creates ``--db-name`` (default ``loyalty_bench_whatif``) and seeds it
with ``bench/analytics.py``'s own helpers (members over three years, orders over the last
13 months with their lines, refunds, cancelled and test orders, the ledger, tiers held and
a program version saved a month ago, so most orders are replayed under the current rules
too). Without it the database is used as it is and only read: nothing is migrated,
written or dropped, so a shared seeded database can be timed.

Each run calls the simulator in-process (``analytics.simulation.what_if``) for the last
``--months`` months with the proposals named by ``--proposal`` (default ``rate``: 2 points
per unit with the points-based tiers of ``bench/analytics.py``; ``rules``: the same plus
line rules on SKU, a multiplier and an exclusion; ``products``: rules on the product id,
the vendor and SKUs, rounded up and capped; the database path matches line rules in SQL
where its facts are plain, see ``analytics.simulation``) and prints
the orders replayed, seconds, orders per second and the process's peak memory
(``bench/analytics.py`` times the HTTP endpoint). ``--check`` replays once more by the
general path alone, at the same instant, and fails unless every figure is the same. The
last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.analytics import (  # noqa: E402
    DOMAIN,
    TIERS,
    configure,
    peak_rss_mb,
    rules_since_a_month_ago,
    seed,
)
from bench.stack import bench_database_setup  # noqa: E402

PROPOSALS: dict[str, dict[str, Any]] = {
    "rate": {"points_per_unit": "2"},
    "rules": {
        "points_per_unit": "2",
        "rounding": "nearest",
        "line_rules": [
            {"field": "sku", "value": "SKU-7", "multiplier": "3"},
            {"field": "sku", "value": "SKU-13", "exclude": True},
        ],
    },
    "products": {
        "points_per_unit": "2",
        "rounding": "up",
        "max_points_per_order": 2000,
        "line_rules": [
            {"field": "product_id", "value": "gid://shopify/Product/6001", "multiplier": "1.5"},
            {"field": "vendor", "value": "DEMO ROASTERS", "multiplier": "1.25"},
            {"field": "sku", "value": "sku-7", "multiplier": "3"},
            {"field": "sku", "value": "SKU-13", "exclude": True},
        ],
    },
}


def seed_database(*, members: int, orders: int, ledger: int) -> Any:
    """The shop of ``bench/analytics.py``, seeded the same way (its helpers, by import)."""
    from django.core.management import call_command

    from loyalty_app.shops.services import shop_create
    from shopify_bridge.devstore.services import devstore_install

    call_command("migrate", verbosity=0)
    created = shop_create(domain=DOMAIN)
    shop = created.shop
    devstore_install(shop=shop)
    started = time.perf_counter()
    configured = configure(shop)
    seed(
        shop_id=shop.pk,
        members=members,
        orders=orders,
        ledger=ledger,
        reward_id=configured["reward_id"],
    )
    rules_since_a_month_ago(shop)
    print(f"seeded in {time.perf_counter() - started:.1f} s")
    return shop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-name", default="loyalty_bench_whatif")
    parser.add_argument("--seed", action="store_true", help="drop, create and seed --db-name")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--ledger", type=int, default=0, help="ledger entries in all (--seed)")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3, help="timed replays per proposal")
    parser.add_argument(
        "--check", action="store_true", help="compare with the general path alone (slow)"
    )
    parser.add_argument(
        "--proposal", choices=sorted(PROPOSALS), action="append", help="default: rate"
    )
    args = parser.parse_args()
    if args.seed and args.db_name == "loyalty_bench_analytics":
        raise SystemExit("refusing to reseed the shared analytics database")

    bench_database_setup(args.db_name, fresh=args.seed)
    from django.conf import settings
    from django.db import connection

    from loyalty_app.analytics.simulation import what_if
    from loyalty_app.common.time import now
    from loyalty_app.earning.models import Order
    from loyalty_app.earning.policies import program_from_dict
    from loyalty_app.shops.models import Shop
    from loyalty_app.tiers.policies import tier_program_from_dict

    settings.DEBUG = False
    shop = (
        seed_database(members=args.members, orders=args.orders, ledger=args.ledger)
        if args.seed
        else Shop.objects.get(domain=DOMAIN)
    )
    orders_stored = Order.objects.filter(shop=shop).count()
    print(f"database {args.db_name}: {orders_stored:,} orders (PostgreSQL {connection.pg_version})")

    tiers = tier_program_from_dict(TIERS)
    result: dict[str, Any] = {
        "bench": "what_if",
        "db": args.db_name,
        "orders_stored": orders_stored,
    }
    for name in args.proposal or ["rate"]:
        program = program_from_dict(PROPOSALS[name])
        seconds: list[float] = []
        replay = None
        moment = now()
        for _ in range(args.runs):
            started = time.perf_counter()
            replay = what_if(shop=shop, program=program, tiers=tiers, months=args.months, at=moment)
            seconds.append(time.perf_counter() - started)
        if replay is None:
            raise SystemExit("--runs must be at least 1")
        best = min(seconds)
        print(
            f"what-if {name!r} ({args.months} months): {replay.orders:,} orders in "
            f"{', '.join(f'{s:.1f}' for s in seconds)} s (median "
            f"{statistics.median(seconds):.1f} s, {replay.orders / best:,.0f} orders/s at "
            f"best); points {replay.current.points_issued:,} now, "
            f"{replay.proposed.points_issued:,} proposed; peak memory {peak_rss_mb():.0f} MB"
        )
        if args.check:
            started = time.perf_counter()
            general = what_if(
                shop=shop, program=program, tiers=tiers, months=args.months, at=moment, fast=False
            )
            general_s = time.perf_counter() - started
            same = general == replay
            print(
                f"  general path alone: {general_s:.1f} s, "
                f"{'the same figures' if same else 'DIFFERENT figures'}"
            )
            if not same:
                print(f"  general: {general}\n  fast: {replay}")
                raise SystemExit(1)
        result[name] = {
            "orders": replay.orders,
            "seconds": [round(s, 2) for s in seconds],
            "median_s": round(statistics.median(seconds), 2),
            "orders_per_s": round(replay.orders / best),
            "current_points": replay.current.points_issued,
            "proposed_points": replay.proposed.points_issued,
            "current_tiers": replay.current.tiers,
            "proposed_tiers": replay.proposed.tiers,
            "peak_rss_mb": round(peak_rss_mb()),
        }
    result["peak_rss_mb"] = round(peak_rss_mb())
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
