"""A shop with cash-back on a simulated store: orders and refunds arrive as real signed
webhooks, deliveries go to the simulator over HTTP (eager Celery performs the outbox's
calls on commit)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client

from loyalty_app.cashback.models import CashbackEntry
from loyalty_app.common.time import now
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.models import MemberTier, TierProgram
from shopify_bridge.devstore.models import DevStoreStoreCreditAccount
from shopify_bridge.devstore.payloads import LineSpec, order_payload, refund_payload
from tests.shopify_bridge.conftest import (
    program_put,
    simulator,  # noqa: F401 - the fixture, shared
)

PENDING_DAYS = 14
# 2% for every member; Gold earns 5%. Gold is out of reach by orders (1000 of them), so a
# member is Gold only when the test puts them there.
DEFINITION = {
    "metric": "orders_count",
    "period": "lifetime",
    "tiers": [{"name": "Gold", "threshold": 1000, "cashback_rate": "5"}],
    "cashback": {"enabled": True, "rate": "2", "delivery": "store_credit"},
}


def definition(**cashback: Any) -> dict[str, Any]:
    return {**DEFINITION, "cashback": {**DEFINITION["cashback"], **cashback}}


def put_json(client: Client, path: str, body: dict[str, Any]) -> Any:
    response = client.put(path, data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201), response.content
    return response


def tiers_put(api: Client, body: dict[str, Any]) -> None:
    """Save the tier definition through the API, in force since an hour ago (as
    ``program_put`` does for the earning rules)."""
    put_json(api, "/api/v1/tiers", body)
    TierProgram.objects.filter(version=TierProgram.objects.order_by("-version")[0].version).update(
        created_at=now() - timedelta(hours=1)
    )


def hold_tier(shop: Shop, customer_id: int, tier: str | None) -> None:
    """Put a member in a tier, as the tier evaluation records it."""
    member = Member.objects.get(shop=shop, external_id=str(customer_id))
    MemberTier.objects.update_or_create(
        member=member,
        defaults={"shop": shop, "tier": tier, "since": now(), "evaluated_at": now()},
    )


def line(price: str, quantity: int = 1, **fields: Any) -> LineSpec:
    return LineSpec(price=Decimal(price), quantity=quantity, **fields)


@dataclass
class Store:
    """The test's shop and what it sends."""

    shop: Shop
    post: Any
    domain: str

    def order(
        self,
        order_id: int,
        lines: list[LineSpec],
        *,
        customer_id: int = 7001,
        placed_at: datetime | None = None,
        webhook_id: str | None = None,
        topic: str = "orders/paid",
        **fields: Any,
    ) -> dict[str, Any]:
        payload = order_payload(
            order_id=order_id,
            customer_id=customer_id,
            email=f"c{customer_id}@example.com",
            lines=lines,
            created_at=placed_at or now().replace(microsecond=0),
            **fields,
        )
        response = self.post(topic, payload, shop_domain=self.domain, webhook_id=webhook_id)
        assert response.status_code == 200, response.content
        return payload

    def refund(
        self,
        refund_id: int,
        order: dict[str, Any],
        index: int,
        spec: LineSpec,
        quantity: int,
        *,
        webhook_id: str | None = None,
    ) -> dict[str, Any]:
        payload = refund_payload(
            refund_id=refund_id,
            order_id=order["id"],
            lines=[(order["line_items"][index]["id"], spec, quantity)],
            created_at=now().replace(microsecond=0),
        )
        response = self.post(
            "refunds/create", payload, shop_domain=self.domain, webhook_id=webhook_id
        )
        assert response.status_code == 200, response.content
        return payload


@pytest.fixture
def store(shop, api, simulator, post_webhook, clock) -> Store:  # noqa: F811 - the fixture
    """The app installed on a simulated store, points pending 14 days, cash-back on."""
    simulator.install(shop.shop)
    program_put(api, {"pending_days": PENDING_DAYS})
    tiers_put(api, DEFINITION)
    return Store(shop=shop.shop, post=post_webhook, domain=shop.shop.domain)


def ledger_net(shop: Shop, customer_id: int = 7001) -> Decimal:
    total = CashbackEntry.objects.filter(shop=shop, member__external_id=str(customer_id)).aggregate(
        total=Sum("amount")
    )["total"]
    return (total or Decimal("0")).quantize(Decimal("0.01"))


def store_credit(shop: Shop, customer_id: int = 7001, currency: str = "USD") -> Decimal:
    """The customer's store-credit balance in the simulated shop."""
    account = DevStoreStoreCreditAccount.objects.filter(
        store__domain=shop.domain, customer_id=customer_id, currency=currency
    ).first()
    return (account.balance if account else Decimal("0")).quantize(Decimal("0.01"))
