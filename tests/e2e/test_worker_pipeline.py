"""Signed webhooks over HTTP -> Redis -> a real Celery worker -> the PostgreSQL ledger."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.conf import settings

from loyalty_app.ledger.selectors import ledger_balance
from loyalty_app.members.models import Member
from loyalty_app.shops.services import shop_create
from shopify_bridge.devstore.client import WebhookSender
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload
from shopify_bridge.models import WebhookEvent
from shopify_bridge.tasks import webhook_events_sweep

pytestmark = [pytest.mark.e2e]


def _wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the worker")


def _balance(domain: str, customer_id: int) -> int | None:
    member = Member.objects.filter(shop__domain=domain, external_id=str(customer_id)).first()
    return None if member is None else member.points_balance


def test_webhooks_become_points_through_a_real_worker(
    live_server: Any, celery_worker_process: Any
) -> None:
    # Given a shop and a customer's order lifecycle
    shop = shop_create(domain="e2e-store.myshopify.com").shop
    sender = WebhookSender(
        base_url=live_server.url, secret=settings.SHOPIFY_API_SECRET, shop_domain=shop.domain
    )
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    mug = LineSpec(price=Decimal("16.00"), quantity=3, title="Ceramic Mug")
    kettle = LineSpec(price=Decimal("59.00"), discount=Decimal("9.00"), title="Kettle")
    customer = {"customer_id": 4242, "email": "e2e@example.com"}

    def order(status: str, minutes: int) -> dict[str, Any]:
        return order_payload(
            order_id=5550001,
            lines=[mug, kettle],
            financial_status=status,
            created_at=start,
            updated_at=start + timedelta(minutes=minutes),
            **customer,
        )

    refund = refund_payload(
        refund_id=777001, order_id=5550001, lines=[(line_id_for(5550001, 0), mug, 1)]
    )

    # When the shop delivers them out of order, with the order created three times
    responses = [
        sender.send("refunds/create", refund, webhook_id="e2e-refund"),
        sender.send("orders/paid", order("paid", 5), webhook_id="e2e-paid"),
        sender.send("orders/create", order("pending", 0), webhook_id="e2e-create"),
        sender.send("orders/create", order("pending", 0), webhook_id="e2e-create"),
        sender.send("orders/create", order("pending", 0), webhook_id="e2e-create"),
    ]

    # Then every delivery is acknowledged at once and the worker settles the right balance:
    # 3 x 16 + 59 - 9 = 98.00, less one refunded mug = 82 points.
    assert [r.status_code for r in responses] == [200] * 5
    assert [r.json()["status"] for r in responses][-2:] == ["duplicate", "duplicate"]
    _wait_for(lambda: WebhookEvent.objects.filter(shop=shop, status="done").count() == 3)
    assert _balance(shop.domain, 4242) == 82
    member = Member.objects.get(shop=shop, external_id="4242")
    assert ledger_balance(member=member) == 82


def test_the_sweeper_recovers_an_event_whose_message_was_lost(
    live_server: Any, celery_worker_process: Any
) -> None:
    # Given an event stored while the broker was down (its message never reached Redis)
    shop = shop_create(domain="e2e-lost.myshopify.com").shop
    payload = order_payload(
        order_id=5550002,
        lines=[LineSpec(price=Decimal("40.00"))],
        customer_id=4343,
        email="lost@example.com",
    )
    WebhookEvent.objects.create(
        shop=shop,
        webhook_id="lost-1",
        topic="orders/create",
        payload=payload,
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
    )

    # When beat's periodic sweep runs on the worker
    webhook_events_sweep.delay()

    # Then the event is processed and the points arrive
    _wait_for(lambda: _balance(shop.domain, 4343) == 40)
    assert WebhookEvent.objects.get(shop=shop, webhook_id="lost-1").status == "done"


def test_the_live_server_answers_a_forged_webhook_with_401(
    live_server: Any, celery_worker_process: Any
) -> None:
    shop = shop_create(domain="e2e-forged.myshopify.com").shop
    sender = WebhookSender(
        base_url=live_server.url, secret="not-the-secret", shop_domain=shop.domain
    )
    response = sender.send(
        "orders/create",
        order_payload(
            order_id=1, lines=[LineSpec(price=Decimal("5"))], customer_id=1, email="x@example.com"
        ),
    )
    assert response.status_code == 401
    assert WebhookEvent.objects.filter(shop=shop).count() == 0
    assert requests.get(f"{live_server.url}/api/schema/", timeout=10).status_code == 200
