"""The reliability harness: faults, load and hostile input must lose nothing and double nothing.

    ./dev manage ...  (not needed) -- run it as:
    DEBUG=true .venv/bin/python bench/chaos.py                 # 100,000 events, 5 worker kills, 2 Redis restarts
    DEBUG=true .venv/bin/python bench/chaos.py --short         # CI's mode: a few thousand events, under 3 minutes

It starts the real stack (``bench/stack.py``): PostgreSQL, a private Redis it may
kill, gunicorn, two Celery workers and beat. It builds a seeded stream of shop
events for several shops (``bench/chaos_model.py``), with an independent oracle of
what every customer's balance must be, and delivers it over HTTP with duplicates,
retries under new ids, reordering and late deliveries, while it SIGKILLs workers,
restarts Redis (losing every queued message) and drops PostgreSQL's connections.
At the same time it sends fuzzed payloads to a shop of their own and forged
requests at a victim shop (``bench/chaos_attacks.py``). Then it waits for the
backlog to drain and compares every balance with the oracle.

It prints, per shop: events sent, accepted, duplicates ignored, expected vs actual
points, mismatches, lost, doubled, 5xx; the throughput and the lag distribution
(overall and around faults); and a last line of JSON. Exit status 1 on any
mismatch, loss, double, 5xx, accepted forgery or undrained event.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.chaos_attacks import AttackReport, forge_requests, fuzz_webhooks  # noqa: E402
from bench.chaos_model import Delivery, build_stream, disturb  # noqa: E402
from bench.stack import Stack, StackConfig  # noqa: E402
from shopify_bridge.devstore.client import webhook_headers  # noqa: E402

DELIVERIES_PER_ORDER = (
    2.75  # measured mean of the model's stream after duplication (95,761 for 2.9)
)


@dataclass
class ShopTally:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    client_errors: int = 0
    server_errors: int = 0
    connection_retries: int = 0


@dataclass
class Faults:
    log: list[tuple[float, str]] = field(default_factory=list)

    def note(self, what: str) -> None:
        self.log.append((time.time(), what))
        print(f"  [fault] {time.strftime('%H:%M:%S')} {what}", flush=True)


def deliver(
    stack: Stack,
    deliveries: list[Delivery],
    *,
    clients: int,
    progress: list[int],
    tallies: dict[str, ShopTally],
    secret: str,
) -> list[str]:
    """Send every delivery over HTTP from ``clients`` threads, in stream order.
    A connection failure is retried like Shopify retries (same id, same payload)."""
    lock = threading.Lock()
    cursor = iter(range(len(deliveries)))
    problems: list[str] = []

    def worker() -> None:
        session = requests.Session()
        url = f"{stack.base_url}/shopify/webhooks"
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            d = deliveries[index]
            body = json.dumps(d.payload).encode()
            headers = webhook_headers(
                body=body, secret=secret, topic=d.topic, shop_domain=d.shop, webhook_id=d.webhook_id
            )
            for attempt in range(30):
                try:
                    response = session.post(url, data=body, headers=headers, timeout=30)
                    break
                except requests.RequestException:
                    with lock:
                        tallies[d.shop].connection_retries += 1
                    time.sleep(min(2.0, 0.1 * (attempt + 1)))
            else:
                with lock:
                    problems.append(f"delivery {d.webhook_id} never got an answer")
                continue
            with lock:
                tally = tallies[d.shop]
                tally.sent += 1
                progress[0] += 1
                if response.status_code >= 500:
                    tally.server_errors += 1
                    problems.append(
                        f"{response.status_code} on {d.topic} {d.webhook_id}: {response.text[:200]}"
                    )
                elif response.status_code >= 400:
                    tally.client_errors += 1
                    problems.append(
                        f"{response.status_code} on a valid delivery {d.webhook_id}: {response.text[:200]}"
                    )
                elif response.json().get("status") == "duplicate":
                    tally.duplicates += 1
                else:
                    tally.accepted += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return problems


def inject_faults(
    stack: Stack,
    *,
    total: int,
    progress: list[int],
    faults: Faults,
    worker_kills: int,
    redis_restarts: int,
    pg_drops: int,
    stop: threading.Event,
    seed: int,
) -> None:
    """Faults at fixed fractions of the delivery, spread over the run."""
    rng = random.Random(seed)
    plan: list[tuple[float, str]] = []
    plan += [((i + 1) / (worker_kills + 1) * 0.9, "kill") for i in range(worker_kills)]
    plan += [((i + 1) / (redis_restarts + 1) * 0.85 + 0.03, "redis") for i in range(redis_restarts)]
    plan += [((i + 1) / (pg_drops + 1) * 0.8 + 0.05, "pg") for i in range(pg_drops)]
    plan.sort()
    kills = 0
    for fraction, kind in plan:
        while not stop.is_set() and progress[0] < fraction * total:
            time.sleep(0.05)
        if stop.is_set():
            return
        if kind == "kill":
            index = kills % len(stack.workers)
            kills += 1
            faults.note(f"SIGKILL celery worker {index} (whole process group, tasks in flight)")
            stack.kill_worker(index)
            time.sleep(rng.uniform(0.5, 2.0))
            stack.start_worker(index, wait=True)
            faults.note(f"celery worker {index} restarted")
        elif kind == "redis":
            queued = stack.queue_length()
            faults.note(f"SIGKILL Redis with {queued} queued messages (all lost: no persistence)")
            stack.kill_redis()
            time.sleep(rng.uniform(1.0, 3.0))
            stack.start_redis()
            faults.note("Redis restarted, empty")
        else:
            with stack.connect() as conn:
                rows = conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
            faults.note(f"terminated {rows[0]} PostgreSQL connections of the app")
    # The processes restarted here were spawned by this thread, and the stack gives them
    # PR_SET_PDEATHSIG, which fires when the spawning *thread* exits: stay alive until
    # the harness is done with them.
    stop.wait()


SETTLED = {
    # Every event processed.
    "done": "status <> 'done'",
    # Every event done, or failed for good (a payload that cannot be understood).
    "final": "(status IN ('received', 'processing') OR (status = 'failed' AND next_attempt_at IS NOT NULL))",
}


def wait_drained(stack: Stack, shop_ids: list[int], *, timeout: float, until: str = "done") -> int:
    """Until the given shops' events are settled; returns how many are not."""
    deadline = time.monotonic() + timeout
    left = -1
    with stack.connect() as conn:
        while time.monotonic() < deadline:
            left = conn.execute(
                f"SELECT count(*) FROM shopify_bridge_webhookevent WHERE shop_id = ANY(%s) AND {SETTLED[until]}",  # noqa: S608 - fixed clauses
                (shop_ids,),
            ).fetchone()[0]
            if left == 0:
                return 0
            time.sleep(1)
    return left


def balances(stack: Stack, shop_id: int) -> dict[str, tuple[int, int]]:
    """customer id -> (cached balance, ledger sum)."""
    with stack.connect() as conn:
        rows = conn.execute(
            "SELECT m.external_id, m.points_balance, COALESCE(SUM(e.points), 0) "
            "FROM members_member m LEFT JOIN ledger_ledgerentry e ON e.member_id = m.id "
            "WHERE m.shop_id = %s GROUP BY m.id",
            (shop_id,),
        ).fetchall()
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    pick = lambda p: ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]  # noqa: E731
    return {
        "p50": round(pick(50), 3),
        "p90": round(pick(90), 3),
        "p99": round(pick(99), 3),
        "max": round(ordered[-1], 3),
    }


def lags(
    stack: Stack, shop_ids: list[int], fault_times: list[float], window: float
) -> dict[str, Any]:
    with stack.connect() as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM received_at), extract(epoch FROM processed_at - received_at) "
            "FROM shopify_bridge_webhookevent WHERE shop_id = ANY(%s) AND status = 'done'",
            (shop_ids,),
        ).fetchall()
    all_lags = [float(r[1]) for r in rows]
    near = [float(r[1]) for r in rows if any(abs(float(r[0]) - t) <= window for t in fault_times)]
    return {
        "all_seconds": percentiles(all_lags),
        "near_faults_seconds": percentiles(near),
        "near_faults_events": len(near),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--short", action="store_true", help="CI mode: ~3,000 events, 1 kill, 1 Redis restart"
    )
    p.add_argument(
        "--events", type=int, default=100_000, help="deliveries in the main stream (approx.)"
    )
    p.add_argument("--shops", type=int, default=3)
    p.add_argument("--fuzz", type=int, default=10_000)
    p.add_argument("--forgeries", type=int, default=1_000)
    p.add_argument("--worker-kills", type=int, default=5)
    p.add_argument("--redis-restarts", type=int, default=2)
    p.add_argument("--pg-drops", type=int, default=1)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--drain-timeout", type=float, default=900)
    p.add_argument("--db-name", default="loyalty_chaos")
    args = p.parse_args(argv)
    if args.short:
        args.events = min(args.events, 3_000)
        args.fuzz = min(args.fuzz, 1_000)
        args.forgeries = min(args.forgeries, 200)
        args.worker_kills = min(args.worker_kills, 1)
        args.redis_restarts = min(args.redis_restarts, 1)
        args.drain_timeout = min(args.drain_timeout, 120)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = StackConfig(
        db_name=args.db_name,
        own_redis=True,
        redis_db=0,
        web_workers=2,
        celery_workers=2,
        celery_concurrency=2,
        beat=True,
        shop_domain="chaos-0.myshopify.com",
        drop_db_on_close=True,
        extra_env={
            # Recover fast enough to measure: a lost message is re-sent after 5 s, a
            # task that a killed worker was running is taken over after 15 s.
            "WEBHOOK_SWEEP_INTERVAL_SECONDS": "3",
            "WEBHOOK_SWEEP_GRACE_SECONDS": "5",
            "WEBHOOK_PROCESSING_STALE_SECONDS": "15",
        },
    )
    started = time.time()
    with Stack(config) as stack:
        stack.start()
        secret = config.secret
        shops = [stack.shop_domain] + [f"chaos-{i}.myshopify.com" for i in range(1, args.shops)]
        ids = {stack.shop_domain: stack.shop_id}
        for domain in shops[1:]:
            ids[domain] = json.loads(
                stack.manage("shop", "create", "--domain", domain).strip().splitlines()[-1]
            )["shop_id"]
        fuzz_shop = json.loads(
            stack.manage("shop", "create", "--domain", "chaos-fuzz.myshopify.com")
            .strip()
            .splitlines()[-1]
        )
        attacker = json.loads(
            stack.manage("shop", "create", "--domain", "chaos-attacker.myshopify.com")
            .strip()
            .splitlines()[-1]
        )

        orders_per_shop = max(10, int(args.events / args.shops / DELIVERIES_PER_ORDER))
        stream = build_stream(
            seed=args.seed,
            shops=shops,
            orders_per_shop=orders_per_shop,
            customers_per_shop=max(20, orders_per_shop // 5),
        )
        deliveries = disturb(stream, seed=args.seed)
        expected = stream.expected_balances()
        kinds = Counter(d.kind for d in deliveries)
        print(f"stack up: {json.dumps(stack.describe())}", flush=True)
        print(
            f"stream: {len(deliveries)} deliveries for {args.shops} shops ({stream.originals} originals, "
            f"{kinds['duplicate']} duplicates, {kinds['retry']} retries under new ids), "
            f"{args.fuzz} fuzzed, {args.forgeries} forged",
            flush=True,
        )

        tallies: dict[str, ShopTally] = defaultdict(ShopTally)
        progress = [0]
        faults = Faults()
        stop = threading.Event()
        attack_reports: dict[str, AttackReport] = {}

        def attacks() -> None:
            attack_reports["fuzz"] = fuzz_webhooks(
                base_url=stack.base_url,
                secret=secret,
                shop_domain="chaos-fuzz.myshopify.com",
                count=args.fuzz,
                seed=args.seed,
            )
            victims = sorted(expected[shops[0]])[:50] or ["1"]
            attack_reports["forgery"] = forge_requests(
                base_url=stack.base_url,
                secret=secret,
                victim_domain=shops[0],
                victim_customers=victims,
                attacker_token=attacker["api_token"],
                count=args.forgeries,
                seed=args.seed,
            )

        injector = threading.Thread(
            target=inject_faults,
            daemon=True,
            kwargs={
                "stack": stack,
                "total": len(deliveries),
                "progress": progress,
                "faults": faults,
                "worker_kills": args.worker_kills,
                "redis_restarts": args.redis_restarts,
                "pg_drops": args.pg_drops,
                "stop": stop,
                "seed": args.seed,
            },
        )
        attacker_thread = threading.Thread(target=attacks, daemon=True)
        send_start = time.time()
        injector.start()
        attacker_thread.start()
        problems = deliver(
            stack,
            deliveries,
            clients=args.clients,
            progress=progress,
            tallies=tallies,
            secret=secret,
        )
        send_seconds = time.time() - send_start
        attacker_thread.join()
        print(
            f"delivered in {send_seconds:.1f} s ({len(deliveries) / send_seconds:.0f} deliveries/s); "
            "waiting for the backlog to drain",
            flush=True,
        )

        undrained = wait_drained(stack, list(ids.values()), timeout=args.drain_timeout)
        drain_seconds = time.time() - send_start
        fuzz_undrained = wait_drained(stack, [fuzz_shop["shop_id"]], timeout=60, until="final")
        stop.set()
        injector.join()
        with stack.connect() as conn:
            fuzz_status = dict(
                conn.execute(
                    "SELECT status, count(*) FROM shopify_bridge_webhookevent WHERE shop_id = %s GROUP BY status",
                    (fuzz_shop["shop_id"],),
                ).fetchall()
            )
            unexpected_fuzz_errors = [
                r[0]
                for r in conn.execute(
                    "SELECT last_error FROM shopify_bridge_webhookevent WHERE shop_id = %s AND status = 'failed' "
                    "AND last_error NOT LIKE 'PayloadError:%%' LIMIT 10",
                    (fuzz_shop["shop_id"],),
                ).fetchall()
            ]
            attacker_members = conn.execute(
                "SELECT count(*) FROM members_member WHERE shop_id = %s", (attacker["shop_id"],)
            ).fetchone()[0]
            forged_entries = conn.execute(
                "SELECT count(*) FROM ledger_ledgerentry WHERE reason = 'forged'"
            ).fetchone()[0]

        per_shop = {}
        totals = Counter()
        for domain in shops:
            actual = balances(stack, ids[domain])
            want = expected.get(domain, {})
            mismatches, lost, doubled, drift = [], 0, 0, 0
            for customer in sorted(set(want) | set(actual)):
                exp = want.get(customer, 0)
                cached, ledger = actual.get(customer, (0, 0))
                if cached != ledger:
                    drift += 1
                if ledger != exp:
                    mismatches.append({"customer": customer, "expected": exp, "actual": ledger})
                    lost += ledger < exp
                    doubled += ledger > exp
            tally = tallies[domain]
            per_shop[domain] = {
                "events_sent": tally.sent,
                "accepted": tally.accepted,
                "duplicates_ignored": tally.duplicates,
                "customers": len(want),
                "expected_points": sum(want.values()),
                "actual_points": sum(a[1] for a in actual.values()),
                "mismatches": len(mismatches),
                "lost": lost,
                "doubled": doubled,
                "balance_cache_drift": drift,
                "5xx": tally.server_errors,
                "4xx": tally.client_errors,
                "connection_retries": tally.connection_retries,
            }
            totals.update({k: v for k, v in per_shop[domain].items() if isinstance(v, int)})
            for m in mismatches[:5]:
                print(
                    f"  MISMATCH {domain} customer {m['customer']}: expected {m['expected']}, got {m['actual']}"
                )

        fuzz, forgery = (
            attack_reports.get("fuzz", AttackReport()),
            attack_reports.get("forgery", AttackReport()),
        )
        violations = (
            problems
            + fuzz.violations
            + forgery.violations
            + [
                f"fuzz event failed with an unexpected error: {e[:200]}"
                for e in unexpected_fuzz_errors
            ]
        )
        if attacker_members or forged_entries:
            violations.append(
                f"forgery left traces: {attacker_members} members, {forged_entries} entries"
            )
        lag = lags(stack, list(ids.values()), [t for t, _ in faults.log], window=20)

        print()
        print(
            f"{'shop':<26}{'sent':>8}{'accepted':>10}{'dupes':>8}{'expected':>11}{'actual':>11}"
            f"{'mismatch':>10}{'lost':>6}{'doubled':>9}{'5xx':>5}"
        )
        for domain, row in per_shop.items():
            print(
                f"{domain:<26}{row['events_sent']:>8}{row['accepted']:>10}{row['duplicates_ignored']:>8}"
                f"{row['expected_points']:>11}{row['actual_points']:>11}{row['mismatches']:>10}"
                f"{row['lost']:>6}{row['doubled']:>9}{row['5xx']:>5}"
            )
        print(
            f"fuzz: {fuzz.sent} sent, statuses {dict(sorted(fuzz.statuses.items()))}, "
            f"{fuzz.signed_accepted} signed ones stored -> {fuzz_status}"
        )
        print(f"forgeries: {forgery.sent} sent, statuses {dict(sorted(forgery.statuses.items()))}")
        print(
            f"faults: {len(faults.log)} notes; throughput {len(deliveries) / send_seconds:.0f} deliveries/s; "
            f"everything settled {drain_seconds:.1f} s after the first delivery"
        )
        print(
            f"lag (received -> processed): all {lag['all_seconds']}; within 20 s of a fault "
            f"{lag['near_faults_seconds']} over {lag['near_faults_events']} events"
        )
        for v in violations[:20]:
            print(f"  VIOLATION {v}")
        ok = (
            totals["mismatches"] == 0
            and totals["lost"] == 0
            and totals["doubled"] == 0
            and totals["5xx"] == 0
            and totals["balance_cache_drift"] == 0
            and undrained == 0
            and fuzz_undrained == 0
            and not violations
        )
        summary = {
            "ok": ok,
            "deliveries": len(deliveries),
            "shops": per_shop,
            "undrained": undrained,
            "fuzz": {"sent": fuzz.sent, "statuses": dict(fuzz.statuses), "events": fuzz_status},
            "forgeries": {"sent": forgery.sent, "statuses": dict(forgery.statuses)},
            "violations": len(violations),
            "faults": [w for _, w in faults.log],
            "send_seconds": round(send_seconds, 1),
            "settled_seconds": round(drain_seconds, 1),
            "wall_seconds": round(time.time() - started, 1),
            "deliveries_per_second": round(len(deliveries) / send_seconds, 1),
            "lag": lag,
        }
        print(f"wall time {summary['wall_seconds']} s: {'OK' if ok else 'FAILED'}")
        print("CHAOS " + json.dumps(summary))
        if not ok:
            print(f"logs kept in {stack.log_dir}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
