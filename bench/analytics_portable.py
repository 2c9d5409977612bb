"""Analytics on SQLite: how long the portable report (``loyalty_app.analytics.portable``,
the embedded database of ``./dev demo``) takes for a small shop.

    DEBUG=true .venv/bin/python bench/analytics_portable.py
    DEBUG=true .venv/bin/python bench/analytics_portable.py --members 5000 --orders 50000

It migrates a fresh SQLite file (``--db``, default a temporary one), seeds through the ORM
``--members`` members and ``--orders`` paid orders spread over the last 13 months (one in
ten a guest checkout, one in twenty with a partial refund), each member order's ledger
entry, and one redemption per twenty member orders; then times, in-process and with no
cache, ``GET /api/v1/analytics`` (the period and the previous one) for the last 30 and
365 days, ``--runs`` times each, and prints the first and median in milliseconds. The last
line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DOMAIN = "bench-portable.myshopify.com"


def setup(db: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_app.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed(*, shop: Any, members: int, orders: int, now: datetime) -> None:
    from django.db import connection

    from loyalty_app.earning.models import Order
    from loyalty_app.ledger.models import LedgerEntry
    from loyalty_app.members.models import Member
    from loyalty_app.rewards.models import Redemption, Reward

    rng = random.Random(2026)  # noqa: S311 - seeded test data, not secrets
    span = 395 * 86400
    Member.objects.bulk_create(
        Member(shop=shop, external_id=str(100_000 + i), email=f"m{i}@example.com")
        for i in range(members)
    )
    ids = list(Member.objects.filter(shop=shop).values_list("pk", flat=True))
    rows, entries = [], []
    balance: dict[int, int] = {}
    for n in range(orders):
        placed = now - timedelta(seconds=rng.randrange(span))
        member_id = None if n % 10 == 0 else rng.choice(ids)
        amount = Decimal(rng.randrange(1000, 20000)) / 100
        refunded = (amount / 4).quantize(Decimal("0.01")) if n % 20 == 1 else Decimal(0)
        points = int(amount - refunded) if member_id else 0
        rows.append(
            Order(
                shop=shop,
                external_id=str(5_000_000 + n),
                member_id=member_id,
                currency="USD",
                has_snapshot=True,
                placed_at=placed,
                eligible_amount=amount,
                refunded_amount=refunded,
                paid=True,
                points_target=points,
                points_awarded=points,
                confirmed=True,
            )
        )
        if member_id and points:
            balance[member_id] = balance.get(member_id, 0) + points
            entries.append(
                LedgerEntry(
                    shop=shop,
                    member_id=member_id,
                    kind="order",
                    points=points,
                    balance_after=balance[member_id],
                    idempotency_key=f"order:{n}",
                    created_at=placed,
                )
            )
    Order.objects.bulk_create(rows, batch_size=2000)
    reward = Reward.objects.create(
        shop=shop, kind="fixed_amount", title="5 off", points_cost=100, value=Decimal("5")
    )
    redemptions = []
    orders_entries = len(entries)
    for k, entry in enumerate(entries[::20]):
        balance[entry.member_id] -= 100
        entries.append(
            LedgerEntry(
                shop=shop,
                member_id=entry.member_id,
                kind="redemption",
                points=-100,
                balance_after=balance[entry.member_id],
                idempotency_key=f"redemption:{k}",
                created_at=entry.created_at + timedelta(days=1),
            )
        )
        redemptions.append(
            Redemption(
                shop=shop,
                member_id=entry.member_id,
                reward=reward,
                kind="fixed_amount",
                title="5 off",
                points=100,
                value=Decimal("5"),
                currency="USD",
                status="issued",
                idempotency_key=f"bench:{k}",
            )
        )
    # ``created_at`` is set on insert (auto_now_add): the entries are written in SQL with
    # their own times, and the members and redemptions are dated afterwards.
    columns = (
        "shop_id, member_id, kind, points, balance_after, idempotency_key, source_type,"
        " source_id, reason, actor, created_at"
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {LedgerEntry._meta.db_table} ({columns})"  # noqa: S608 - fixed names
            " VALUES (%s, %s, %s, %s, %s, %s, '', '', '', 'bench', %s)",
            [
                (
                    shop.pk,
                    e.member_id,
                    e.kind,
                    e.points,
                    e.balance_after,
                    e.idempotency_key,
                    e.created_at,
                )
                for e in entries
            ],
        )
    Member.objects.filter(shop=shop).update(created_at=now - timedelta(days=400))
    created = Redemption.objects.bulk_create(redemptions, batch_size=2000)
    for redemption, entry in zip(created, entries[orders_entries:], strict=True):
        Redemption.objects.filter(pk=redemption.pk).update(created_at=entry.created_at)
    for member_id, points in balance.items():
        Member.objects.filter(pk=member_id).update(points_balance=points)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    db = args.db or Path(tempfile.mkdtemp(prefix="bench-portable-")) / "bench.sqlite3"
    if db.exists():
        db.unlink()
    setup(db)

    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from loyalty_app.shops.services import shop_create

    if connection.vendor != "sqlite":
        raise SystemExit(f"expected SQLite, got {connection.vendor}")
    created = shop_create(domain=DOMAIN)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with transaction.atomic():  # one commit: SQLite syncs the file at each
        seed(shop=created.shop, members=args.members, orders=args.orders, now=now)
    seeded = time.perf_counter() - started
    print(f"seeded {args.members:,} members, {args.orders:,} orders in {seeded:.1f} s ({db})")
    api = Client(headers={"Authorization": f"Bearer {created.api_token}"})
    today = timezone.localdate()
    figures: dict[str, Any] = {"members": args.members, "orders": args.orders}
    for days in (30, 365):
        query = {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            response = api.get("/api/v1/analytics", query)
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"analytics answered {response.status_code}: {response.content!r}")
        body = response.json()
        figures[f"analytics_{days}d_first_ms"] = round(times[0], 1)
        figures[f"analytics_{days}d_median_ms"] = round(statistics.median(times), 1)
        print(
            f"GET /api/v1/analytics, {days} days: first {times[0]:.0f} ms, median "
            f"{statistics.median(times):.0f} ms ({body['program']['customers']:,} customers, "
            f"{body['points']['issued']:,} points issued)"
        )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
