"""Tier re-evaluation benchmark: how long the background job that follows a change of a
shop's tier definition takes for a shop of 1,000,000 members (by default) on PostgreSQL.

    DEBUG=true .venv/bin/python bench/tiers_reevaluate.py
    DEBUG=true .venv/bin/python bench/tiers_reevaluate.py --members 100000

It seeds, in bulk SQL, the members, about ``--orders`` orders each over the last three
years and their ledger entries (``bench/tiers_preview.py``'s seed), then times two runs of
``tiers.services.tier_evaluation_run``, as a worker runs them:

1. ``first``: the shop defines its tiers (amount spent, calendar year, retention; an entry
   reward for the top tier): every member who qualifies gets a ``MemberTier`` row, a
   ``TierEvent``, an outbox call for the shop's tags and metafields, and the top tier's
   entry points in the ledger;
2. ``change``: the middle tier's threshold is lowered: only the members it moves up are
   written (a raised threshold moves nobody down before their retention ends);

and a third run of the second version's walk (``rerun``), which must change nothing. The
outbox's calls go to an in-memory broker (nothing is sent). The last line is one JSON
object with every figure: members per second and the total time of each run.

It uses its own database (``--db-name``, default ``loyalty_bench_reevaluate``) on the
server of ``$DATABASE_URL``, dropped and created again at start.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.stack import bench_database_setup  # noqa: E402

FIRST: dict[str, Any] = {
    "metric": "amount_spent",
    "period": "calendar_year",
    "retention": True,
    "tiers": [
        {"name": "Silver", "threshold": "100", "customer_tag": "vip-silver"},
        {"name": "Gold", "threshold": "400", "customer_tag": "vip-gold"},
        {
            "name": "Platinum",
            "threshold": "900.50",
            "customer_tag": "vip-platinum",
            "entry_reward": {"points": 500},
        },
    ],
}
CHANGED: dict[str, Any] = {
    **FIRST,
    "tiers": [FIRST["tiers"][0], {**FIRST["tiers"][1], "threshold": "350"}, FIRST["tiers"][2]],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=3, help="orders per member on average")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--db-name", default="loyalty_bench_reevaluate")
    args = parser.parse_args()

    # No Redis: tasks go to Celery's in-memory broker and are not run; the job is run
    # here, as a worker would, and the outbox's calls wait in the broker.
    bench_database_setup(args.db_name, eager=False)
    from django.core.management import call_command
    from django.db import connection

    from bench.tiers_preview import seed
    from loyalty_app.earning.models import Order
    from loyalty_app.ledger.models import LedgerEntry
    from loyalty_app.members.models import Member
    from loyalty_app.shops.services import shop_create
    from loyalty_app.tiers.models import MemberTier, TierEvaluationJob, TierEvent
    from loyalty_app.tiers.services import tier_evaluation_run, tier_program_update
    from shopify_bridge.models import AdminApiCall

    call_command("migrate", verbosity=0)
    shop = shop_create(domain="bench-reevaluate.myshopify.com").shop
    started = time.perf_counter()
    seed(shop_id=shop.pk, members=args.members, orders=args.orders)
    counts = {
        "members": Member.objects.filter(shop=shop).count(),
        "orders": Order.objects.filter(shop=shop).count(),
    }
    print(
        f"seeded {counts['members']:,} members, {counts['orders']:,} orders "
        f"in {time.perf_counter() - started:.1f} s "
        f"(database {args.db_name}, PostgreSQL {connection.pg_version})",
        flush=True,
    )

    def run(label: str, job_id: int) -> dict[str, Any]:
        events_before = TierEvent.objects.filter(shop=shop).count()
        t0 = time.perf_counter()
        job = tier_evaluation_run(job_id=job_id, batch_size=args.batch_size)
        seconds = time.perf_counter() - t0
        if job is None or job.status != "done":
            raise SystemExit(f"{label}: the job did not finish: {job}")
        figures = {
            "seconds": round(seconds, 1),
            "members_per_second": round(job.processed / seconds),
            "processed": job.processed,
            "changed": job.changed,
            "events": TierEvent.objects.filter(shop=shop).count() - events_before,
        }
        print(f"{label}: {json.dumps(figures)}", flush=True)
        return figures

    results: dict[str, Any] = {"bench": "tiers_reevaluate", **counts, "runs": {}}
    program, _ = tier_program_update(shop=shop, data=FIRST, actor="bench")
    first = TierEvaluationJob.objects.get(shop=shop, program=program)
    results["runs"]["first"] = run("first", first.pk)

    program, _ = tier_program_update(shop=shop, data=CHANGED, actor="bench")
    change = TierEvaluationJob.objects.get(shop=shop, program=program)
    results["runs"]["change"] = run("change", change.pk)

    # The same version's walk again, from the start: nothing may change.
    TierEvaluationJob.objects.filter(pk=change.pk).update(
        status="pending", cursor=0, processed=0, changed=0
    )
    results["runs"]["rerun"] = run("rerun", change.pk)

    results["member_tiers"] = MemberTier.objects.filter(shop=shop).exclude(tier=None).count()
    results["outbox_calls"] = AdminApiCall.objects.filter(shop=shop, kind="tier_sync").count()
    results["entry_rewards"] = LedgerEntry.objects.filter(shop=shop, kind="tier_reward").count()
    results["batch_size"] = args.batch_size
    ok = results["runs"]["rerun"]["changed"] == 0 and results["runs"]["rerun"]["events"] == 0
    results["ok"] = ok
    print(json.dumps(results))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
