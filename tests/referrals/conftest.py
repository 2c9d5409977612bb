"""A shop with a referral program on a simulated store: orders arrive as real signed
webhooks, the friend's landing page is reached through a signed app-proxy request, and
welcome codes go to the simulator over HTTP (eager Celery performs the outbox's calls)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import caches
from django.test import Client

from loyalty_app.common.time import now
from loyalty_app.members.models import Member
from loyalty_app.referrals.models import Referral
from loyalty_app.referrals.selectors import _PROGRAMS
from loyalty_app.shops.models import Shop
from loyalty_app.widget.selectors import shop_program_forget
from shopify_bridge.devstore.payloads import LineSpec, order_payload, refund_payload
from shopify_bridge.devstore.storefront import app_proxy_query
from tests.shopify_bridge.conftest import (
    program_put,
    simulator,  # noqa: F401 - the fixture, shared
)

REFERRER = 7001
FRIEND = 8001
FRIEND_EMAIL = "friend@example.com"
HOME = {"address1": "12 Main St.", "city": "Springfield", "zip": "12345", "country_code": "US"}
FRIEND_HOME = {
    "address1": "99 Oak Avenue",
    "city": "Shelbyville",
    "zip": "54321",
    "country_code": "US",
}
CARD = {"credit_card_bin": "424242", "credit_card_number": "•••• •••• •••• 4242"}
FRIEND_CARD = {"credit_card_bin": "555555", "credit_card_number": "•••• •••• •••• 4444"}

PROGRAM = {
    "enabled": True,
    "friend_reward": {
        "kind": "fixed_amount",
        "value": "10.00",
        "min_subtotal": "30.00",
        "days_valid": 30,
    },
    "referrer_reward": {"kind": "points", "points": 500},
    "cap": {"count": 10, "period": "month"},
}


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    caches["ratelimit"].clear()
    shop_program_forget()
    _PROGRAMS.clear()


def put_json(client: Client, path: str, body: Any) -> Any:
    return client.put(path, data=json.dumps(body), content_type="application/json")


@dataclass
class Store:
    """The test's shop and what its shoppers and Shopify send."""

    shop: Shop
    post: Any
    client: Client
    api: Client

    def proxy_url(self, path: str, customer: str = "") -> str:
        query = app_proxy_query(shop=self.shop.domain, customer_id=customer)
        return f"/proxy/{path}?{urlencode(query)}"

    def state(self, customer: int) -> dict[str, Any]:
        response = self.client.get(self.proxy_url("state", str(customer)))
        assert response.status_code == 200, response.content
        return response.json()

    def code_of(self, customer: int) -> str:
        referral = self.state(customer)["referral"]
        assert referral is not None
        return str(referral["code"])

    def claim(self, code: str, email: str) -> Any:
        return self.client.post(self.proxy_url(f"r/{code}"), {"email": email})

    def invite(self, email: str = FRIEND_EMAIL, referrer: int = REFERRER) -> str:
        """The friend opens the referrer's link and asks for the code; returns it."""
        response = self.claim(self.code_of(referrer), email)
        assert response.status_code in (200, 201), response.content
        found = re.search(rb'data-testid="welcome-code"', response.content)
        assert found, response.content
        return Referral.objects.get(shop=self.shop, friend_email=email.lower()).welcome_code

    def order(
        self,
        order_id: int,
        total: str = "50.00",
        *,
        customer: int = FRIEND,
        email: str | None = None,
        code: str | None = None,
        address: dict[str, Any] | None = None,
        card: dict[str, Any] | None = None,
        topic: str = "orders/paid",
        webhook_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        discount = Decimal("10.00") if code else Decimal("0")
        payload = order_payload(
            order_id=order_id,
            customer_id=customer,
            email=email or (FRIEND_EMAIL if customer == FRIEND else f"c{customer}@example.com"),
            lines=[LineSpec(price=Decimal(total), discount=discount)],
            created_at=now().replace(microsecond=0),
            discount_code=code,
            **fields,
        )
        payload["shipping_address"] = address or (FRIEND_HOME if customer == FRIEND else HOME)
        payload["payment_details"] = card or (FRIEND_CARD if customer == FRIEND else CARD)
        self.send(topic, payload, webhook_id=webhook_id)
        return payload

    def send(self, topic: str, payload: dict[str, Any], webhook_id: str | None = None) -> None:
        response = self.post(topic, payload, shop_domain=self.shop.domain, webhook_id=webhook_id)
        assert response.status_code == 200, response.content

    def refund(self, refund_id: int, order: dict[str, Any]) -> None:
        line = order["line_items"][0]
        spec = LineSpec(price=Decimal(line["price"]), discount=Decimal(line["total_discount"]))
        payload = refund_payload(
            refund_id=refund_id,
            order_id=order["id"],
            lines=[(line["id"], spec, 1)],
            created_at=now().replace(microsecond=0),
        )
        self.send("refunds/create", payload)

    def balance(self, customer: int = REFERRER) -> int:
        return Member.objects.get(shop=self.shop, external_id=str(customer)).points_balance

    def referral(self, email: str = FRIEND_EMAIL) -> Referral:
        return Referral.objects.get(shop=self.shop, friend_email=email)


@pytest.fixture
def store(shop, api, client, simulator, post_webhook, clock) -> Store:  # noqa: F811
    """The app installed on a simulated store with the referral program on; the referrer
    (customer 7001) has bought once: order 1001, 40.00, at HOME with CARD."""
    simulator.install(shop.shop)
    response = put_json(api, "/api/v1/referrals/program", PROGRAM)
    assert response.status_code == 200, response.content
    built = Store(shop=shop.shop, post=post_webhook, client=client, api=api)
    built.order(1001, "40.00", customer=REFERRER)
    return built


@pytest.fixture
def pending_store(store: Store) -> Store:
    """The same, with a 14-day return window on points (program_put)."""
    program_put(store.api, {"pending_days": 14})
    return store
