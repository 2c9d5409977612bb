"""Hostile input for the reliability harness: fuzzed payloads and forged requests.

Every function here returns counts and the list of violations it saw; a
violation is a 5xx, or a request without a valid signature (or with another
shop's token) that was accepted.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests

from bench.chaos_model import mutate
from shopify_bridge.devstore.client import webhook_headers
from shopify_bridge.devstore.payloads import (
    LineSpec,
    customer_payload,
    order_payload,
    refund_payload,
)

TOPICS = [
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "refunds/create",
    "customers/create",
    "customers/update",
    "app/uninstalled",
    "products/update",
]


@dataclass
class AttackReport:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    signed_accepted: int = 0
    violations: list[str] = field(default_factory=list)

    def record(self, status: int, what: str, *, must_refuse: bool) -> None:
        self.sent += 1
        self.statuses[status] += 1
        if status >= 500:
            self.violations.append(f"{status} on {what}")
        elif must_refuse and status < 400:
            self.violations.append(f"{status} (accepted) on {what}")


def _templates(rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    line = LineSpec(price=Decimal("19.99"), quantity=2, discount=Decimal("2.00"))
    order = order_payload(
        order_id=rng.randint(1, 10**12),
        lines=[line],
        customer_id=rng.randint(1, 10**9),
        email="fuzz@example.com",
    )
    refund = refund_payload(
        refund_id=rng.randint(1, 10**12),
        order_id=order["id"],
        lines=[(order["line_items"][0]["id"], line, 1)],
    )
    customer = customer_payload(customer_id=rng.randint(1, 10**9), email="fuzz@example.com")
    return [
        ("orders/create", order),
        ("orders/updated", order),
        ("refunds/create", refund),
        ("customers/create", customer),
    ]


def _raw_bodies(rng: random.Random, body: bytes) -> bytes:
    """Byte-level damage: truncation, invalid UTF-8, JSON oddities."""
    choice = rng.randrange(8)
    if choice == 0:
        return body[: rng.randrange(max(1, len(body)))]
    if choice == 1:
        return body.replace(b'"', b"'", 3)
    if choice == 2:
        return b"\xff\xfe" + body
    if choice == 3:
        return b'{"id": NaN, "x": Infinity}'
    if choice == 4:
        return b'{"id": 1, "email": "\\u0000"}'
    if choice == 5:
        return b'{"id": 1, "name": "\\ud800"}'
    if choice == 6:
        return b"[" * 5000 + b"]" * 5000
    return json.dumps([1, 2, 3]).encode()


def fuzz_webhooks(
    *, base_url: str, secret: str, shop_domain: str, count: int, seed: int
) -> AttackReport:
    """``count`` hostile deliveries to a dedicated shop. A third are unsigned or signed
    wrongly (each must be refused); the rest are validly signed (each must be a clean
    4xx, or stored and then end done or failed, never stuck and never a 5xx)."""
    rng = random.Random(seed)
    report = AttackReport()
    session = requests.Session()
    url = f"{base_url}/shopify/webhooks"
    templates = _templates(rng)
    for n in range(count):
        topic, template = rng.choice(templates)
        if rng.random() < 0.2:
            topic = rng.choice(TOPICS)
        mode = rng.random()
        if mode < 0.15:
            body = _raw_bodies(rng, json.dumps(template).encode())
        else:
            body = json.dumps(mutate(rng, template), ensure_ascii=rng.random() < 0.5).encode()
        signed_validly = rng.random() >= 1 / 3
        headers = webhook_headers(
            body=body,
            secret=secret if signed_validly else "wrong-" + secret,
            topic=topic,
            shop_domain=shop_domain,
            webhook_id=f"fuzz-{seed}-{n}",
        )
        if not signed_validly and rng.random() < 0.3:
            del headers["X-Shopify-Hmac-Sha256"]
        try:
            response = session.post(url, data=body, headers=headers, timeout=30)
        except requests.RequestException as exc:
            report.violations.append(f"connection error on fuzz {n}: {exc}")
            continue
        report.record(
            response.status_code,
            f"fuzz {n} ({'signed' if signed_validly else 'forged'})",
            must_refuse=not signed_validly,
        )
        if signed_validly and response.status_code == 200:
            report.signed_accepted += 1
    return report


def forge_requests(
    *,
    base_url: str,
    secret: str,
    victim_domain: str,
    victim_customers: list[str],
    attacker_token: str,
    count: int,
    seed: int,
) -> AttackReport:
    """Bad HMACs, a valid signature replayed on another body, and another shop's token on
    every API route. All must be refused, and none may change the victim's data."""
    rng = random.Random(seed)
    report = AttackReport()
    session = requests.Session()
    url = f"{base_url}/shopify/webhooks"
    for n in range(count):
        customer = rng.choice(victim_customers)
        order = order_payload(
            order_id=10**13 + n,
            lines=[LineSpec(price=Decimal("500.00"))],
            customer_id=int(customer),
            email="victim@example.com",
        )
        body = json.dumps(order).encode()
        kind = n % 5
        if kind == 0:  # signed with a guessed secret
            headers = webhook_headers(
                body=body, secret=uuid.uuid4().hex, topic="orders/create", shop_domain=victim_domain
            )
            response = session.post(url, data=body, headers=headers, timeout=30)
            report.record(response.status_code, "webhook with a bad HMAC", must_refuse=True)
        elif kind == 1:  # a real signature of one body replayed on another
            original = json.dumps(
                order_payload(order_id=1, lines=[LineSpec(price=Decimal("1.00"))])
            ).encode()
            headers = webhook_headers(
                body=original, secret=secret, topic="orders/create", shop_domain=victim_domain
            )
            response = session.post(url, data=body, headers=headers, timeout=30)
            report.record(
                response.status_code, "replayed signature on another body", must_refuse=True
            )
        elif kind == 2:
            response = session.get(
                f"{base_url}/api/v1/customers/{customer}",
                headers={"Authorization": f"Bearer {attacker_token}"},
                timeout=30,
            )
            report.record(
                response.status_code, "another shop's token reading a customer", must_refuse=True
            )
        elif kind == 3:
            response = session.get(
                f"{base_url}/api/v1/customers/{customer}/ledger",
                headers={"Authorization": f"Bearer {attacker_token}"},
                timeout=30,
            )
            report.record(
                response.status_code, "another shop's token reading a ledger", must_refuse=True
            )
        else:
            response = session.post(
                f"{base_url}/api/v1/customers/{customer}/adjustments",
                json={"points": 1000, "reason": "forged"},
                headers={
                    "Authorization": f"Bearer {attacker_token}",
                    "Idempotency-Key": f"forge-{n}",
                },
                timeout=30,
            )
            report.record(
                response.status_code, "another shop's token adjusting points", must_refuse=True
            )
    for route in ("", "/ledger"):
        response = session.get(
            f"{base_url}/api/v1/customers/{victim_customers[0]}{route}", timeout=30
        )
        report.record(response.status_code, f"no token on customers{route}", must_refuse=True)
    return report
