"""Twenty refunds of one order at once, each a signed webhook posted from its own thread
(its own database connection), each reversal debited from the simulated shop over HTTP."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client

from loyalty_app.cashback.models import CashbackDelivery, CashbackEntry
from loyalty_app.earning.services import orders_confirm_due
from shopify_bridge.devstore.client import webhook_headers
from shopify_bridge.devstore.models import DevStoreMutation
from shopify_bridge.devstore.payloads import refund_payload
from shopify_bridge.models import WebhookEvent
from tests.concurrency import run_concurrently

from .conftest import PENDING_DAYS, ledger_net, line, store_credit

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
REFUNDS = 20


def signed_post(domain: str, topic: str, payload: dict) -> int:
    body = json.dumps(payload).encode()
    headers = webhook_headers(
        body=body, secret=settings.SHOPIFY_API_SECRET, topic=topic, shop_domain=domain
    )
    response = Client().post(
        "/shopify/webhooks",
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    return response.status_code


def test_a_storm_of_twenty_concurrent_refunds_reverses_exactly_their_cash_back(store, clock):
    # given 40 x 5.00 credited 4.00 (2%) once the return window passed
    spec = line("5.00", 40)
    order = store.order(1001, [spec])
    clock.advance(days=PENDING_DAYS, hours=1)
    orders_confirm_due()
    assert store_credit(store.shop) == D("4.00")
    refunds = [
        refund_payload(
            refund_id=9000 + i,
            order_id=order["id"],
            lines=[(order["line_items"][0]["id"], spec, 1)],
        )
        for i in range(REFUNDS)
    ]

    # when twenty refunds of one unit each arrive at the same moment
    statuses, errors = run_concurrently(
        lambda i: signed_post(store.domain, "refunds/create", refunds[i]), REFUNDS
    )

    # then each was processed once and together they reverse exactly half: 2.00 remains,
    # in the ledger and in the shop's store credit
    assert errors == []
    assert statuses == [200] * REFUNDS
    assert WebhookEvent.objects.filter(topic="refunds/create", status="done").count() == REFUNDS
    reversals = CashbackEntry.objects.filter(kind="reversal")
    assert sorted(e.amount for e in reversals) == [D("-0.10")] * REFUNDS
    assert ledger_net(store.shop) == D("2.00")
    assert store_credit(store.shop) == D("2.00")
    assert set(CashbackDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    debits = DevStoreMutation.objects.filter(name="storeCreditAccountDebit").count()
    assert debits == REFUNDS

    # when the whole storm is delivered again, under new webhook ids
    for refund in refunds:
        assert signed_post(store.domain, "refunds/create", refund) == 200

    # then nothing more is reversed or sent
    assert CashbackEntry.objects.count() == 1 + REFUNDS
    assert store_credit(store.shop) == D("2.00") == ledger_net(store.shop)
    assert DevStoreMutation.objects.filter(name="storeCreditAccountDebit").count() == debits
