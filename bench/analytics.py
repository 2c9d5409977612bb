"""Analytics benchmark: how long the program's figures and the what-if replay take for a
shop of 100,000 members and 1,000,000 orders (by default) on PostgreSQL.

    DEBUG=true .venv/bin/python bench/analytics.py
    DEBUG=true .venv/bin/python bench/analytics.py --members 20000 --orders 200000 --runs 3
    DEBUG=true .venv/bin/python bench/analytics.py --members 1000000 --orders 5000000 \
        --ledger 20000000 --no-what-if

It seeds, in bulk SQL, the members (joined over three years), ``--orders`` orders over the
last 13 months (one in ten a guest checkout; some refunded, cancelled or test orders among
them; each with its stored line, as the engine keeps it), each member order's ledger entry,
sign-up points for half the members, redemptions (ledger entries and redemption rows, a
third of the codes used in a later order), expiries, tiers held and tier changes, and
cash-back entries. The program has a version saved after most orders were placed, so the
what-if replays the older orders under the current rules too (its slowest case).

``--ledger`` adds review points (10 each, for random members over the same 13 months) until
the ledger holds that many entries. Then it times the analytics rollups: their first full
build, and an incremental run after 1,000 new member orders (as the beat job would see
them). Then it times, in-process: ``GET /api/v1/analytics`` for the last 30 days (``--runs``
requests: the first and the median; the API reads fresh figures every time), the same for
365 days, the admin's Analytics page (first request, then from its five-minute cache) and
``POST /api/v1/analytics/what-if`` (left out with ``--no-what-if``) over 12 months with 2 points per unit and points-based
tiers, with the process's peak memory before and after it. The last line is one JSON
object with every figure.

It uses its own database (``--db-name``, default ``loyalty_bench_analytics``) on the server
of ``$DATABASE_URL``, dropped and created again at start and left for inspection.
``--reuse`` times an already seeded database again instead: it migrates it, rebuilds the
shop's rollups from nothing (the first build; ``--no-rebuild``: brings them up to date
instead), adds 1,000 more new orders and times the rest as above.

    DEBUG=true .venv/bin/python bench/analytics.py --reuse --no-what-if
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.stack import bench_database_setup  # noqa: E402

DOMAIN = "bench-analytics.myshopify.com"

TIERS = {
    "metric": "points_earned",
    "period": "rolling_12_months",
    "tiers": [
        {"name": "Bronze", "threshold": 0},
        {"name": "Silver", "threshold": 500},
        {"name": "Gold", "threshold": 1500},
    ],
}


def configure(shop: Any) -> dict[str, int]:
    """Rewards (the value of a point) and the tiers, through the services."""
    from loyalty_app.rewards.services import reward_create
    from loyalty_app.tiers.services import tier_program_update

    rewards = [
        {"kind": "fixed_amount", "title": "5.00 off", "value": "5", "points_cost": 500},
        {"kind": "fixed_amount", "title": "10.00 off", "value": "10", "points_cost": 900},
        {"kind": "free_shipping", "title": "Free shipping", "points_cost": 300},
    ]
    ids = [reward_create(shop=shop, data=r, actor="bench").pk for r in rewards]
    tier_program_update(shop=shop, data=TIERS, actor="bench")
    return {"reward_id": ids[0]}


def seed(*, shop_id: int, members: int, orders: int, ledger: int, reward_id: int) -> None:
    from django.db import connection

    per_member = max(orders * 9 // 10 // max(members, 1), 1)
    guests = orders - per_member * members
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO members_member (shop_id, external_id, email, first_name, last_name,
                points_balance, imported_tier, created_at, updated_at)
            SELECT %s, (7300000000 + n)::text, 'shopper' || n || '@example.com', '', '', 0, '',
                   now() - ((n * 37) %% 1095) * interval '1 day', now()
            FROM generate_series(1, %s) AS n
            """,
            [shop_id, members],
        )
        # Orders of members (per_member each, over the last 13 months), then guest orders.
        order_columns = """(shop_id, external_id, name, member_id, currency, has_snapshot,
                source_updated_at, placed_at, eligible_amount, refunded_amount, shipping_amount,
                tax_amount, paid, cancelled, fully_refunded, test, lines, campaigns, first_order,
                points_target, points_awarded, confirmed, revision, created_at, updated_at, tier,
                tier_multiplier)"""
        select = """
            SELECT %(shop)s, ext, '#' || ext, member_id, 'USD', true, placed, placed, amount,
                refunded, 4.90, 0, true, cancelled, false, test,
                jsonb_build_array(jsonb_build_object('id', ext || '1', 'amount', amount::text,
                    'quantity', 1, 'gift_card', false, 'product_id', '6001', 'variant_id', '7001',
                    'sku', 'SKU-' || (n %% 50), 'vendor', 'Demo Roasters')),
                '[]'::jsonb, false,
                live * floor(amount - refunded)::bigint, live * floor(amount - refunded)::bigint,
                true, 1, placed, placed, '', 1
            FROM src
            CROSS JOIN LATERAL (SELECT abs(hashint8(n)::bigint) AS h) hashed
            CROSS JOIN LATERAL (
                SELECT now() - (h %% 395) * interval '1 day'
                             - ((h / 395) %% 86400) * interval '1 second' AS placed,
                       (5 + (h / 7) %% 29500 / 100.0)::numeric(18, 4) AS amount,
                       (h / 11) %% 100 AS roll
            ) f
            CROSS JOIN LATERAL (
                SELECT CASE WHEN f.roll < 5 THEN round(f.amount / 3, 2) ELSE 0 END AS refunded,
                       f.roll BETWEEN 5 AND 6 AS cancelled, f.roll = 7 AS test
            ) s
            CROSS JOIN LATERAL (
                SELECT CASE WHEN s.cancelled OR s.test OR member_id IS NULL THEN 0 ELSE 1 END AS live
            ) l
        """
        cursor.execute(
            f"""
            WITH src AS (
                SELECT m.id AS member_id, (m.id * 1000 + k) AS n,
                       (900000000000 + m.id * 1000 + k)::text AS ext
                FROM members_member m CROSS JOIN generate_series(1, %(per)s) AS k
                WHERE m.shop_id = %(shop)s
            )
            INSERT INTO earning_order {order_columns} {select}
            """,  # noqa: S608 - fixed text; values are parameters
            {"shop": shop_id, "per": per_member},
        )
        cursor.execute(
            f"""
            WITH src AS (
                SELECT NULL::bigint AS member_id, g AS n, (990000000000 + g)::text AS ext
                FROM generate_series(1, %(guests)s) AS g
            )
            INSERT INTO earning_order {order_columns} {select}
            """,  # noqa: S608 - fixed text; values are parameters
            {"shop": shop_id, "guests": max(guests, 0)},
        )
        # The ledger: order points, sign-up points (half the members), a redemption of 500
        # for a quarter of those holding it, expiries for 2%.
        cursor.execute(
            """
            WITH credits AS (
                SELECT member_id, 'order' AS kind, points_awarded AS points,
                       placed_at AS created_at, 'order:' || external_id || ':r1' AS key,
                       'order' AS source_type, external_id AS source_id
                FROM earning_order WHERE shop_id = %(shop)s AND points_awarded > 0
                UNION ALL
                SELECT id, 'action', 100, created_at + interval '1 minute',
                       'action:signup:' || id, 'action', 'signup:' || id
                FROM members_member WHERE shop_id = %(shop)s AND id %% 2 = 0
            ),
            totals AS (
                SELECT member_id, sum(points) AS total, max(created_at) AS last
                FROM credits GROUP BY member_id
            ),
            debits AS (
                SELECT member_id, 'redemption', -500,
                       least(now(), now() - (member_id %% 200) * interval '1 day'),
                       'redemption:' || member_id, 'redemption', member_id::text
                FROM totals WHERE total >= 1000 AND member_id %% 4 = 0
                UNION ALL
                SELECT member_id, 'expiry', -50, least(now(), last + interval '200 days'),
                       'expiry:' || member_id, 'expiry', ''
                FROM totals WHERE total >= 600 AND member_id %% 50 = 1
            ),
            entries AS (SELECT * FROM credits UNION ALL SELECT * FROM debits)
            INSERT INTO ledger_ledgerentry (shop_id, member_id, kind, points, balance_after,
                idempotency_key, source_type, source_id, reason, actor, created_at)
            SELECT %(shop)s, member_id, kind, points,
                   sum(points) OVER (PARTITION BY member_id ORDER BY created_at, key
                                     ROWS UNBOUNDED PRECEDING),
                   key, source_type, source_id, '', 'bench', created_at
            FROM entries ORDER BY created_at
            """,
            {"shop": shop_id},
        )
        # Up to ``--ledger`` entries: review points (10 each) for random members over the
        # last 13 months. Their balance_after is not kept (nothing the figures read).
        cursor.execute(
            "SELECT COUNT(*), MIN(id) FROM ledger_ledgerentry WHERE shop_id = %s", [shop_id]
        )
        written, _ = cursor.fetchone()
        cursor.execute("SELECT MIN(id) FROM members_member WHERE shop_id = %s", [shop_id])
        (first_member,) = cursor.fetchone()
        if ledger > written:
            cursor.execute(
                """
                INSERT INTO ledger_ledgerentry (shop_id, member_id, kind, points, balance_after,
                    idempotency_key, source_type, source_id, reason, actor, created_at)
                SELECT %(shop)s, %(first)s + (g %% %(members)s), 'action', 10, 0,
                       'action:review:' || g, 'action', 'review:' || g, '', 'bench',
                       now() - (abs(hashint8(g)) %% (395 * 86400)) * interval '1 second'
                FROM generate_series(1, %(extra)s) AS g
                """,
                {
                    "shop": shop_id,
                    "first": first_member,
                    "members": members,
                    "extra": ledger - written,
                },
            )
        cursor.execute(
            """
            UPDATE members_member m SET points_balance = t.total
            FROM (SELECT member_id, sum(points) AS total FROM ledger_ledgerentry
                  WHERE shop_id = %s GROUP BY member_id) t
            WHERE m.id = t.member_id
            """,
            [shop_id],
        )
        # Redemption rows for the redemption entries; a third of the codes used in the
        # member's next order after it.
        cursor.execute(
            """
            INSERT INTO rewards_redemption (shop_id, member_id, reward_id, kind, title, points,
                value, currency, code, status, used_order_id, used_at, delivery_error,
                points_returned, idempotency_key, created_at, issued_at, updated_at, actor,
                fulfilment_by, fulfilment_reason)
            SELECT %(shop)s, l.member_id, %(reward)s, 'fixed_amount', '5.00 off', 500, 5, 'USD',
                   'BENCH-' || l.member_id,
                   CASE WHEN nxt.external_id IS NOT NULL THEN 'used' ELSE 'issued' END,
                   COALESCE(nxt.external_id, ''), nxt.placed_at, '', 0,
                   'bench:' || l.member_id, l.created_at, l.created_at, now(), 'bench', '', ''
            FROM ledger_ledgerentry l
            LEFT JOIN LATERAL (
                SELECT o.external_id, o.placed_at FROM earning_order o
                WHERE l.member_id %% 3 = 0 AND o.member_id = l.member_id
                  AND o.placed_at > l.created_at
                ORDER BY o.placed_at LIMIT 1
            ) nxt ON true
            WHERE l.shop_id = %(shop)s AND l.kind = 'redemption'
            """,
            {"shop": shop_id, "reward": reward_id},
        )
        # Tiers held (from the points of the last 12 months), and one change event each.
        cursor.execute(
            """
            INSERT INTO tiers_membertier (shop_id, member_id, tier, since, metric_value,
                retained_until, previous_tier, qualifying_order, program_version, revision,
                evaluated_at)
            SELECT %(shop)s, id, CASE WHEN points_balance >= 1500 THEN 'Gold'
                                      WHEN points_balance >= 500 THEN 'Silver' ELSE 'Bronze' END,
                   now() - (id %% 300) * interval '1 day', points_balance, NULL, '', '', 1, 1, now()
            FROM members_member WHERE shop_id = %(shop)s
            """,
            {"shop": shop_id},
        )
        cursor.execute(
            """
            INSERT INTO tiers_tierevent (shop_id, member_id, revision, from_tier, to_tier, reason,
                metric_value, program_version, order_id, entry_reward, actor, created_at)
            SELECT shop_id, member_id, 1, '', tier, 'qualified', metric_value, 1, '', '{}'::jsonb,
                   'bench', since
            FROM tiers_membertier WHERE shop_id = %(shop)s
            """,
            {"shop": shop_id},
        )
        # Cash-back of 1% on the members' orders of the last 60 days.
        cursor.execute(
            """
            INSERT INTO cashback_cashbackentry (shop_id, member_id, order_external_id, kind,
                amount, currency, rate, tier_name, idempotency_key, reason, created_at)
            SELECT shop_id, member_id, external_id, 'credit',
                   round((eligible_amount - refunded_amount) / 100, 2), 'USD', 1, '',
                   'cashback:' || external_id, '', placed_at
            FROM earning_order
            WHERE shop_id = %(shop)s AND member_id IS NOT NULL AND points_awarded > 0
              AND placed_at > now() - interval '60 days'
              AND round((eligible_amount - refunded_amount) / 100, 2) > 0
            """,
            {"shop": shop_id},
        )
        cursor.execute("VACUUM ANALYZE")


def new_orders(*, shop_id: int, count: int, tag: str) -> None:
    """``count`` member orders placed now, each with its ledger entry (50 points), as
    the engine writes them between two runs of the rollup job. ``tag`` keeps the order
    numbers of one run apart from an earlier run's on a reused database."""
    from django.db import connection

    prefix = f"new-{tag}-"

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH m AS (
                SELECT id FROM members_member WHERE shop_id = %(shop)s ORDER BY id DESC
                LIMIT %(count)s
            ), o AS (
                INSERT INTO earning_order (shop_id, external_id, name, member_id, currency,
                    has_snapshot, source_updated_at, placed_at, eligible_amount,
                    refunded_amount, shipping_amount, tax_amount, paid, cancelled,
                    fully_refunded, test, lines, campaigns, first_order, points_target,
                    points_awarded, confirmed, revision, created_at, updated_at, tier,
                    tier_multiplier)
                SELECT %(shop)s, %(prefix)s || id, '#' || %(prefix)s || id, id, 'USD', true, now(), now(),
                       50, 0, 0, 0, true, false, false, false, '[]'::jsonb, '[]'::jsonb,
                       false, 50, 50, true, 1, now(), now(), '', 1
                FROM m RETURNING member_id, external_id
            )
            INSERT INTO ledger_ledgerentry (shop_id, member_id, kind, points, balance_after,
                idempotency_key, source_type, source_id, reason, actor, created_at)
            SELECT %(shop)s, member_id, 'order', 50, 0, 'order:' || external_id || ':r1',
                   'order', external_id, '', 'bench', now()
            FROM o
            """,
            {"shop": shop_id, "count": count, "prefix": prefix},
        )
        cursor.execute(
            "UPDATE members_member SET points_balance = points_balance + 50 WHERE id IN ("
            " SELECT member_id FROM earning_order WHERE shop_id = %s"
            " AND external_id LIKE %s)",
            [shop_id, prefix + "%"],
        )


def rules_since_a_month_ago(shop: Any) -> None:
    """The rules in force since a month ago: older orders were placed under the default."""
    from django.db import connection

    from loyalty_app.earning.services import program_update

    version, _ = program_update(shop=shop, data={"points_per_unit": "1"}, actor="bench")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE earning_program SET created_at = now() - interval '30 days' WHERE id = %s",
            [version.pk],
        )
        cursor.execute(
            "UPDATE earning_order SET program_id = %s WHERE shop_id = %s "
            "AND placed_at >= now() - interval '30 days'",
            [version.pk, shop.pk],
        )
        cursor.execute("VACUUM ANALYZE earning_order")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check(response: Any) -> None:
    if response.status_code != 200:
        raise SystemExit(f"HTTP {response.status_code}: {response.content[:500]!r}")


def timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def admin_page_and_what_if(api: Any, shop: Any, *, months: int) -> dict[str, Any]:
    """The admin's Analytics page (first, then cached) and the what-if replay."""
    from django.test import Client

    from shopify_bridge.embedded import session_token_mint

    admin = Client()
    page = []
    for _ in range(2):
        id_token = session_token_mint(shop_domain=shop.domain, user_id="1")
        ms, response = timed(
            lambda t=id_token: admin.get("/app/analytics/", {"shop": shop.domain, "id_token": t})
        )
        check(response)
        page.append(round(ms, 1))
    print(f"admin Analytics page: first {page[0]:.0f} ms, cached {page[1]:.0f} ms")

    before = peak_rss_mb()
    ms, response = timed(
        lambda: api.post(
            "/api/v1/analytics/what-if",
            json.dumps({"program": {"points_per_unit": "2"}, "tiers": TIERS, "months": months}),
            content_type="application/json",
        )
    )
    check(response)
    replay = response.json()
    after = peak_rss_mb()
    print(
        f"POST /api/v1/analytics/what-if ({months} months): {ms / 1000:.1f} s for "
        f"{replay['orders']:,} orders; points {replay['current']['points_issued']:,} now, "
        f"{replay['proposed']['points_issued']:,} proposed; peak memory {before:.0f} MB "
        f"before, {after:.0f} MB after"
    )
    return {
        "admin_page_ms": {"first": page[0], "cached": page[1]},
        "what_if": {
            "months": months,
            "seconds": round(ms / 1000, 1),
            "orders": replay["orders"],
            "orders_per_s": round(replay["orders"] / (ms / 1000)),
            "peak_rss_mb_before": round(before),
            "peak_rss_mb_after": round(after),
            "current_points": replay["current"]["points_issued"],
            "proposed_points": replay["proposed"]["points_issued"],
        },
    }


def breakdown(shop: Any) -> dict[str, float]:
    """Each part of the default report (the last 30 days, and the headline figures of the
    30 days before) timed once, warm, as ``selectors.report`` runs them: ms per part."""
    from django.db import connection, transaction

    from loyalty_app.analytics import selectors as s
    from loyalty_app.analytics.apis import period_of

    period = period_of(shop, None, None)
    previous = period.previous()
    parts: dict[str, Any] = {
        "members_counts": lambda: s._members_counts_rolled(shop=shop, period=period),
        "buyers": lambda: s.buyers_rolled(shop=shop, period=period),
        "buyers_previous": lambda: s.buyers_rolled(shop=shop, period=previous, lifetime=False),
        "points": lambda: s.points_rolled(shop=shop, period=period),
        "points_per_day": lambda: s.points_per_day_rolled(shop=shop, period=period),
        "members_per_day": lambda: s.members_per_day(shop=shop, period=period),
        "revenue_per_day": lambda: s.revenue_per_day_rolled(shop=shop, period=period),
        "guest_orders": lambda: s.guest_orders_rolled(shop=shop, period=period),
        "points_pending": lambda: s.points_pending(shop=shop),
        "point_value": lambda: s.point_value(shop=shop),
        "redemptions_by_reward": lambda: s.redemptions_by_reward(shop=shop, period=period),
        "code_orders": lambda: s.code_orders(shop=shop, period=period),
        "coupon_return": lambda: s.coupon_return(shop=shop, period=period),
        "tiers": lambda: s.tiers(shop=shop, period=period, members_total=0),
        "cashback": lambda: s.cashback_rolled(shop=shop, period=period),
    }
    timings = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        for name, call in parts.items():
            ms, _ = timed(call)
            timings[name] = round(ms, 1)
    print(
        "parts of the 30-day report (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items())
    )
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument(
        "--ledger", type=int, default=0, help="ledger entries in all (review points added)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed requests of the figures")
    parser.add_argument(
        "--what-if",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time the what-if replay and the admin page too",
    )
    parser.add_argument("--months", type=int, default=12, help="months the what-if replays")
    parser.add_argument("--db-name", default="loyalty_bench_analytics")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the seeded database again: migrate, rebuild the rollups, no new seed",
    )
    parser.add_argument(
        "--rebuild",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --reuse: rebuild the rollups from nothing (--no-rebuild: bring them up "
        "to date incrementally, so only the refresh after 1,000 orders and the reads are timed)",
    )
    args = parser.parse_args()

    bench_database_setup(args.db_name, fresh=not args.reuse)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from loyalty_app.earning.models import Order, Program
    from loyalty_app.ledger.models import LedgerEntry
    from loyalty_app.members.models import Member
    from loyalty_app.rewards.models import Redemption
    from loyalty_app.shops.services import shop_create
    from shopify_bridge.devstore.services import devstore_install

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    settings.DEBUG = False
    if args.reuse:
        from loyalty_app.analytics.models import RollupWatermark
        from loyalty_app.shops.models import Shop
        from loyalty_app.shops.services import api_token_issue

        shop = Shop.objects.get(domain=DOMAIN)
        token = api_token_issue(shop=shop, name="bench")
        if args.rebuild:
            # The rollups are rebuilt from nothing: the first build is timed again.
            RollupWatermark.objects.filter(shop=shop).delete()
        print(f"migrated the seeded database in {time.perf_counter() - started:.1f} s")
    else:
        created = shop_create(domain=DOMAIN)
        shop, token = created.shop, created.api_token
        devstore_install(shop=shop)
        configured = configure(shop)
        seed(
            shop_id=shop.pk,
            members=args.members,
            orders=args.orders,
            ledger=args.ledger,
            reward_id=configured["reward_id"],
        )
        rules_since_a_month_ago(shop)
    counts = {
        "members": Member.objects.filter(shop=shop).count(),
        "orders": Order.objects.filter(shop=shop).count(),
        "guest_orders": Order.objects.filter(shop=shop, member__isnull=True).count(),
        "ledger_entries": LedgerEntry.objects.filter(shop=shop).count(),
        "redemptions": Redemption.objects.filter(shop=shop).count(),
        "program_versions": Program.objects.filter(shop=shop).count(),
    }
    seconds = time.perf_counter() - started
    print(
        f"{'found' if args.reuse else 'seeded'} {counts['members']:,} members, {counts['orders']:,} orders "
        f"({counts['guest_orders']:,} guest), {counts['ledger_entries']:,} ledger entries, "
        f"{counts['redemptions']:,} redemptions in {seconds:.1f} s "
        f"(database {args.db_name}, PostgreSQL {connection.pg_version})"
    )

    # The rollups: the first full build, then an incremental run after 1,000 new orders.
    from loyalty_app.analytics.services import rollups_refresh

    build_ms, built = timed(lambda: rollups_refresh(shop=shop))
    new_orders(shop_id=shop.pk, count=1000, tag=str(int(time.time())))
    step_ms, stepped = timed(lambda: rollups_refresh(shop=shop))
    rollups = {
        "full_build_s": round(build_ms / 1000, 1),
        "full_build_members": built.members,
        "full_build_days": built.days,
        "after_1000_orders_ms": round(step_ms, 1),
        "after_1000_orders_members": stepped.members,
        "after_1000_orders_days": stepped.days,
    }
    print(
        f"rollups: {'first build' if built.full else 'catch-up run'} {build_ms / 1000:.1f} s"
        f" ({built.members:,} members, "
        f"{built.days:,} days); after 1,000 new orders {step_ms:.0f} ms "
        f"({stepped.members:,} members, {stepped.days:,} days)"
    )

    api = Client(headers={"Authorization": f"Bearer {token}"})
    figures: dict[str, Any] = {}
    for label, params in (("30 days", {}), ("365 days", {"from": "", "to": ""})):
        if params:
            from datetime import timedelta

            from loyalty_app.common.time import now

            today = now().date()
            params = {"from": str(today - timedelta(days=364)), "to": str(today)}
        timings = []
        for _ in range(args.runs):
            ms, response = timed(lambda p=params: api.get("/api/v1/analytics", p))
            check(response)
            timings.append(ms)
        body = response.json()
        figures[label] = {
            "first_ms": round(timings[0], 1),
            "median_ms": round(statistics.median(timings), 1),
            "customers": body["program"]["customers"],
            "points_issued": body["points"]["issued"],
            "liability": body["points"]["liability"],
        }
        print(
            f"GET /api/v1/analytics ({label}): first {timings[0]:.0f} ms, median "
            f"{statistics.median(timings):.0f} ms of {args.runs}; {body['program']['customers']:,} "
            f"customers, {body['points']['issued']:,} points issued"
        )

    result: dict[str, Any] = {
        "bench": "analytics",
        **counts,
        ("migrate_s" if args.reuse else "seed_s"): round(seconds, 1),
        "rollups": rollups,
        "analytics": figures,
        "parts_ms": breakdown(shop),
    }
    if args.what_if:
        result.update(admin_page_and_what_if(api, shop, months=args.months))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
