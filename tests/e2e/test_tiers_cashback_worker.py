"""VIP tiers and cash-back through the real stack: signed webhooks over HTTP -> Redis -> a
real Celery worker -> the ledgers -> the Admin API outbox -> the simulated shop over HTTP."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings

from loyalty_app.cashback.models import CashbackEntry
from loyalty_app.common.time import now
from loyalty_app.members.models import Member
from loyalty_app.shops.services import shop_create
from loyalty_app.tiers.models import MemberTier, TierEvent, TierProgram
from loyalty_app.tiers.services import tier_program_update
from shopify_bridge.devstore.client import WebhookSender
from shopify_bridge.devstore.models import DevStoreStoreCreditAccount, DevStoreTags
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload
from shopify_bridge.devstore.services import devstore_install
from shopify_bridge.models import AdminApiCall
from shopify_bridge.tasks import webhook_event_process  # noqa: F401 - registered before the worker fixture reconfigures the app

pytestmark = [pytest.mark.e2e]

CUSTOMER = 5150
TIERS = {
    "metric": "amount_spent",
    "period": "lifetime",
    "tiers": [
        {"name": "Silver", "threshold": "50.00", "cashback_rate": "5", "customer_tag": "vip-silver"}
    ],
    "cashback": {"enabled": True, "rate": "2", "delivery": "store_credit"},
}


def _wait_for(predicate: Any, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the worker")


@pytest.fixture
def shop_api_origin(live_server: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The worker (another process) and this one both reach the simulated shop on the
    live server; must come before the worker fixture, which copies the environment."""
    origin = live_server.url + "/devstore/{shop}"
    monkeypatch.setenv("SHOPIFY_ADMIN_API_ORIGIN", origin)
    settings.SHOPIFY_ADMIN_API_ORIGIN = origin
    return live_server.url


def _credit(domain: str) -> Decimal:
    account = DevStoreStoreCreditAccount.objects.filter(
        store__domain=domain, customer_id=CUSTOMER
    ).first()
    return account.balance if account else Decimal("0")


def test_a_tier_and_its_cash_back_reach_the_shop_through_a_real_worker(
    shop_api_origin: str, celery_worker_process: Any
) -> None:
    # Given an installed shop: 2% cash-back for everyone, Silver (from 50.00 spent) 5%
    shop = shop_create(domain="e2e-tiers.myshopify.com").shop
    devstore_install(shop=shop)
    tier_program_update(shop=shop, data=TIERS, actor="test")
    # In force since an hour ago: payload times have whole seconds, and an order placed in
    # the same second as the definition must fall under it.
    TierProgram.objects.filter(shop=shop).update(created_at=now() - timedelta(hours=1))
    sender = WebhookSender(
        base_url=shop_api_origin, secret=settings.SHOPIFY_API_SECRET, shop_domain=shop.domain
    )
    placed = now()
    kettle = LineSpec(price=Decimal("60.00"), title="Kettle")
    mug = LineSpec(price=Decimal("20.00"), quantity=2, title="Mug")
    customer = {"customer_id": CUSTOMER, "email": "vip@example.com"}

    # When a first order of 60.00 is paid, then a second of 40.00
    first = order_payload(order_id=7710001, lines=[kettle], created_at=placed, **customer)
    second = order_payload(order_id=7710002, lines=[mug], created_at=placed, **customer)
    assert sender.send("orders/paid", first, webhook_id="e2e-t1").status_code == 200
    _wait_for(lambda: MemberTier.objects.filter(member__external_id=str(CUSTOMER)).exists())
    assert sender.send("orders/paid", second, webhook_id="e2e-t2").status_code == 200

    # Then the member became Silver on the first order, which earned the 2% rate they held
    # when it arrived (1.20); the second earned Silver's 5% (2.00)
    member = Member.objects.get(shop=shop, external_id=str(CUSTOMER))
    _wait_for(lambda: CashbackEntry.objects.filter(member=member).count() == 2)
    assert MemberTier.objects.get(member=member).tier == "Silver"
    assert (
        TierEvent.objects.filter(member=member, to_tier="Silver", reason="qualified").count() == 1
    )
    credits = dict(
        CashbackEntry.objects.filter(member=member).values_list("order_external_id", "amount")
    )
    assert credits == {"7710001": Decimal("1.20"), "7710002": Decimal("2.00")}

    # And the worker delivered it all to the shop: the store credit, the tier's tag
    _wait_for(lambda: _credit(shop.domain) == Decimal("3.20"))
    _wait_for(
        lambda: (
            "vip-silver"
            in (
                DevStoreTags.objects.filter(store__domain=shop.domain)
                .values_list("tags", flat=True)
                .first()
                or []
            )
        )
    )

    # When one mug of the second order is refunded
    refund = refund_payload(
        refund_id=7720001, order_id=7710002, lines=[(line_id_for(7710002, 0), mug, 1)]
    )
    assert sender.send("refunds/create", refund, webhook_id="e2e-t3").status_code == 200

    # Then half of its cash-back is taken back, in the ledger and in the shop, and the
    # tier stays (a refund after the upgrade's own order does not demote)
    _wait_for(lambda: _credit(shop.domain) == Decimal("2.20"))
    net = sum(CashbackEntry.objects.filter(member=member).values_list("amount", flat=True))
    assert net == Decimal("2.20")
    assert MemberTier.objects.get(member=member).tier == "Silver"
    assert not AdminApiCall.objects.filter(shop=shop, status="failed").exists()
