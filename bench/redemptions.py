"""Redemption benchmark: points spent on rewards, codes created in the simulated shop.

    DEBUG=true .venv/bin/python bench/redemptions.py --redemptions 2000 --members 200
    DEBUG=true .venv/bin/python bench/redemptions.py --smoke

The real stack (``bench/stack.py``): a fresh PostgreSQL database, gunicorn serving the app
and the dev-store simulator, Redis, and real Celery workers (not eager mode). This process
calls ``reward_redeem`` (the service the API and the widget call) from ``--threads``
threads, each with its own database connection and its own idempotency keys, for
``--members`` members who can each afford their share. Each redemption commits its debit
with the outbox row; the workers then create the code in the simulator over HTTP through
the ShopifyAPI client and mark the redemption issued.

It prints:

- the debit path alone: redemptions per second through ``reward_redeem`` (locks, rules,
  ledger debit, stock, redemption row, outbox row, commit, broker publish);
- end to end: redemptions per second until every code exists in the simulator and every
  redemption is issued, and the lag from redemption to issued (percentiles);
- where the time goes, from timers around each part: inside the debit transaction
  (``ledger_entry_add``, the outbox enqueue, the rest: locks, rules, inserts), the commit,
  the broker publish after commit, and the Admin API call alone (``admin_graphql`` of a
  ``discountCodeBasicCreate`` against the simulator, sampled from this process);
- checks: every redemption issued, one code per redemption in the simulator, every
  member's cached balance equal to their ledger sum and to what they were given minus
  what they spent.

The last line is one JSON object with every figure; the exit status is 1 if a check
failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.stack import Stack, StackConfig  # noqa: E402

POINTS_COST = 500


class Timers:
    """Seconds spent per named part, summed over threads."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            with self._lock:
                self.total[name] += elapsed
                self.count[name] += 1

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.part(name):
                return function(*args, **kwargs)

        return timed

    def per_call_ms(self, name: str) -> float:
        return round(1000 * self.total[name] / self.count[name], 3) if self.count[name] else 0.0


def percentiles(values: list[float], points: tuple[int, ...] = (50, 90, 99)) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        f"p{p}": round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 3)
        for p in points
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redemptions", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8, help="concurrent redeemers")
    parser.add_argument("--celery-workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4, help="processes per worker")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--api-samples", type=int, default=200, help="direct Admin API calls")
    parser.add_argument("--db-name", default="loyalty_bench_redemptions")
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=900, help="end-to-end wait (s)")
    parser.add_argument("--smoke", action="store_true", help="200 redemptions, 20 members")
    args = parser.parse_args(argv)
    if args.smoke:
        args.redemptions, args.members, args.api_samples = 200, 20, 50
    return args


def _django(stack: Stack) -> None:
    """This process speaks to the stack's database and broker, as a web process would."""
    os.environ.update(stack.env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "loyalty_app.settings"
    import django

    django.setup()


def _setup(stack: Stack, args: argparse.Namespace) -> tuple[Any, int, list[Any]]:
    from loyalty_app.ledger.models import LedgerEntry
    from loyalty_app.ledger.services import ledger_entry_add
    from loyalty_app.members.models import Member
    from loyalty_app.rewards.services import reward_create
    from loyalty_app.shops.models import Shop
    from shopify_bridge.devstore.services import devstore_install, devstore_throttle

    shop = Shop.objects.get(pk=stack.shop_id)
    devstore_install(shop=shop)
    # The simulator's leaky bucket would pace the workers at Shopify's rate (100 points/s
    # standard: 10 mutations/s); the bench measures the app, so it is off.
    devstore_throttle(domain=shop.domain, enforced=False)
    reward = reward_create(
        shop=shop,
        data={
            "kind": "fixed_amount",
            "title": "5.00 off",
            "points_cost": POINTS_COST,
            "value": "5.00",
            "code_valid_days": 30,
        },
        actor="bench",
    )
    share = -(-args.redemptions // args.members)  # each member can afford their share
    members = []
    for i in range(args.members):
        member = Member.objects.create(
            shop=shop, external_id=str(900_000 + i), email=f"bench{i}@example.com"
        )
        ledger_entry_add(
            member=member,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            points=share * POINTS_COST,
            idempotency_key=f"bench-seed:{i}",
            reason="bench balance",
        )
        members.append(member)
    return shop, reward.pk, members


def _instrument(timers: Timers) -> None:
    """Timers around the parts of a redemption, without changing what they do."""
    from django.db import transaction

    from loyalty_app.rewards import redemption
    from shopify_bridge.outbox import services as outbox_services

    redemption.ledger_entry_add = timers.wrap("ledger debit", redemption.ledger_entry_add)
    real_port = redemption.platform_port

    class TimedPort:
        def __init__(self, port: Any) -> None:
            self._port = port

        def redemption_deliver(self, **kwargs: Any) -> Any:
            with timers.part("outbox enqueue"):
                return self._port.redemption_deliver(**kwargs)

    redemption.platform_port = lambda: TimedPort(real_port())
    outbox_services._enqueue = timers.wrap("broker publish", outbox_services._enqueue)

    # The commit itself: the outer atomic block's exit, timed in reward_redeem's own
    # module (savepoints inside it are not commits).
    real_atomic = transaction.atomic

    class TimedAtomic:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._block = real_atomic(*args, **kwargs)

        def __enter__(self) -> Any:
            self._outer = not transaction.get_connection().in_atomic_block
            return self._block.__enter__()

        def __exit__(self, *exc: Any) -> Any:
            if not self._outer:
                return self._block.__exit__(*exc)
            with timers.part("commit (and on-commit publish)"):
                return self._block.__exit__(*exc)

    redemption.transaction = type(
        "TimedTransaction", (), {"atomic": TimedAtomic, "on_commit": transaction.on_commit}
    )


def _redeem_all(
    shop: Any, reward_id: int, members: list[Any], args: argparse.Namespace, timers: Timers
) -> tuple[float, list[str]]:
    from django.db import connection

    from loyalty_app.rewards.redemption import reward_redeem

    jobs = [(members[i % len(members)], f"bench:{i}") for i in range(args.redemptions)]
    errors: list[str] = []
    lock = threading.Lock()
    cursor = iter(jobs)

    def worker() -> None:
        try:
            while True:
                with lock:
                    job = next(cursor, None)
                if job is None:
                    return
                member, key = job
                try:
                    with timers.part("reward_redeem"):
                        reward_redeem(
                            shop=shop,
                            member=member,
                            reward_id=reward_id,
                            idempotency_key=key,
                            actor="bench",
                        )
                except Exception as exc:  # counted and reported as a failed check
                    with lock:
                        errors.append(f"{key}: {type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, errors


def _wait_issued(shop: Any, count: int, timeout: float) -> bool:
    from loyalty_app.rewards.models import Redemption

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Redemption.objects.filter(shop=shop, status="issued").count() >= count:
            return True
        if Redemption.objects.filter(shop=shop, status="failed").exists():
            return False
        time.sleep(0.05)
    return False


def _admin_api_sample(shop: Any, samples: int) -> list[float]:
    """The Admin API call alone: discountCodeBasicCreate against the simulator, in turn."""
    from shopify_bridge.admin_api import admin_graphql
    from shopify_bridge.rewards_delivery import DISCOUNT_BASIC_CREATE

    times = []
    for i in range(samples):
        variables = {
            "basicCodeDiscount": {
                "title": "bench sample",
                "code": f"BENCH-SAMPLE-{i}",
                "startsAt": "2025-01-01T00:00:00+00:00",
                "usageLimit": 1,
                "context": {"customers": {"add": ["gid://shopify/Customer/1"]}},
                "customerGets": {
                    "value": {"discountAmount": {"amount": "5", "appliesOnEachItem": False}},
                    "items": {"all": True},
                },
            }
        }
        start = time.perf_counter()
        admin_graphql(shop=shop, query=DISCOUNT_BASIC_CREATE, variables=variables)
        times.append(time.perf_counter() - start)
    return times


def _checks(shop: Any, members: list[Any], args: argparse.Namespace, errors: list[str]) -> dict:
    from django.db.models import Count, Q, Sum

    from loyalty_app.ledger.models import LedgerEntry
    from loyalty_app.members.models import Member
    from loyalty_app.rewards.models import Redemption
    from shopify_bridge.devstore.models import DevStoreDiscountCode

    redemptions = Redemption.objects.filter(shop=shop)
    codes = set(redemptions.values_list("code", flat=True))
    in_shop = set(
        DevStoreDiscountCode.objects.filter(store__domain=shop.domain)
        .exclude(code__startswith="BENCH-SAMPLE-")
        .values_list("code", flat=True)
    )
    sums = dict(
        LedgerEntry.objects.filter(shop=shop)
        .values_list("member_id")
        .annotate(s=Sum("points"))
        .values_list("member_id", "s")
    )
    spent = dict(
        redemptions.values_list("member_id").annotate(n=Count("id")).values_list("member_id", "n")
    )
    share = -(-args.redemptions // args.members)
    drift = [
        m.pk
        for m in Member.objects.filter(shop=shop)
        if m.points_balance != sums.get(m.pk, 0)
        or m.points_balance != (share - spent.get(m.pk, 0)) * POINTS_COST
    ]
    counts = redemptions.aggregate(issued=Count("id", filter=Q(status="issued")), total=Count("id"))
    return {
        "redemptions": counts["total"],
        "issued": counts["issued"],
        "codes_in_shop": len(in_shop),
        "codes_match": codes == in_shop,
        "balances_drift": len(drift),
        "errors": len(errors),
        "ok": (
            not errors
            and counts["total"] == counts["issued"] == args.redemptions
            and codes == in_shop
            and not drift
        ),
    }


def run(args: argparse.Namespace) -> int:
    config = StackConfig(
        db_name=args.db_name,
        redis_db=args.redis_db,
        web_workers=args.web_workers,
        celery_workers=args.celery_workers,
        celery_concurrency=args.concurrency,
        drop_db_on_close=True,
    )
    with Stack(config) as stack:
        # The workers reach the simulator that the stack's own gunicorn serves.
        stack.env["DEVSTORE_ENABLED"] = "true"
        stack.env["SHOPIFY_ADMIN_API_ORIGIN"] = f"{stack.base_url}/devstore/{{shop}}"
        stack.start()
        _django(stack)
        shop, reward_id, members = _setup(stack, args)
        print(f"stack ready: {json.dumps(stack.describe())}", flush=True)

        timers = Timers()
        _instrument(timers)
        started = time.perf_counter()
        debit_seconds, errors = _redeem_all(shop, reward_id, members, args, timers)
        issued_all = _wait_issued(shop, args.redemptions, args.timeout)
        end_to_end = time.perf_counter() - started

        from loyalty_app.rewards.models import Redemption

        lags = [
            (issued - created).total_seconds()
            for created, issued in Redemption.objects.filter(
                shop=shop, issued_at__isnull=False
            ).values_list("created_at", "issued_at")
        ]
        api_times = _admin_api_sample(shop, args.api_samples)
        checks = _checks(shop, members, args, errors)
        checks["all_issued_in_time"] = issued_all
        checks["ok"] = checks["ok"] and issued_all
        describe = stack.describe()

    redeem_ms = timers.per_call_ms("reward_redeem")
    parts = {
        "reward_redeem (whole call)": redeem_ms,
        "  ledger debit (ledger_entry_add)": timers.per_call_ms("ledger debit"),
        "  outbox enqueue (redemption_deliver)": timers.per_call_ms("outbox enqueue"),
        "  commit + on-commit broker publish": timers.per_call_ms("commit (and on-commit publish)"),
        "    of which broker publish": timers.per_call_ms("broker publish"),
    }
    parts["  locks, rules, inserts (the rest)"] = round(
        redeem_ms
        - parts["  ledger debit (ledger_entry_add)"]
        - parts["  outbox enqueue (redemption_deliver)"]
        - parts["  commit + on-commit broker publish"],
        3,
    )
    figures = {
        "redemptions": args.redemptions,
        "members": args.members,
        "threads": args.threads,
        "workers": f"{args.celery_workers} x {args.concurrency} (celery prefork, real broker)",
        "debit_path_per_s": round(args.redemptions / debit_seconds, 1),
        "end_to_end_per_s": round(args.redemptions / end_to_end, 1),
        "debit_seconds": round(debit_seconds, 2),
        "end_to_end_seconds": round(end_to_end, 2),
        "redeem_to_issued_s": percentiles(lags),
        "per_redemption_ms": parts,
        "admin_api_call_ms": {k: round(v * 1000, 1) for k, v in percentiles(api_times).items()},
        "admin_api_calls_per_s_one_client": round(len(api_times) / sum(api_times), 1)
        if api_times
        else 0,
        "checks": checks,
        "stack": describe,
        "cores": os.cpu_count(),
    }
    print(
        f"debit path   {figures['debit_path_per_s']} redemptions/s "
        f"({args.redemptions} in {figures['debit_seconds']} s, {args.threads} threads)"
    )
    print(
        f"end to end   {figures['end_to_end_per_s']} redemptions/s "
        f"(every code created in the simulator and issued after {figures['end_to_end_seconds']} s)"
    )
    print(f"redeem -> issued lag (s): {figures['redeem_to_issued_s']}")
    print("where the time goes, per redemption (ms, mean over calls; threads overlap):")
    for name, value in parts.items():
        print(f"  {name:<42} {value:>8}")
    print(
        f"  Admin API call alone (one client, in turn)  {figures['admin_api_call_ms']} "
        f"= {figures['admin_api_calls_per_s_one_client']} calls/s"
    )
    print(f"checks       {json.dumps(checks)}")
    if errors:
        print("errors:", *errors[:5], sep="\n  ")
    print(json.dumps(figures))
    return 0 if checks["ok"] else 1  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
