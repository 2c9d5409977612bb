"""The points calculation alone: orders per second on one core, no database, no Django.

    .venv/bin/python bench/calculation.py               # ~3 s per scenario
    .venv/bin/python bench/calculation.py --seconds 5

The order has 10 lines (tags, collections, vendors, product types; one gift card and one
partly refunded line) under 20 line rules (multipliers and exclusions on every field) and
3 campaigns in force (a 2x weekend, 3x on one collection, +100 on a first order). Scenarios:

- ``rules``: ``order_breakdown`` as the award job calls it (the headline figure);
- ``rules+explain``: the same plus ``as_dict()``, what the preview endpoint returns;
- ``default``: ``order_breakdown`` with ``EarnRules()`` and no campaign, for comparison.

The last line is one JSON object: ``{"bench": "calculation", ...}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from loyalty_app.earning.rules import (  # noqa: E402
    Campaign,
    EarnRules,
    LineMatch,
    LineRule,
    OrderContext,
    RuleLine,
    order_breakdown,
)

D = Decimal
PLACED_AT = datetime(2025, 6, 14, 15, 30, tzinfo=UTC)
# Worked by hand: weighted lines 915.31 (6x, 4x, 9x, 8x, 3x lines; five excluded or gift card),
# x 219.08/224.08 for the amount-only refund, + shipping 7.5 x 219.08/244.08, x 1.5 -> 1352.43,
# down to 1352, + 100 first-order bonus. Checked before timing: a fast wrong answer is no result.
EXPECTED_POINTS = 1452


def program() -> EarnRules:
    rule = LineRule
    return EarnRules(
        points_per_unit=D("1.5"),
        include_shipping=True,
        rounding="down",
        min_order_amount=D("20"),
        max_points_per_order=5000,
        line_rules=(
            rule(field="product_type", value="Coffee", multiplier=D("3")),
            rule(field="product_type", value="Tea", multiplier=D("2")),
            rule(field="product_type", value="Gift Card", exclude=True),
            rule(field="vendor", value="Acme Roasters", multiplier=D("1.5")),
            rule(field="vendor", value="Clearance Co", exclude=True),
            rule(field="tag", value="organic", multiplier=D("2")),
            rule(field="tag", value="fair-trade", multiplier=D("1.25")),
            rule(field="tag", value="no-points", exclude=True),
            rule(field="tag", value="limited", multiplier=D("4")),
            rule(field="collection", value="Sale", exclude=True),
            rule(field="collection", value="Summer Picks", multiplier=D("2")),
            rule(field="collection", value="Brewing Gear", multiplier=D("1.5")),
            rule(field="collection", value="Staff Picks", multiplier=D("1.1")),
            rule(field="sku", value="MUG-01", multiplier=D("5")),
            rule(field="sku", value="FILTER-100", exclude=True),
            rule(field="sku", value="BEAN-1KG", multiplier=D("2.5")),
            rule(field="product_id", value="gid://shopify/Product/1001", multiplier=D("3")),
            rule(field="product_id", value="1002", multiplier=D("0.5")),
            rule(field="product_id", value="1003", exclude=True),
            rule(field="vendor", value="Kettle Works", multiplier=D("1.2")),
        ),
    )


def campaigns() -> list[Campaign]:
    start, end = PLACED_AT - timedelta(days=1), PLACED_AT + timedelta(days=1)
    return [
        Campaign(
            id="1",
            name="Double points weekend",
            kind="multiplier",
            multiplier=D("2"),
            starts_at=start,
            ends_at=end,
        ),
        Campaign(
            id="2",
            name="3x on Summer Picks",
            kind="multiplier",
            multiplier=D("3"),
            starts_at=start,
            ends_at=end,
            applies_to=LineMatch(field="collection", value="Summer Picks"),
        ),
        Campaign(
            id="3",
            name="Welcome bonus",
            kind="bonus",
            bonus_points=100,
            first_order_only=True,
            starts_at=start,
            ends_at=end,
        ),
    ]


def order() -> list[RuleLine]:
    def line(i: int, amount: str, **facts: Any) -> RuleLine:
        facts.setdefault("tags", frozenset())
        facts.setdefault("collections", frozenset())
        return RuleLine(
            line_id=str(9_000_000 + i),
            amount=D(amount),
            product_id=str(1000 + i),
            variant_id=str(5000 + i),
            **facts,
        )

    return [
        line(1, "43.20", product_type="Coffee", vendor="Acme Roasters",
             tags=frozenset({"organic", "fair-trade"}), collections=frozenset({"Staff Picks"})),
        line(2, "18.00", product_type="Tea", vendor="Leaf & Co", tags=frozenset({"green"})),
        line(3, "59.00", product_type="Kettle", vendor="Kettle Works",
             collections=frozenset({"Brewing Gear"})),
        line(4, "12.50", product_type="Mug", sku="MUG-01", collections=frozenset({"Sale"})),
        line(5, "25.00", product_type="Gift Card", gift_card=True),
        line(6, "34.99", product_type="Coffee", sku="BEAN-1KG",
             collections=frozenset({"Summer Picks"})),
        line(7, "8.99", product_type="Filters", sku="FILTER-100"),
        line(8, "22.40", product_type="Tea", tags=frozenset({"limited", "Organic"})),
        line(9, "15.00", product_type="Accessory", vendor="Clearance Co"),
        line(10, "30.00", product_type="Grinder", tags=frozenset({"manual"}),
             collections=frozenset({"Brewing Gear", "Staff Picks"})),
    ]  # fmt: skip


def scenarios() -> dict[str, Callable[[], Any]]:
    lines = order()
    earn, active = program(), campaigns()
    context = OrderContext(placed_at=PLACED_AT, paid=True, is_first_order=True, tier="Gold")
    refunded = {"9000003": D("20.00")}

    def with_rules() -> Any:
        return order_breakdown(
            lines=lines,
            context=context,
            rules=earn,
            campaigns=active,
            refunded_by_line=refunded,
            refunded_extra=D("5.00"),
            shipping=D("7.50"),
            tax=D("19.40"),
        )

    def with_explanation() -> Any:
        return with_rules().as_dict()

    def default() -> Any:
        return order_breakdown(lines=lines, context=context, refunded_by_line=refunded)

    return {"rules": with_rules, "rules+explain": with_explanation, "default": default}


def measure(run: Callable[[], Any], seconds: float) -> tuple[float, int]:
    """Orders per second: calibrate a batch of ~0.1 s, then run batches for ``seconds``."""
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            run()
        if time.perf_counter() - start >= 0.1:
            break
        batch *= 2
    done = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(batch):
            run()
        done += batch
    return done / elapsed, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per scenario")
    args = parser.parse_args()

    runs = scenarios()
    points = runs["rules"]().points
    if points != EXPECTED_POINTS:
        print(f"wrong answer: {points} points, expected {EXPECTED_POINTS}")
        return 1

    results: dict[str, Any] = {}
    for name, run in runs.items():
        rate, done = measure(run, args.seconds)
        results[name] = {"orders_per_s": round(rate), "us_per_order": round(1e6 / rate, 1)}
        print(f"{name:>14}: {rate:>10,.0f} orders/s  ({1e6 / rate:,.1f} us/order, {done:,} orders)")

    print(
        json.dumps(
            {
                "bench": "calculation",
                "lines": 10,
                "line_rules": 20,
                "campaigns": 3,
                "points": points,
                "orders_per_s": results["rules"]["orders_per_s"],
                "scenarios": results,
                "seconds": args.seconds,
                "python": platform.python_version(),
                "machine": platform.machine(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
