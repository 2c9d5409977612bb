"""Webhook benchmark: signed ``orders/create`` webhooks over HTTP -> gunicorn -> Redis ->
Celery workers -> the PostgreSQL ledger, on the real stack (see ``bench/stack.py``).

    DEBUG=true .venv/bin/python bench/webhooks.py --orders 20000
    DEBUG=true .venv/bin/python bench/webhooks.py --smoke
    DEBUG=true .venv/bin/python bench/webhooks.py --orders 5000 --rules [--facts warm]

It prints the accepted webhooks per second and the answer's latency (client side), the
lag from acceptance to points in the ledger and the award pipeline's throughput (both
from the database's own timestamps), where the CPU went, and correctness checks: every
order has exactly its expected points, none lost, none doubled, no 5xx. The last line is
one JSON object with every figure. The exit status is 1 if any check failed.

With ``--rules`` the shop runs 20 line rules (product type, tag, collection, vendor, SKU,
product id) and 3 campaigns, saved through the merchant API; the orders' lines name
catalogue products by id only, so the workers read product types, tags and collections
from the dev-store simulator's Admin API (served by the same gunicorn) and cache them. Each
order's expected points come from the pure calculation (``order_breakdown``) over the
catalogue's facts. ``--facts cold`` starts with an empty cache; ``--facts warm`` reads every
product into it before the clock starts.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import itertools
import json
import multiprocessing
import os
import random
import resource
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.stack import Stack, StackConfig  # noqa: E402
from loyalty_app.earning.policies import program_from_dict  # noqa: E402
from loyalty_app.earning.rules import (  # noqa: E402
    Campaign,
    EarnRules,
    OrderContext,
    RuleLine,
    campaign_from_dict,
    order_breakdown,
)
from shopify_bridge.devstore.catalog import CatalogProduct, catalog, catalog_lines  # noqa: E402
from shopify_bridge.devstore.client import webhook_headers  # noqa: E402
from shopify_bridge.devstore.payloads import (  # noqa: E402
    LineSpec,
    expected_points,
    order_payload,
    random_lines,
)

TOPIC = "orders/create"
ORDER_BASE = 820_000_000_000  # Shopify-like order ids
WARMUP_ORDER_BASE = 810_000_000_000
CUSTOMER_BASE = 6_200_000_000
WARMUP_CUSTOMER_BASE = 6_100_000_000
FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia"]
LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]

# Filled in the parent before the client processes fork; they read it copy-on-write.
REQUESTS: list[bytes] = []

# --rules: orders are placed this long after the orders are built, so that the program
# saved while the stack boots is the one in force when they were placed.
PLACEMENT_DELAY = timedelta(minutes=5)
WARMUP_PRODUCTS = 20  # catalogue products the warm-up orders use; the measured ones never do


def rules_program(products: list[CatalogProduct]) -> dict[str, Any]:
    """20 line rules on every field, collections named by title, handle and id."""
    sku = {p.product_id: p.sku for p in products}
    first = products[WARMUP_PRODUCTS].product_id
    return {
        "points_per_unit": "1.5",
        "include_shipping": True,
        "include_tax": False,
        "rounding": "nearest",
        "min_order_amount": "10.00",
        "max_points_per_order": 5000,
        "line_rules": [
            {"field": "product_type", "value": "Coffee", "multiplier": "3"},
            {"field": "product_type", "value": "Tea", "multiplier": "2"},
            {"field": "product_type", "value": "Equipment", "multiplier": "1.5"},
            {"field": "product_type", "value": "Supplies", "multiplier": "0.5"},
            {"field": "tag", "value": "organic", "multiplier": "2"},
            {"field": "tag", "value": "limited", "multiplier": "4"},
            {"field": "tag", "value": "clearance", "exclude": True},
            {"field": "tag", "value": "Bestseller", "multiplier": "2.5"},
            {"field": "tag", "value": "decaf", "multiplier": "1.25"},
            {"field": "collection", "value": "Sale", "exclude": True},
            {"field": "collection", "value": "staff-picks", "multiplier": "3"},
            {"field": "collection", "value": "480008", "multiplier": "2"},
            {"field": "collection", "value": "Gift ideas", "multiplier": "1.75"},
            {"field": "collection", "value": "new-arrivals", "multiplier": "2"},
            {"field": "vendor", "value": "Clearance Co", "exclude": True},
            {"field": "vendor", "value": "Highland Tea", "multiplier": "2"},
            {"field": "sku", "value": sku[first + 3], "multiplier": "5"},
            {"field": "sku", "value": sku[first + 7], "multiplier": "6"},
            {"field": "product_id", "value": str(first + 11), "multiplier": "8"},
            {"field": "product_id", "value": str(first + 12), "exclude": True},
        ],
    }


def rules_campaigns(start: datetime) -> list[dict[str, Any]]:
    window = {
        "starts_at": (start - timedelta(days=1)).isoformat(),
        "ends_at": (start + timedelta(days=7)).isoformat(),
    }
    return [
        {"name": "Double points week", "kind": "multiplier", "multiplier": "2", **window},
        {
            "name": "3x staff picks",
            "kind": "multiplier",
            "multiplier": "3",
            "applies_to": {"field": "collection", "value": "Staff picks"},
            **window,
        },
        {
            "name": "Organic bonus",
            "kind": "bonus",
            "bonus_points": 50,
            "applies_to": {"field": "tag", "value": "organic"},
            **window,
        },
    ]


@dataclass
class RulesSetup:
    """What --rules installs, and what the expected points are computed with."""

    products: list[CatalogProduct]
    program: dict[str, Any]
    campaigns: list[dict[str, Any]]
    placed_at: datetime
    earn: EarnRules = field(init=False)
    parsed_campaigns: list[Campaign] = field(init=False)
    by_id: dict[int, CatalogProduct] = field(init=False)

    def __post_init__(self) -> None:
        # Parsed exactly as the engine parses what the API stores.
        self.earn = program_from_dict(program_from_dict(self.program).to_dict()).earn
        self.parsed_campaigns = [
            campaign_from_dict(campaign_from_dict(c).to_dict()) for c in self.campaigns
        ]
        self.by_id = {p.product_id: p for p in self.products}

    def expected(self, lines: list[LineSpec], shipping: Decimal, tax: Decimal) -> int:
        rule_lines = []
        for index, spec in enumerate(lines):
            product = None if spec.gift_card else self.by_id.get(spec.product_id)
            rule_lines.append(
                RuleLine(
                    line_id=str(index),
                    amount=max(Decimal("0"), spec.net()),
                    quantity=spec.quantity,
                    gift_card=spec.gift_card,
                    product_id=str(spec.product_id),
                    sku=spec.sku,
                    vendor=spec.vendor,
                    product_type=product.product_type if product else "",
                    tags=frozenset(product.tags if product else ()),
                    collections=frozenset(product.collection_names() if product else ()),
                )
            )
        return order_breakdown(
            lines=rule_lines,
            context=OrderContext(placed_at=self.placed_at, paid=True),
            rules=self.earn,
            campaigns=self.parsed_campaigns,
            shipping=shipping,
            tax=tax,
        ).points


@dataclass
class Order:
    order_id: int
    customer_id: int
    webhook_id: str
    expected: int
    body: bytes
    headers: dict[str, str]


def make_orders(
    *,
    count: int,
    customers: int,
    seed: int,
    secret: str,
    shop_domain: str,
    order_base: int,
    customer_base: int,
    rules: RulesSetup | None = None,
    products: list[CatalogProduct] | None = None,
) -> list[Order]:
    """Realistic paid orders from the dev-store payload builders, signed like Shopify.

    With ``rules``, the lines are ``products`` of the catalogue (named by id, SKU and vendor
    only, as order webhooks name them) and the expected points are the rules' ones."""
    rng = random.Random(seed)
    orders = []
    for i in range(count):
        customer = customer_base + rng.randrange(customers)
        lines = catalog_lines(rng, products or []) if rules else random_lines(rng)
        shipping = Decimal(rng.choice(["0", "4.99", "9.99"]))
        tax_rate = Decimal(rng.choice(["0", "0.08", "0.2"]))
        payload = order_payload(
            order_id=order_base + i,
            lines=lines,
            customer_id=customer,
            email=f"customer{customer}@example.com",
            first_name=FIRST_NAMES[customer % len(FIRST_NAMES)],
            last_name=LAST_NAMES[customer % len(LAST_NAMES)],
            shipping=shipping,
            tax_rate=tax_rate,
            discount_code="SAVE" if any(line.discount for line in lines) else None,
            created_at=rules.placed_at if rules else None,
        )
        if rules:
            expected = rules.expected(lines, shipping, Decimal(payload["total_tax"]))
        else:
            expected = expected_points(lines)
        body = json.dumps(payload).encode()
        webhook_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        headers = webhook_headers(
            body=body, secret=secret, topic=TOPIC, shop_domain=shop_domain, webhook_id=webhook_id
        )
        orders.append(Order(order_base + i, customer, webhook_id, expected, body, headers))
    return orders


def raw_request(order: Order, host: str) -> bytes:
    head = [
        "POST /shopify/webhooks HTTP/1.1",
        f"Host: {host}",
        f"Content-Length: {len(order.body)}",
        "Connection: keep-alive",
        *(f"{name}: {value}" for name, value in order.headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + order.body


# --- the HTTP client ----------------------------------------------------------------------


class _Closed(Exception):
    pass


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length: int | None = None
    keep = True
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            keep = value.strip().lower() != b"close"
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    if length is not None:
        body = await reader.readexactly(length)
    elif chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(chunk[:-2])
        body = b"".join(parts)
    else:
        body = await reader.read()
        keep = False
    return status, body, keep


async def _client(
    indexes: list[int], connections: int, rate: float, port: int, start_at: float
) -> tuple[list[tuple[int, float, float, int, str]], int, int]:
    """Send REQUESTS[i] for every i over ``connections`` connections (keep-alive when the
    server allows). ``rate`` > 0 paces sends to that many per second (open loop)."""
    results: list[tuple[int, float, float, int, str]] = []
    pending = iter(indexes)
    sequence = itertools.count()
    counters = {"connects": 0, "retries": 0}
    delay = start_at - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)
    begin = time.perf_counter()

    async def loop() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        for index in pending:
            if rate > 0:
                wait = begin + next(sequence) / rate - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
            data = REQUESTS[index]
            for attempt in range(2):
                reused = writer is not None
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    counters["connects"] += 1
                assert reader is not None  # noqa: S101
                t0 = time.perf_counter()
                try:
                    writer.write(data)
                    status, body, keep = await _read_response(reader)
                except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                    writer.close()
                    writer = None
                    if reused and attempt == 0:  # the server closed an idle keep-alive
                        counters["retries"] += 1
                        continue
                    results.append((index, t0, time.perf_counter(), -1, type(exc).__name__))
                    break
                results.append((index, t0, time.perf_counter(), status, body[:60].decode()))
                if not keep:
                    writer.close()
                    writer = None
                break
        if writer is not None:
            writer.close()

    await asyncio.gather(*(loop() for _ in range(connections)))
    return results, counters["connects"], counters["retries"]


def _client_process(
    indexes: list[int], connections: int, rate: float, port: int, start_at: float, pipe: Any
) -> None:
    results, connects, retries = asyncio.run(_client(indexes, connections, rate, port, start_at))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    pipe.send(
        {
            "results": results,
            "connects": connects,
            "retries": retries,
            "cpu": usage.ru_utime + usage.ru_stime,
        }
    )
    pipe.close()


@dataclass
class SendReport:
    results: list[tuple[int, float, float, int, str]]
    connects: int
    retries: int
    client_cpu: float
    client_pids: list[int] = field(default_factory=list)


def send_all(
    requests_: list[bytes], *, port: int, processes: int, connections: int, rate: float
) -> SendReport:
    """Fork the client processes, start them together, collect every answer."""
    global REQUESTS
    REQUESTS = requests_
    ctx = multiprocessing.get_context("fork")
    processes = max(1, min(processes, connections, len(requests_)))
    start_at = time.perf_counter() + 0.3  # CLOCK_MONOTONIC: the same clock in every process
    children = []
    for p in range(processes):
        parent_end, child_end = ctx.Pipe(duplex=False)
        share = connections // processes + (1 if p < connections % processes else 0)
        proc = ctx.Process(
            target=_client_process,
            args=(
                list(range(p, len(requests_), processes)),
                share,
                rate / processes,
                port,
                start_at,
                child_end,
            ),
            daemon=True,
        )
        proc.start()
        child_end.close()
        children.append((proc, parent_end))
    report = SendReport([], 0, 0, 0.0, [proc.pid for proc, _ in children if proc.pid])
    for proc, pipe in children:
        data = pipe.recv()
        proc.join()
        report.results.extend(data["results"])
        report.connects += data["connects"]
        report.retries += data["retries"]
        report.client_cpu += data["cpu"]
    return report


# --- CPU accounting from /proc --------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


CpuSnapshot = tuple[Counter[str], int, int]


def _cpu_snapshot(stack: Stack) -> CpuSnapshot:
    """CPU ticks per group of processes, with the ticks of the children each one has reaped.

    A group's total (live processes plus reaped children) only grows, so the difference of
    two snapshots is what the group used in between, including short-lived processes: a
    database backend that ended is in the postmaster's figure, the client processes are in
    the bench driver's. Other people's processes on the machine are "other".
    """
    groups = {}
    for proc in stack.processes():
        if proc.pid is not None:
            name = proc.name.rstrip("0123456789")
            groups[proc.pid] = {"web": "gunicorn", "worker": "celery", "beat": "celery beat"}.get(
                name, name
            )
    totals: Counter[str] = Counter()
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, ppid, pgid = int(entry.name), int(fields[1]), int(fields[2])
        ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        if pgid in groups:
            group = groups[pgid]
        elif pid == me or ppid == me:
            group = "bench client+driver"
        elif comm.startswith("postgres"):
            group = "postgres"
        elif comm.startswith("redis-server"):
            group = "redis"
        else:
            group = "other"
        totals[group] += ticks
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal
    totals["kernel irq+softirq"] = cpu[5] + cpu[6]
    totals["steal"] = cpu[7]
    idle = cpu[3] + cpu[4]
    return totals, sum(cpu) - idle, idle


def cpu_breakdown(before: CpuSnapshot, after: CpuSnapshot, seconds: float) -> dict[str, float]:
    """Percent of one core per group over the interval (2 cores = 200%)."""
    scale = 100.0 / CLOCK_TICKS / max(seconds, 1e-9)
    used = {group: after[0][group] - before[0].get(group, 0) for group in after[0]}
    out = {
        group: round(ticks * scale, 1)
        for group, ticks in sorted(used.items(), key=lambda item: -item[1])
        if ticks > 0
    }
    busy, idle = after[1] - before[1], after[2] - before[2]
    out["machine busy"] = round(100.0 * busy / max(1, busy + idle) * (os.cpu_count() or 1), 1)
    return out


def background_load(seconds: float = 1.0) -> float:
    """Percent of one core the machine is busy with before the stack starts."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:9]]
        return sum(cpu) - cpu[3] - cpu[4], cpu[3] + cpu[4]

    b0, i0 = sample()
    time.sleep(seconds)
    b1, i1 = sample()
    return round(100.0 * (b1 - b0) / max(1, b1 - b0 + i1 - i0) * (os.cpu_count() or 1), 1)


# --- the database side ------------------------------------------------------------------------


def event_counts(conn: Any, shop_id: int) -> dict[str, int]:
    """Events per status; a failed event due for another attempt is "retrying", not finished."""
    rows = conn.execute(
        "SELECT CASE WHEN status = 'failed' AND next_attempt_at IS NOT NULL THEN 'retrying' "
        "ELSE status END, count(*) FROM shopify_bridge_webhookevent WHERE shop_id = %s "
        "GROUP BY 1",
        (shop_id,),
    ).fetchall()
    return {status: count for status, count in rows}


def wait_drained(
    conn: Any, shop_id: int, total: int, *, idle_timeout: float, overall_timeout: float
) -> bool:
    """Until every stored event is done or failed (and ``total`` are stored); False if no
    progress for ``idle_timeout`` seconds or ``overall_timeout`` passed."""
    deadline = time.monotonic() + overall_timeout
    last_progress = time.monotonic()
    last_done = -1
    while time.monotonic() < deadline:
        counts = event_counts(conn, shop_id)
        finished = counts.get("done", 0) + counts.get("failed", 0)
        if sum(counts.values()) >= total and finished >= sum(counts.values()):
            return True
        if finished != last_done:
            last_done = finished
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > idle_timeout:
            return False
        time.sleep(0.2)
    return False


def percentiles(values: list[float], points: tuple[float, ...] = (50, 90, 99)) -> dict[str, float]:
    if not values:
        return {f"p{p:g}": float("nan") for p in points} | {"max": float("nan")}
    ordered = sorted(values)
    out = {}
    for p in points:
        rank = min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))
        out[f"p{p:g}"] = ordered[rank]
    out["max"] = ordered[-1]
    return out


def _ms(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v * 1000, 1) for k, v in values.items()}


def verify(conn: Any, shop_id: int, orders: list[Order]) -> dict[str, Any]:
    """Compare the ledger, the orders and the events with what was sent."""
    events = {
        webhook_id: (received, processed, status, attempts)
        for webhook_id, received, processed, status, attempts in conn.execute(
            "SELECT webhook_id, received_at, processed_at, status, attempts "
            "FROM shopify_bridge_webhookevent WHERE shop_id = %s",
            (shop_id,),
        )
    }
    ledger: dict[str, list[tuple[int, Any]]] = {}
    for source_id, points, created in conn.execute(
        "SELECT source_id, points, created_at FROM ledger_ledgerentry "
        "WHERE shop_id = %s AND source_type = 'order'",
        (shop_id,),
    ):
        ledger.setdefault(source_id, []).append((points, created))
    awarded = dict(
        conn.execute(
            "SELECT external_id, points_awarded FROM earning_order WHERE shop_id = %s", (shop_id,)
        ).fetchall()
    )
    balance_drift = conn.execute(
        "SELECT count(*) FROM members_member m WHERE m.shop_id = %s AND m.points_balance <> "
        "(SELECT coalesce(sum(points), 0) FROM ledger_ledgerentry l WHERE l.member_id = m.id)",
        (shop_id,),
    ).fetchone()[0]
    members = conn.execute(
        "SELECT count(*) FROM members_member WHERE shop_id = %s", (shop_id,)
    ).fetchone()[0]

    missing_events = missing = mismatched = doubled = not_done = retried = 0
    examples: list[str] = []
    lag_ledger: list[float] = []
    lag_processed: list[float] = []
    first_received = last_entry = first_entry = None
    expected_total = ledger_total = 0
    for order in orders:
        expected_total += order.expected
        event = events.get(order.webhook_id)
        entries = ledger.get(str(order.order_id), [])
        got = sum(points for points, _ in entries)
        ledger_total += got
        if event is None:
            missing_events += 1
            if len(examples) < 5:
                examples.append(f"order {order.order_id}: no stored event")
        else:
            received, processed, status, attempts = event
            first_received = received if first_received is None else min(first_received, received)
            if status != "done":
                not_done += 1
            if attempts > 1:
                retried += 1
            if processed is not None:
                lag_processed.append((processed - received).total_seconds())
            if entries:
                lag_ledger.append((min(c for _, c in entries) - received).total_seconds())
        if entries:
            newest = max(c for _, c in entries)
            oldest = min(c for _, c in entries)
            last_entry = newest if last_entry is None else max(last_entry, newest)
            first_entry = oldest if first_entry is None else min(first_entry, oldest)
        if order.expected and not entries:
            missing += 1
            if len(examples) < 5:
                examples.append(
                    f"order {order.order_id}: no ledger entry, expected {order.expected}"
                )
        elif got != order.expected or awarded.get(str(order.order_id), 0) != order.expected:
            mismatched += 1
            if len(examples) < 5:
                examples.append(
                    f"order {order.order_id}: ledger {got}, awarded "
                    f"{awarded.get(str(order.order_id))}, expected {order.expected}"
                )
        if len(entries) > 1:
            doubled += 1
    span = (last_entry - first_received).total_seconds() if first_received and last_entry else 0
    entry_span = (last_entry - first_entry).total_seconds() if first_entry and last_entry else 0
    return {
        "orders": len(orders),
        "members": members,
        "expected_points": expected_total,
        "ledger_points": ledger_total,
        "missing_events": missing_events,
        "missing": missing,
        "mismatched": mismatched,
        "doubled": doubled,
        "not_done": not_done,
        "retried_events": retried,
        "balance_drift": balance_drift,
        "examples": examples,
        "lag_ledger": lag_ledger,
        "lag_processed": lag_processed,
        "pipeline_seconds": span,
        "ledger_span_seconds": entry_span,
    }


# --- the run ----------------------------------------------------------------------------------


def _tasks_run(stack: Stack) -> int:
    try:
        return stack.task_counts().get("shopify_bridge.webhook_event_process", 0)
    except Exception:  # the figure is informative only
        return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=None, help="orders to send (default 20000)")
    parser.add_argument(
        "--smoke", action="store_true", help="a few hundred orders, fewer processes, fast"
    )
    parser.add_argument("--web-workers", type=int, default=None, help="gunicorn workers")
    parser.add_argument(
        "--web-worker-class",
        default="sync",
        choices=["sync", "gthread"],
        help="gunicorn worker class",
    )
    parser.add_argument("--web-threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument("--celery-workers", type=int, default=None, help="celery worker processes")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="prefork concurrency of each celery worker"
    )
    parser.add_argument(
        "--prefetch",
        type=int,
        default=None,
        help="CELERY_WORKER_PREFETCH_MULTIPLIER (app default 4)",
    )
    parser.add_argument(
        "--clients", type=int, default=None, help="concurrent HTTP connections (in-flight requests)"
    )
    parser.add_argument(
        "--client-procs", type=int, default=None, help="client processes sharing the connections"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="offered webhooks/s (open loop); 0 = as fast as answered",
    )
    parser.add_argument("--customers", type=int, default=5000, help="distinct customers")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up orders, not counted")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument(
        "--db-name", default=None, help="database to (re)create (default loyalty_bench)"
    )
    parser.add_argument("--redis-db", type=int, default=None, help="Redis db number (default 11)")
    parser.add_argument(
        "--drop-db", action="store_true", help="drop the database when done (default: keep it)"
    )
    parser.add_argument("--own-redis", action="store_true", help="start a private redis-server")
    parser.add_argument(
        "--beat",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run celery beat (sweeper)",
    )
    parser.add_argument(
        "--phased",
        action="store_true",
        help="stop the celery workers during intake and start them after it: measures the\n"
        "receiver alone, then the award pipeline alone (a backlog of --orders events)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="give up after this long without progress",
    )
    parser.add_argument("--log-dir", type=Path, default=None, help="where the process logs go")
    parser.add_argument(
        "--rules",
        action="store_true",
        help="20 line rules and 3 campaigns; product facts from the simulated Admin API",
    )
    parser.add_argument(
        "--facts",
        choices=["cold", "warm"],
        default="cold",
        help="with --rules: start with an empty product-facts cache (cold) or read every\n"
        "product into it before the clock starts (warm)",
    )
    parser.add_argument(
        "--catalog", type=int, default=1000, help="with --rules: products in the catalogue"
    )
    parser.add_argument(
        "--sim-throttle",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --rules: the simulator enforces Shopify's rate limit (2000-point bucket,\n"
        "100 points/s)",
    )
    args = parser.parse_args(argv)
    smoke = args.smoke
    defaults = {
        "orders": 300 if smoke else 20000,
        "web_workers": 1 if smoke else 2,
        "celery_workers": 1,
        "concurrency": 1 if smoke else 2,
        "clients": 4 if smoke else 16,
        "client_procs": 1 if smoke else 2,
        "warmup": 20 if smoke else 200,
        "db_name": "loyalty_bench_smoke" if smoke else "loyalty_bench",
        "redis_db": 12 if smoke else 11,
        "beat": not smoke,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.orders < 1:
        parser.error("--orders must be at least 1")
    if args.rules and args.catalog < WARMUP_PRODUCTS + 20:
        parser.error(f"--catalog must be at least {WARMUP_PRODUCTS + 20}")
    return args


def api_call(stack: Stack, method: str, path: str, body: Any) -> Any:
    import urllib.request

    request = urllib.request.Request(
        stack.base_url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {stack.api_token}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def install_rules(stack: Stack, args: argparse.Namespace, rules: RulesSetup) -> dict[str, Any]:
    """The simulated store (token, catalogue, rate limit), the program and the campaigns
    through the merchant API, and (``--facts warm``) the cache. Returns what was done."""
    domain = stack.shop_domain
    stack.manage("devstore", "install", "--shop", domain)
    stack.manage(
        "devstore", "products", "--shop", domain, "--catalog", str(args.catalog), "--seed",
        str(args.seed),
    )  # fmt: skip
    throttle = ["--bucket", "2000", "--rate", "100"] if args.sim_throttle else ["--off"]
    stack.manage("devstore", "throttle", "--shop", domain, *throttle)
    api_call(stack, "PUT", "/api/v1/program", rules.program)
    for campaign in rules.campaigns:
        api_call(stack, "POST", "/api/v1/campaigns", campaign)
    with stack.connect() as conn:
        saved = conn.execute(
            "SELECT max(created_at) FROM earning_program WHERE shop_id = %s", (stack.shop_id,)
        ).fetchone()[0]
    if saved is None or saved > rules.placed_at:
        raise SystemExit(
            f"the program was saved at {saved}, after the orders' placement {rules.placed_at}"
        )
    warmed = 0
    if args.facts == "warm":
        out = stack.manage("devstore", "warm", "--shop", domain, timeout=600)
        warmed = json.loads(out.strip().splitlines()[-1])["cached"]
    return {"catalog": args.catalog, "facts": args.facts, "warmed": warmed}


def admin_api_figures(conn: Any, shop_id: int, domain: str) -> dict[str, int]:
    calls = conn.execute(
        "SELECT coalesce(sum(api_calls), 0) FROM shopify_bridge_devstore WHERE domain = %s",
        (domain,),
    ).fetchone()[0]
    cached = conn.execute(
        "SELECT count(*) FROM shopify_bridge_productfacts WHERE shop_id = %s", (shop_id,)
    ).fetchone()[0]
    return {"admin_api_calls": int(calls), "products_cached": int(cached)}


def run(args: argparse.Namespace) -> int:
    t_begin = time.monotonic()
    load = background_load()
    print(
        f"machine   {os.cpu_count()} cores; busy {load}% of one core before the stack starts"
        + ("  (WARNING: other work on the machine skews the figures)" if load > 20 else ""),
        flush=True,
    )
    config = StackConfig(
        db_name=args.db_name,
        redis_db=args.redis_db,
        own_redis=args.own_redis,
        web_workers=args.web_workers,
        web_worker_class=args.web_worker_class,
        web_threads=args.web_threads,
        celery_workers=args.celery_workers,
        celery_concurrency=args.concurrency,
        celery_prefetch_multiplier=args.prefetch,
        beat=args.beat,
        log_dir=args.log_dir,
        drop_db_on_close=args.drop_db,
    )
    rules: RulesSetup | None = None
    if args.rules:
        products = catalog(args.catalog, args.seed)
        built_at = datetime.now(UTC).replace(microsecond=0)
        rules = RulesSetup(
            products=products,
            program=rules_program(products),
            campaigns=rules_campaigns(built_at),
            placed_at=built_at + PLACEMENT_DELAY,
        )
    with Stack(config) as stack, concurrent.futures.ThreadPoolExecutor(1) as pool:
        host = f"127.0.0.1:{stack.port}"
        shop_domain = config.shop_domain
        if rules is not None:
            # The workers reach the simulator that the stack's own gunicorn serves.
            stack.env["DEVSTORE_ENABLED"] = "true"
            stack.env["SHOPIFY_ADMIN_API_ORIGIN"] = f"{stack.base_url}/devstore/{{shop}}"

        def build() -> tuple[list[Order], list[Order]]:
            measured = make_orders(
                count=args.orders,
                customers=max(1, min(args.customers, args.orders)),
                seed=args.seed,
                secret=config.secret,
                shop_domain=shop_domain,
                order_base=ORDER_BASE,
                customer_base=CUSTOMER_BASE,
                rules=rules,
                products=rules.products[WARMUP_PRODUCTS:] if rules else None,
            )
            warm = make_orders(
                count=args.warmup,
                customers=max(1, args.warmup),
                seed=args.seed + 1,
                secret=config.secret,
                shop_domain=shop_domain,
                order_base=WARMUP_ORDER_BASE,
                customer_base=WARMUP_CUSTOMER_BASE,
                rules=rules,
                products=rules.products[:WARMUP_PRODUCTS] if rules else None,
            )
            return measured, warm

        building = pool.submit(build)  # payloads are built while the stack boots
        stack.start()
        rules_done = install_rules(stack, args, rules) if rules is not None else {}
        orders, warm = building.result()
        t_ready = time.monotonic()
        print(
            f"stack ready in {t_ready - t_begin:.1f} s: {json.dumps(stack.describe())}", flush=True
        )

        conn = stack.connect()
        if warm:
            warm_report = send_all(
                [raw_request(o, host) for o in warm],
                port=stack.port,
                processes=1,
                connections=min(args.clients, 8),
                rate=0,
            )
            bad = [r for r in warm_report.results if r[3] != 200]
            if bad:
                print(f"warm-up failed: {bad[:3]}", flush=True)
            if not wait_drained(
                conn, stack.shop_id, len(warm), idle_timeout=30, overall_timeout=120
            ):
                print("warm-up orders were not all processed", flush=True)
        base_events = sum(event_counts(conn, stack.shop_id).values())

        requests_ = [raw_request(o, host) for o in orders]
        if args.phased:
            for index in range(len(stack.workers)):
                stack.stop_worker(index)
        tasks_before = 0 if args.phased else _tasks_run(stack)
        cpu0 = _cpu_snapshot(stack)
        t0 = time.monotonic()
        report = send_all(
            requests_,
            port=stack.port,
            processes=args.client_procs,
            connections=args.clients,
            rate=args.rate,
        )
        t1 = time.monotonic()
        cpu1 = _cpu_snapshot(stack)
        if args.phased:
            for index in range(len(stack.workers)):
                stack.start_worker(index, wait=False)
            stack.wait_workers_ready()
        drained = wait_drained(
            conn,
            stack.shop_id,
            base_events + len(orders),
            idle_timeout=args.drain_timeout,
            overall_timeout=max(600.0, args.orders / 20),
        )
        t2 = time.monotonic()
        cpu2 = _cpu_snapshot(stack)
        tasks_run = _tasks_run(stack) - tasks_before
        checks = verify(conn, stack.shop_id, orders)
        if rules is not None:
            rules_done.update(admin_api_figures(conn, stack.shop_id, shop_domain))
        conn.close()
        queue_left = stack.queue_length()
        describe = stack.describe()

    return report_results(
        args, describe, orders, report, checks, drained, queue_left, tasks_run,
        intake_cpu=cpu_breakdown(cpu0, cpu1, t1 - t0),
        drain_cpu=cpu_breakdown(cpu1, cpu2, t2 - t1),
        total_cpu=cpu_breakdown(cpu0, cpu2, t2 - t0),
        drain_seconds=t2 - t1,
        wall_seconds=time.monotonic() - t_begin,
        background_load=load,
        rules=rules_done,
    )  # fmt: skip


def report_results(
    args: argparse.Namespace,
    describe: dict[str, Any],
    orders: list[Order],
    report: SendReport,
    checks: dict[str, Any],
    drained: bool,
    queue_left: int,
    tasks_run: int,
    *,
    intake_cpu: dict[str, float],
    drain_cpu: dict[str, float],
    total_cpu: dict[str, float],
    drain_seconds: float,
    wall_seconds: float,
    background_load: float,
    rules: dict[str, Any] | None = None,
) -> int:
    results = report.results
    statuses = Counter(r[3] for r in results)
    accepted = sum(1 for r in results if r[3] == 200 and '"accepted"' in r[4])
    duplicate = sum(1 for r in results if r[3] == 200 and '"duplicate"' in r[4])
    server_errors = sum(n for s, n in statuses.items() if s >= 500)
    client_errors = sum(n for s, n in statuses.items() if 400 <= s < 500)
    transport_errors = statuses.get(-1, 0)
    first_send = min(r[1] for r in results)
    last_answer = max(r[2] for r in results)
    intake_seconds = last_answer - first_send
    latency = percentiles([r[2] - r[1] for r in results if r[3] == 200])
    lag_ledger = percentiles(checks["lag_ledger"])
    lag_processed = percentiles(checks["lag_processed"])
    pipeline_seconds = checks["pipeline_seconds"]
    awarded_orders = len(checks["lag_ledger"])

    ok = (
        drained
        and server_errors == 0
        and client_errors == 0
        and transport_errors == 0
        and accepted + duplicate == len(orders)
        and checks["missing_events"] == 0
        and checks["missing"] == 0
        and checks["mismatched"] == 0
        and checks["doubled"] == 0
        and checks["not_done"] == 0
        and checks["balance_drift"] == 0
    )
    figures = {
        "bench": "webhooks",
        "ok": ok,
        "orders": len(orders),
        "customers": checks["members"],
        "stack": describe,
        "client": {
            "processes": max(1, min(args.client_procs, args.clients)),
            "connections": args.clients,
            "offered_rate": args.rate,
            "tcp_connects": report.connects,
            "retries": report.retries,
            "cpu_seconds": round(report.client_cpu, 2),
            "cpu_percent_of_one_core": round(
                100 * report.client_cpu / max(intake_seconds, 1e-9), 1
            ),
        },
        "accepted": accepted,
        "duplicate": duplicate,
        "http_status": {str(k): v for k, v in sorted(statuses.items())},
        "http_5xx": server_errors,
        "intake_seconds": round(intake_seconds, 3),
        "accepted_per_second": round(accepted / max(intake_seconds, 1e-9), 1),
        "latency_ms": _ms(latency),
        "lag_to_ledger_ms": _ms(lag_ledger),
        "lag_to_processed_ms": _ms(lag_processed),
        "pipeline_seconds": round(pipeline_seconds, 3),
        "pipeline_orders_per_second": round(awarded_orders / max(pipeline_seconds, 1e-9), 1),
        "ledger_span_seconds": round(checks["ledger_span_seconds"], 3),
        "ledger_orders_per_second": round(
            awarded_orders / max(checks["ledger_span_seconds"], 1e-9), 1
        ),
        "phased": args.phased,
        "drain_after_intake_seconds": round(drain_seconds, 3),
        "expected_points": checks["expected_points"],
        "ledger_points": checks["ledger_points"],
        "missing_events": checks["missing_events"],
        "missing": checks["missing"],
        "mismatched": checks["mismatched"],
        "doubled": checks["doubled"],
        "not_done": checks["not_done"],
        "retried_events": checks["retried_events"],
        "balance_drift": checks["balance_drift"],
        "drained": drained,
        "queue_left": queue_left,
        "tasks_run": tasks_run,
        "cpu_percent_intake": intake_cpu,
        "cpu_percent_drain": drain_cpu,
        "cpu_percent_total": total_cpu,
        "background_load_percent": background_load,
        "other_load_percent": max(intake_cpu.get("other", 0.0), drain_cpu.get("other", 0.0)),
        "wall_seconds": round(wall_seconds, 1),
        "rules": rules or None,
    }

    f = figures
    print()
    print(
        f"stack     web {describe['web_workers']}x {describe['web_worker_class']}"
        f"{'/' + str(describe['web_threads']) + ' threads' if describe['web_worker_class'] == 'gthread' else ''}"
        f", celery {describe['celery_workers']}x {describe['celery_pool']} c={describe['celery_concurrency']}"
        f", beat {'on' if describe['beat'] else 'off'}; logs in {describe['log_dir']}"
    )
    c = f["client"]
    print(
        f"client    {c['processes']} processes x {args.clients} connections in all, "
        f"{'offered ' + str(args.rate) + '/s' if args.rate else 'closed loop'}; "
        f"{c['tcp_connects']} TCP connects, {c['cpu_seconds']} CPU s = "
        f"{c['cpu_percent_of_one_core']}% of one core during intake"
    )
    print(
        f"http      {len(results)} sent: {accepted} accepted, {duplicate} duplicate, "
        f"status {f['http_status']}, 5xx {server_errors}"
    )
    lat = f["latency_ms"]
    print(
        f"intake    {f['accepted_per_second']} webhooks/s accepted over {f['intake_seconds']} s; "
        f"answer p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms, max {lat['max']} ms"
    )
    print(
        f"pipeline  {awarded_orders} orders awarded in {f['pipeline_seconds']} s "
        f"(first accepted -> last ledger entry) = {f['pipeline_orders_per_second']} orders/s; "
        f"drain after intake {f['drain_after_intake_seconds']} s"
    )
    print(
        f"awards    {f['ledger_orders_per_second']} orders/s from first to last ledger entry "
        f"({f['ledger_span_seconds']} s)"
        + ("; phased: the workers ran alone, after intake" if args.phased else "")
    )
    for label, key in (("lag", "lag_to_ledger_ms"), ("processed", "lag_to_processed_ms")):
        v = f[key]
        print(
            f"{label:<9} accepted -> {'ledger entry' if label == 'lag' else 'event done'}: "
            f"p50 {v['p50']} ms, p90 {v['p90']} ms, p99 {v['p99']} ms, max {v['max']} ms"
        )
    print(
        f"checks    points expected {f['expected_points']}, in ledger {f['ledger_points']}; "
        f"missing events {f['missing_events']}, missing {f['missing']}, mismatched {f['mismatched']}, "
        f"doubled {f['doubled']}, not done {f['not_done']}, retried {f['retried_events']}, "
        f"balance drift {f['balance_drift']}, drained {drained}, queue left {queue_left}"
    )
    if tasks_run > len(orders):
        print(
            f"          the workers ran {tasks_run} processing tasks for {len(orders)} events: "
            f"{tasks_run - len(orders)} were duplicates (they end as 'skipped')"
        )
    if queue_left and drained:
        print(
            f"          {queue_left} task messages were still queued after every event was done: "
            "duplicates the sweeper enqueued for events that waited longer than its grace "
            "period (they end as 'skipped')"
        )
    for example in checks["examples"]:
        print(f"          {example}")
    if rules:
        print(
            f"rules     20 line rules, 3 campaigns; catalogue of {rules['catalog']} products, "
            f"facts {rules['facts']} ({rules['warmed']} read before the clock); "
            f"{rules['admin_api_calls']} Admin API calls in all, "
            f"{rules['products_cached']} products cached at the end"
        )
    for label, key in (("intake", "cpu_percent_intake"), ("drain", "cpu_percent_drain")):
        print(f"cpu {label:<6}% of one core (2 cores = 200%): {json.dumps(f[key])}")
    noisy = max(intake_cpu.get("other", 0.0), drain_cpu.get("other", 0.0))
    if noisy > 20 or background_load > 20:
        print(
            f"WARNING   other processes used up to {noisy}% of one core during the run "
            f"({background_load}% before it): the throughput figures are low by that much"
        )
    print(f"result    {'OK' if ok else 'FAILED'} in {f['wall_seconds']} s")
    print(json.dumps(figures), flush=True)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    # A plain SIGTERM would skip the stack's cleanup; make it unwind like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
