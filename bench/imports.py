"""Balance-import benchmark: a generated CSV of carried-over balances (100,000 lines by
default) through the import service on PostgreSQL, then the same file again (every line
must come out unchanged), then a corrected file (only the corrections are written).

    DEBUG=true .venv/bin/python bench/imports.py                       # 100,000 lines
    DEBUG=true .venv/bin/python bench/imports.py --lines 20000 --api   # + through the HTTP API

The file mixes customer ids (some as gid://shopify/Customer/N), emails, both, tiers, and
about 1% bad lines of every kind the validator knows. A share of the customers are
members already, with points earned here, so the import meets real rows and the email
lookups meet customers' emails. It prints lines/s and seconds for each run, and checks
that every member's cached balance equals their ledger sum, that the imported points
in the ledger equal the file's, and that the re-import wrote nothing. The last line is
one JSON object with every figure; the exit status is 1 if a check failed.

It uses its own database (``--db-name``, default ``loyalty_bench_imports``) on the server
of ``$DATABASE_URL``, dropped and created again at start.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.stack import bench_database_setup  # noqa: E402

CUSTOMER_BASE = 7_300_000_000
TIERS = ["Bronze", "Silver", "Gold", "Platinum"]


def make_csv(
    *, lines: int, existing: int, bad_share: float, seed: int
) -> tuple[bytes, dict[str, Any]]:
    """The import file and what a correct import of it must give."""
    rng = random.Random(seed)
    out = ["Customer ID,Email,Points,VIP Tier,First Name"]
    expected: dict[str, int] = {}  # customer id or email -> points
    bad = 0
    for n in range(lines):
        customer = CUSTOMER_BASE + n
        email = f"shopper{n}@example.com"
        points = rng.randrange(0, 50_000)
        tier = rng.choice(TIERS) if rng.random() < 0.3 else ""
        roll = rng.random()
        if roll < bad_share:
            bad += 1
            kind = rng.randrange(6)
            if kind == 0:
                out.append(f"{customer},,{-points - 1},,Neg")
            elif kind == 1:
                out.append(f"{customer},,{points}.5,,Dec")
            elif kind == 2:
                out.append(f",not-an-email-{n},{points},,Bad")
            elif kind == 3:
                out.append(f"{CUSTOMER_BASE + max(n - 1, 0)},,{points},,Dup")
            elif kind == 4:
                out.append(f"7.3E+09,,{points},,Sci")
            else:
                out.append(f"{customer},,{points},{'T' * 101},Tier")
            continue
        if roll < 0.60:  # customer id only; a tenth as Shopify's GraphQL id
            ident = f"gid://shopify/Customer/{customer}" if n % 10 == 0 else str(customer)
            out.append(f"{ident},,{points},{tier},Ada")
            expected[str(customer)] = points
        elif roll < 0.85:  # email only
            out.append(f",{email},{points},{tier},Eve")
            expected[email] = points
        else:  # both
            out.append(f"{customer},{email},{points},{tier},Bob")
            expected[str(customer)] = points
    # A duplicate of line 2's customer is only bad if line 2 itself was valid; count it
    # from the report instead of guessing here.
    return ("\n".join(out) + "\n").encode(), {
        "expected": expected,
        "bad_generated": bad,
        "existing": existing,
    }


def seed_members(*, shop: Any, existing: int, seed: int) -> None:
    """Members who joined before the import: customers with emails and points earned here.

    Written in bulk straight to the tables for speed; entries and balances agree (each
    member's one entry is their whole balance), which the final check verifies anyway.
    """
    from loyalty_app.common.time import now
    from loyalty_app.ledger.models import LedgerEntry
    from loyalty_app.members.models import Member

    rng = random.Random(seed + 1)
    moment = now()
    chosen = rng.sample(range(0, max(existing * 4, 1)), existing)
    members = [
        Member(
            shop=shop,
            external_id=str(CUSTOMER_BASE + n),
            email=f"shopper{n}@example.com",
            points_balance=rng.randrange(1, 500),
        )
        for n in chosen
    ]
    Member.objects.bulk_create(members, batch_size=2000)
    created = Member.objects.filter(shop=shop).values_list("pk", "points_balance")
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                shop=shop,
                member_id=pk,
                kind="order",
                points=balance,
                balance_after=balance,
                idempotency_key=f"bench-seed:{pk}",
                source_type="order",
                source_id=f"seed-{pk}",
                created_at=moment,
            )
            for pk, balance in created
        ],
        batch_size=2000,
    )


def run_service(shop: Any, content: bytes, *, batch_size: int, name: str) -> dict[str, Any]:
    from loyalty_app.imports.services import import_job_create, import_job_run

    started = time.perf_counter()
    job, _ = import_job_create(
        shop=shop, content=content, filename=name, created_by="bench", enqueue=False
    )
    stored = time.perf_counter()
    job = import_job_run(job_id=job.pk, batch_size=batch_size)
    finished = time.perf_counter()
    return _figures(job, started, stored, finished)


def run_api(shop_token: str, content: bytes, *, name: str) -> dict[str, Any]:
    """POST /api/v1/imports (multipart) through Django's full request path; the Celery
    task runs in-process (eager) right after the job's commit, inside the request."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from loyalty_app.imports.models import ImportJob

    client = Client(headers={"Authorization": f"Bearer {shop_token}"})
    started = time.perf_counter()
    response = client.post(
        "/api/v1/imports", data={"file": SimpleUploadedFile(name, content, "text/csv")}
    )
    finished = time.perf_counter()
    if response.status_code != 202:
        raise SystemExit(f"the API answered {response.status_code}: {response.content[:300]!r}")
    job = ImportJob.objects.defer("content").get(pk=response.json()["id"])
    return _figures(job, started, started, finished)


def _figures(job: Any, started: float, stored: float, finished: float) -> dict[str, Any]:
    seconds = finished - started
    return {
        "job": job.pk,
        "status": job.status,
        "lines": job.lines,
        "imported": job.imported,
        "unchanged": job.unchanged,
        "rejected": job.rejected,
        "members_created": job.members_created,
        "points_total": job.points_total,
        "points_written": job.points_written,
        "seconds": round(seconds, 2),
        "store_seconds": round(stored - started, 2),
        "lines_per_second": round(job.lines / seconds) if seconds else None,
    }


def ledger_check(shop: Any) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        # Per member through the member index, so the plan does not hang on statistics
        # (the benchmark's tables have just been filled).
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE m.points_balance <> (
                       SELECT coalesce(sum(e.points), 0) FROM ledger_ledgerentry e
                       WHERE e.member_id = m.id)),
                   count(*)
            FROM members_member m WHERE m.shop_id = %s
            """,
            [shop.pk],
        )
        mismatched, members = cursor.fetchone()
        cursor.execute(
            "SELECT coalesce(sum(points), 0) FROM ledger_ledgerentry "
            "WHERE shop_id = %s AND kind = 'import'",
            [shop.pk],
        )
        imported = cursor.fetchone()[0]
        # Every entry's balance_after is the running sum of its member's entries so far.
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT balance_after,
                       sum(points) OVER (PARTITION BY member_id ORDER BY id) AS running
                FROM ledger_ledgerentry WHERE shop_id = %s
            ) entries
            WHERE balance_after <> running
            """,
            [shop.pk],
        )
        running_wrong = cursor.fetchone()[0]
    return {
        "members": int(members),
        "balance_mismatches": int(mismatched),
        "balance_after_mismatches": int(running_wrong),
        "imported_points_in_ledger": int(imported),
    }


def corrected(content: bytes, *, share: float, seed: int) -> tuple[bytes, int]:
    """The same file with ``share`` of its valid lines' points changed."""
    rng = random.Random(seed + 2)
    lines = content.decode().split("\n")
    changed = 0
    for index in range(1, len(lines)):
        parts = lines[index].split(",")
        if len(parts) != 5 or not parts[2].isdigit() or rng.random() >= share:
            continue
        if parts[4] in {"Neg", "Dec", "Bad", "Dup", "Sci", "Tier"}:
            continue
        parts[2] = str(int(parts[2]) + rng.choice([-1, 1]) * rng.randrange(1, 100))
        if int(parts[2]) < 0:
            continue
        lines[index] = ",".join(parts)
        changed += 1
    return "\n".join(lines).encode(), changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument(
        "--existing", type=float, default=0.2, help="share of customers who are members already"
    )
    parser.add_argument("--bad", type=float, default=0.01, help="share of bad lines")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="lines per transaction (default: the service's)",
    )
    parser.add_argument(
        "--api", action="store_true", help="also import the file through POST /api/v1/imports"
    )
    parser.add_argument("--db-name", default="loyalty_bench_imports")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-analyze", action="store_true", help="skip ANALYZE after seeding the members"
    )
    args = parser.parse_args()

    bench_database_setup(args.db_name)
    from django.core.management import call_command
    from django.db import connection

    from loyalty_app.imports.services import BATCH_SIZE
    from loyalty_app.shops.services import shop_create

    call_command("migrate", verbosity=0)
    batch_size = args.batch_size or BATCH_SIZE
    existing = int(args.lines * args.existing)
    shop = shop_create(domain="bench-imports.myshopify.com").shop
    seed_members(shop=shop, existing=existing, seed=args.seed)

    def analyze() -> None:
        # What autovacuum does between two uploads on a production server (the benchmark
        # machine may run with it off): give the planner statistics of the grown tables.
        if not args.no_analyze:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

    analyze()
    content, truth = make_csv(
        lines=args.lines, existing=existing, bad_share=args.bad, seed=args.seed
    )
    print(
        f"file: {args.lines:,} lines, {len(content) / 1e6:.1f} MB; {existing:,} customers are "
        f"members already; batches of {batch_size:,} lines; database {args.db_name}"
    )

    results: dict[str, Any] = {"bench": "imports", "lines": args.lines, "batch_size": batch_size}
    first = run_service(shop, content, batch_size=batch_size, name="first.csv")
    print(
        f"first import:  {first['seconds']:7.2f} s  {first['lines_per_second']:>7,} lines/s  "
        f"imported {first['imported']:,}, unchanged {first['unchanged']:,}, rejected "
        f"{first['rejected']:,}, members created {first['members_created']:,} "
        f"(storing the file: {first['store_seconds']} s)"
    )
    analyze()
    again = run_service(shop, content, batch_size=batch_size, name="again.csv")
    print(
        f"same file:     {again['seconds']:7.2f} s  {again['lines_per_second']:>7,} lines/s  "
        f"imported {again['imported']:,}, unchanged {again['unchanged']:,}, points written "
        f"{again['points_written']:,}"
    )
    fixed, changed = corrected(content, share=0.01, seed=args.seed)
    correction = run_service(shop, fixed, batch_size=batch_size, name="corrected.csv")
    print(
        f"corrected:     {correction['seconds']:7.2f} s  {correction['lines_per_second']:>7,} "
        f"lines/s  imported {correction['imported']:,} (lines changed: {changed:,}), "
        f"points written {correction['points_written']:,}"
    )
    check = ledger_check(shop)
    results.update(first=first, again=again, corrected=correction, check=check)

    failures = []
    if (
        first["status"] != "done"
        or first["imported"] + first["unchanged"] + first["rejected"] != args.lines
    ):
        failures.append("the first import did not account for every line")
    if first["rejected"] < truth["bad_generated"] * 0.8:
        failures.append("fewer rejected lines than bad lines generated")
    if again["imported"] != 0 or again["points_written"] != 0:
        failures.append("the same file again changed something")
    if again["unchanged"] != first["imported"] + first["unchanged"]:
        failures.append("the same file again did not find every valid line unchanged")
    if correction["imported"] != changed:
        failures.append(f"the corrected file changed {correction['imported']} lines, not {changed}")
    if check["balance_mismatches"] or check["balance_after_mismatches"]:
        failures.append("cached balances differ from the ledger")
    if check["imported_points_in_ledger"] != correction["points_total"]:
        failures.append("the ledger's imported points differ from the corrected file's")

    if args.api:
        api_shop = shop_create(domain="bench-imports-api.myshopify.com")
        via_api = run_api(api_shop.api_token, content, name="api.csv")
        via_api_again = run_api(api_shop.api_token, content, name="api-again.csv")
        print(
            f"through the API: {via_api['seconds']:7.2f} s  {via_api['lines_per_second']:>7,} "
            f"lines/s; same file again {via_api_again['seconds']:.2f} s "
            f"(imported {via_api_again['imported']})"
        )
        results.update(api=via_api, api_again=via_api_again, api_check=ledger_check(api_shop.shop))
        if via_api_again["imported"] or results["api_check"]["balance_mismatches"]:
            failures.append("the API import did not hold")

    print(
        f"checks: {check['members']:,} members, balance mismatches "
        f"{check['balance_mismatches']}, balance_after mismatches "
        f"{check['balance_after_mismatches']}, imported points in the ledger "
        f"{check['imported_points_in_ledger']:,} (file: {correction['points_total']:,})"
    )
    results["failures"] = failures
    for failure in failures:
        print(f"FAILED: {failure}")
    print(json.dumps(results))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
