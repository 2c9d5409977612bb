"""The reliability harness's event stream and its independent oracle.

The stream is what a Shopify store would send for a seeded, realistic history:
customers, orders paid at once or later, authorizations that are voided, test
orders, partial and full refunds, cancellations and routine ``orders/updated``
noise, for several shops. The oracle computes each customer's final balance from
its own record of what happened, with none of the engine's code: if the engine
and the oracle disagree, one of them is wrong, and the harness says so.

Delivery faults are applied here too: duplicates (the same webhook id again, and
retries with a new id and the original payload), reordering, late delivery.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shopify_bridge.devstore.payloads import (
    LineSpec,
    customer_payload,
    line_id_for,
    order_payload,
    random_lines,
    refund_payload,
)

CENT = Decimal("0.01")


@dataclass
class Delivery:
    shop: str
    topic: str
    payload: dict[str, Any]
    webhook_id: str
    kind: str = "original"  # original | duplicate | retry


@dataclass
class OrderFacts:
    """What the oracle knows of one order: enough to say what it is worth."""

    customer_id: int | None
    lines: list[LineSpec]
    paid: bool = False
    test: bool = False
    cancelled: bool = False
    fully_refunded: bool = False
    refunded: Decimal = Decimal("0")

    def points(self) -> int:
        if (
            self.customer_id is None
            or self.test
            or self.cancelled
            or self.fully_refunded
            or not self.paid
        ):
            return 0
        merchandise = Decimal("0")
        for line in self.lines:
            if not line.gift_card:
                merchandise += line.price * line.quantity - line.discount
        net = merchandise - self.refunded
        if net <= 0:
            return 0
        return int(net // 1)


@dataclass
class Stream:
    deliveries: list[Delivery]
    orders: dict[tuple[str, int], OrderFacts] = field(default_factory=dict)
    originals: int = 0

    def expected_balances(self) -> dict[str, dict[str, int]]:
        """shop -> customer id -> points, for every customer that ordered or was created."""
        result: dict[str, dict[str, int]] = defaultdict(dict)
        for (shop, _order_id), facts in self.orders.items():
            if facts.customer_id is not None:
                key = str(facts.customer_id)
                result[shop][key] = result[shop].get(key, 0) + facts.points()
        return result


def _refund_subtotal(line: LineSpec, quantity: int) -> Decimal:
    # As the shop computes it: the line's net amount pro rata, to the cent.
    return (line.price * line.quantity - line.discount) * quantity / line.quantity


def build_stream(
    *, seed: int, shops: list[str], orders_per_shop: int, customers_per_shop: int = 200
) -> Stream:
    """The original events, in the order the shops produced them."""
    rng = random.Random(seed)
    deliveries: list[Delivery] = []
    facts: dict[tuple[str, int], OrderFacts] = {}
    base = datetime(2026, 10, 1, tzinfo=UTC)
    for shop_index, shop in enumerate(shops):
        customer_ids = [10_000_000 * (shop_index + 1) + c for c in range(customers_per_shop)]
        for cid in customer_ids:
            if rng.random() < 0.5:
                deliveries.append(
                    Delivery(
                        shop,
                        "customers/create",
                        customer_payload(customer_id=cid, email=f"c{cid}@example.com", when=base),
                        f"cc-{shop_index}-{cid}",
                    )
                )
        for n in range(orders_per_shop):
            order_id = 1_000_000_000 * (shop_index + 1) + n
            customer_id = None if rng.random() < 0.05 else rng.choice(customer_ids)
            lines = random_lines(rng, gift_card_chance=0.08)
            t0 = base + timedelta(minutes=n)
            who: dict[str, Any] = (
                {"customer_id": customer_id, "email": f"c{customer_id}@example.com"}
                if customer_id
                else {}
            )
            record = OrderFacts(customer_id=customer_id, lines=lines)
            facts[(shop, order_id)] = record
            clock = [0]

            def emit(
                topic: str,
                status: str,
                *,
                cancelled: bool = False,
                test: bool = False,
                refunds: list[dict[str, Any]] | None = None,
                order_id: int = order_id,
                lines: list[LineSpec] = lines,
                t0: datetime = t0,
                who: dict[str, Any] = who,
                clock: list[int] = clock,
                shop: str = shop,
            ) -> None:
                clock[0] += 1
                payload = order_payload(
                    order_id=order_id,
                    lines=lines,
                    financial_status=status,
                    cancelled=cancelled,
                    test=test,
                    created_at=t0,
                    updated_at=t0 + timedelta(seconds=clock[0]),
                    shipping=Decimal("5.00"),
                    tax_rate=Decimal("0.07"),
                    refunds=refunds,
                    **who,
                )
                deliveries.append(Delivery(shop, topic, payload, f"o-{order_id}-{clock[0]}"))

            roll = rng.random()
            if roll < 0.03:
                emit("orders/create", "paid", test=True)
                record.test = True
                record.paid = True
                continue
            if roll < 0.08:
                emit("orders/create", "authorized")
                emit("orders/updated", "voided")
                continue
            if roll < 0.30:
                emit("orders/create", "pending")
                emit("orders/paid", "paid")
            else:
                emit("orders/create", "paid")
            record.paid = True
            if rng.random() < 0.3:
                emit("orders/fulfilled", "paid")
            roll = rng.random()
            if roll < 0.07:
                emit("orders/cancelled", "refunded", cancelled=True)
                record.cancelled = True
                record.fully_refunded = True
            elif roll < 0.25:
                # One or two partial refunds, each also echoed in a later orders/updated.
                remaining = {index: line.quantity for index, line in enumerate(lines)}
                refunds: list[dict[str, Any]] = []
                for r in range(rng.choice([1, 1, 2])):
                    choices = [i for i, q in remaining.items() if q > 0]
                    if not choices:
                        break
                    index = rng.choice(choices)
                    quantity = rng.randint(1, remaining[index])
                    remaining[index] -= quantity
                    line = lines[index]
                    refund = refund_payload(
                        refund_id=order_id * 10 + r,
                        order_id=order_id,
                        lines=[(line_id_for(order_id, index), line, quantity)],
                    )
                    refunds.append(refund)
                    deliveries.append(Delivery(shop, "refunds/create", refund, f"r-{order_id}-{r}"))
                    if not line.gift_card:
                        record.refunded += Decimal(
                            str(
                                refund["refund_line_items"][0]["subtotal_set"]["shop_money"][
                                    "amount"
                                ]
                            )
                        )
                    all_refunded = all(q == 0 for q in remaining.values())
                    emit(
                        "orders/updated",
                        "refunded" if all_refunded else "partially_refunded",
                        refunds=list(refunds),
                    )
                    if all_refunded:
                        record.fully_refunded = True
    return Stream(deliveries=deliveries, orders=facts, originals=len(deliveries))


def disturb(
    stream: Stream,
    *,
    seed: int,
    duplicate_rate: float = 0.30,
    reorder_rate: float = 0.10,
    late_rate: float = 0.02,
) -> list[Delivery]:
    """The stream as the network delivers it: duplicated, reordered, some very late."""
    rng = random.Random(seed + 1)
    out = list(stream.deliveries)
    extras: list[tuple[int, Delivery]] = []
    for position, delivery in enumerate(stream.deliveries):
        if rng.random() < duplicate_rate:
            if rng.random() < 0.6:
                copy = Delivery(
                    delivery.shop,
                    delivery.topic,
                    delivery.payload,
                    delivery.webhook_id,
                    "duplicate",
                )
            else:  # A retry: a new delivery id, the original payload.
                copy = Delivery(
                    delivery.shop,
                    delivery.topic,
                    delivery.payload,
                    f"retry-{uuid.UUID(int=rng.getrandbits(128))}",
                    "retry",
                )
            extras.append((position + rng.randint(0, 50), copy))
    for position, copy in sorted(extras, key=lambda e: e[0], reverse=True):
        out.insert(min(position, len(out)), copy)
    # Local reordering: swap with a neighbour up to 20 places away.
    for i in range(len(out)):
        if rng.random() < reorder_rate:
            j = min(len(out) - 1, max(0, i + rng.randint(-20, 20)))
            out[i], out[j] = out[j], out[i]
    # Late: some deliveries arrive after everything else.
    late = [d for d in out if rng.random() < late_rate]
    late_ids = {id(d) for d in late}
    return [d for d in out if id(d) not in late_ids] + late


def mutate(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """A hostile variant of a JSON value: wrong types, huge or negative numbers, odd unicode."""
    nasty: list[Any] = [
        None,
        True,
        -1,
        0,
        2**63,
        -(2**70),
        10**30,
        1e308,
        -0.0,
        "",
        "💥" * 50,
        "\u202e",
        "0x10",
        "1e999",
        "-5.00",
        "NaN",
        [],
        {},
        [1, "a", None],
        {"id": None},
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "a" * 5000,
    ]
    if isinstance(value, dict) and value and depth < 4:
        out = dict(value)
        for key in rng.sample(list(out), k=max(1, len(out) // 6)):
            action = rng.random()
            if action < 0.3:
                del out[key]
            elif action < 0.8:
                out[key] = rng.choice(nasty)
            else:
                out[key] = mutate(rng, out[key], depth + 1)
        return out
    if isinstance(value, list) and value and depth < 4:
        return [mutate(rng, v, depth + 1) if rng.random() < 0.5 else v for v in value]
    return rng.choice(nasty)
