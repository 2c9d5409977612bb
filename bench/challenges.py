"""Challenges benchmark: what challenges add to the order path, to the widget, and how
long an activation's catch-up takes, on PostgreSQL.

    DEBUG=true .venv/bin/python bench/challenges.py
    DEBUG=true .venv/bin/python bench/challenges.py --members 20000 --orders 3
    DEBUG=true .venv/bin/python bench/challenges.py --members 100000 --in-window 0.1

It creates one active challenge of each block (product facts stored with the orders),
seeds ``--members`` members with ``--orders`` counted orders each in bulk, then times:
one order's ``order_sync`` with no challenge and with the five (the hook's cost), a
member's full ``member_challenges_evaluate``, the widget's ``widget_challenges`` (cold and
warm), and the catch-up of a newly activated challenge over every member (batched), then
the per-member path (``member_challenges_evaluate``, one transaction per member) over the
first ``--compare`` members with orders on a twin challenge, checked row for row against
the batched catch-up. The last line is one JSON object with every figure.

``--in-window``: the share of members whose orders fall in the challenges' dates (1: all;
0.1: one in ten); the others' orders were placed months before the dates, so the catch-up
never reads them and they get no progress row.

It uses its own database (``--db-name``, default ``loyalty_bench_challenges``) on the
server of ``$DATABASE_URL``, dropped and created again at start.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.stack import bench_database_setup  # noqa: E402


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--orders", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--in-window", type=float, default=1.0)
    parser.add_argument("--compare", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=0, help="0: the service's default")
    parser.add_argument(
        "--target",
        type=int,
        default=2,
        help="orders the timed catch-up's challenge asks (2: every member in the dates "
        "completes it, each a ledger entry; more than --orders: nobody does)",
    )
    parser.add_argument("--db-name", default="loyalty_bench_challenges")
    args = parser.parse_args()
    bench_database_setup(args.db_name)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from loyalty_app.challenges.models import ChallengeProgress
    from loyalty_app.challenges.selectors import widget_challenges, widget_challenges_forget
    from loyalty_app.challenges.services import (
        challenge_activate,
        challenge_backfill_run,
        challenge_create,
        member_challenges_evaluate,
    )
    from loyalty_app.common.time import now
    from loyalty_app.earning.domain import CustomerRef, Purchase, PurchaseLine
    from loyalty_app.earning.models import Order
    from loyalty_app.earning.services import order_sync, program_update
    from loyalty_app.members.models import Member
    from loyalty_app.shops.services import shop_create

    shop = shop_create(domain="bench-challenges.myshopify.com").shop
    program_update(shop=shop, data={"actions": [{"key": "newsletter", "points": 5}]}, actor="b")
    today = now().date()
    dates = {
        "starts_on": (today - timedelta(days=90)).isoformat(),
        "ends_on": (today + timedelta(days=30)).isoformat(),
    }
    blocks: list[dict[str, Any]] = [
        {"block": "orders_count", "orders": 5},
        {"block": "amount_spent", "amount": "500"},
        {"block": "distinct_categories", "dimension": "product_type", "count": 3},
        {"block": "monthly_streak", "months": 3},
        {"block": "actions", "actions": ["newsletter"]},
    ]

    def purchase(n: int, customer: str) -> Purchase:
        return Purchase(
            external_id=f"b{n}",
            currency="USD",
            customer=CustomerRef(external_id=customer, email=f"{customer}@example.com"),
            placed_at=now() - timedelta(days=n % 80),
            updated_at=now(),
            paid=True,
            lines=(
                PurchaseLine(line_id=f"{n}-1", amount=Decimal("20.00"), product_type="Coffee"),
                PurchaseLine(line_id=f"{n}-2", amount=Decimal("9.50"), product_type="Merch"),
            ),
        )

    def time_orders(start: int) -> list[float]:
        times = []
        for i in range(args.runs):
            began = time.perf_counter()
            order_sync(shop=shop, purchase=purchase(start + i, "hot"), actor="bench")
            times.append(time.perf_counter() - began)
        return times

    # The order path without challenges, then with one of each block.
    without = time_orders(1_000_000)
    for spec in blocks:
        challenge = challenge_create(
            shop=shop, data={"name": spec["block"], "reward_points": 10, **spec, **dates}, actor="b"
        )
        challenge_activate(shop=shop, challenge_id=challenge.pk, actor="b")
    with_five = time_orders(2_000_000)

    # Seed members and orders in bulk.
    began = time.perf_counter()
    members = Member.objects.bulk_create(
        [
            Member(shop=shop, external_id=f"m{i}", email=f"m{i}@example.com")
            for i in range(args.members)
        ],
        batch_size=2000,
    )
    lines = [
        {"id": "1", "amount": "20.00", "quantity": 1, "gift_card": False, "product_type": "Coffee"},
        {"id": "2", "amount": "9.50", "quantity": 1, "gift_card": False, "product_type": "Tea"},
    ]
    moment = now()
    share = min(max(args.in_window, 0.0), 1.0)
    # Spread evenly: member i is in the dates when i * share crosses a whole number.
    within = {m.pk for i, m in enumerate(members) if int((i + 1) * share) != int(i * share)}
    Order.objects.bulk_create(
        [
            Order(
                shop=shop,
                external_id=f"s{m.pk}-{k}",
                member=m,
                has_snapshot=True,
                paid=True,
                placed_at=moment - timedelta(days=(1 if m.pk in within else 200) + 25 * k),
                eligible_amount=Decimal("29.50"),
                lines=lines,
                points_target=29,
                points_awarded=29,
            )
            for m in members
            for k in range(args.orders)
        ],
        batch_size=5000,
    )
    seeded = time.perf_counter() - began
    # Statistics as a live database has them (autovacuum would gather them in time): without
    # them the planner may read a member's orders through the shop's date index.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    hot = Member.objects.get(shop=shop, external_id="hot")
    evaluate = []
    for _ in range(args.runs):
        began = time.perf_counter()
        member_challenges_evaluate(shop=shop, member=hot, actor="bench")
        evaluate.append(time.perf_counter() - began)

    widget_challenges_forget()
    began = time.perf_counter()
    widget_challenges(shop=shop, member=hot, at=now())
    cold = time.perf_counter() - began
    warm = []
    for _ in range(args.runs):
        began = time.perf_counter()
        widget_challenges(shop=shop, member=hot, at=now())
        warm.append(time.perf_counter() - began)

    late = challenge_create(
        shop=shop,
        data={"name": "late", "block": "orders_count", "orders": 2, "reward_points": 10, **dates},
        actor="b",
    )
    challenge_activate(shop=shop, challenge_id=late.pk, actor="b")  # eager: runs the catch-up
    began = time.perf_counter()
    done_again = challenge_backfill_run(challenge_id=late.pk)
    rerun = time.perf_counter() - began
    late.refresh_from_db()

    completed = ChallengeProgress.objects.filter(challenge=late, completed=True).count()
    # Time the catch-up itself on a second, identical challenge.
    from loyalty_app.challenges.models import Challenge
    from loyalty_app.challenges.services import BACKFILL_BATCH_SIZE

    def twin(name: str) -> Challenge:
        made = challenge_create(
            shop=shop,
            data={
                "name": name,
                "block": "orders_count",
                "orders": args.target,
                "reward_points": 10,
                **dates,
            },
            actor="b",
        )
        # Active without the on-commit catch-up: the bench runs it itself.
        Challenge.objects.filter(pk=made.pk).update(status="active", activated_at=now())
        return made

    second = twin("late2")
    batch_size = args.batch_size or BACKFILL_BATCH_SIZE
    began = time.perf_counter()
    evaluated = challenge_backfill_run(challenge_id=second.pk, batch_size=batch_size)
    catch_up = time.perf_counter() - began
    rows_written = ChallengeProgress.objects.filter(challenge=second).count()

    # The per-member path (as the catch-up ran before batching) over the first members with
    # orders, on a third twin; its rows must equal the batched ones.
    third = twin("late3")
    third = Challenge.objects.select_related("shop", "badge", "reward").get(pk=third.pk)
    sample = list(Member.objects.filter(pk__in=within).order_by("pk")[: args.compare])
    began = time.perf_counter()
    for m in sample:
        member_challenges_evaluate(shop=shop, member=m, challenges=[third], actor="bench")
    per_member = time.perf_counter() - began

    def rows_of(challenge: Challenge) -> dict[int, tuple[Any, ...]]:
        return {
            member_id: rest
            for member_id, *rest in ChallengeProgress.objects.filter(
                challenge=challenge, member__in=sample
            ).values_list("member_id", "value", "confirmed_value", "completed", "completions")
        }

    same = rows_of(second) == rows_of(third)

    figures = {
        "members": args.members,
        "orders_per_member": args.orders,
        "seed_s": round(seeded, 1),
        "order_sync_no_challenge_ms_median": _ms(statistics.median(without)),
        "order_sync_five_challenges_ms_median": _ms(statistics.median(with_five)),
        "member_evaluate_five_challenges_ms_median": _ms(statistics.median(evaluate)),
        "hot_member_orders": 2 * args.runs,
        "widget_challenges_cold_ms": _ms(cold),
        "widget_challenges_warm_ms_median": _ms(statistics.median(warm)),
        "in_window": share,
        "batch_size": batch_size,
        "target_orders": args.target,
        "catch_up_completing": ChallengeProgress.objects.filter(
            challenge=second, completed=True
        ).count(),
        "catch_up_members": evaluated,
        "catch_up_rows_written": rows_written,
        "catch_up_s": round(catch_up, 2),
        "catch_up_members_per_s": round(evaluated / catch_up) if catch_up else None,
        "catch_up_shop_members_per_s": round((args.members + 1) / catch_up) if catch_up else None,
        "per_member_path_members": len(sample),
        "per_member_path_members_per_s": round(len(sample) / per_member) if per_member else None,
        "per_member_equals_batched": same,
        "catch_up_completed": completed,
        "catch_up_rerun_members": done_again,
        "catch_up_rerun_ms": _ms(rerun),
    }
    for name, value in figures.items():
        print(f"{name:45} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
