"""Fixtures of the challenge tests: a shop's challenges defined through the merchant API,
and orders sent as signed webhooks through the real receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload
from tests.shopify_bridge.conftest import simulator  # noqa: F401 (a fixture, used by name)

CUSTOMER = 501
EMAIL = "ada@example.com"


def today() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def day(offset: int) -> str:
    """A date ``offset`` days from today (UTC: the test shops' zone)."""
    return (today() + timedelta(days=offset)).date().isoformat()


def send(api: Client, method: str, path: str, data: Any = None) -> Any:
    body = json.dumps(data) if data is not None else None
    return getattr(api, method)(path, data=body, content_type="application/json")


def challenge_active(api: Client, **fields: Any) -> dict[str, Any]:
    """Create a challenge (dates: from 30 days ago to 30 days ahead unless given) and
    activate it; returns the API's body."""
    data = {"name": "Three orders", "starts_on": day(-30), "ends_on": day(30), **fields}
    created = send(api, "post", "/api/v1/challenges", data)
    assert created.status_code == 201, created.content
    activated = send(api, "post", f"/api/v1/challenges/{created.json()['id']}/activate")
    assert activated.status_code == 200, activated.content
    return activated.json()


def badge(api: Client, name: str = "Regular", **fields: Any) -> dict[str, Any]:
    response = send(api, "post", "/api/v1/badges", {"name": name, "icon": "trophy", **fields})
    assert response.status_code == 201, response.content
    return response.json()


def paid_order(
    order_id: int,
    amount: str = "30.00",
    *,
    customer: int = CUSTOMER,
    placed: datetime | None = None,
    lines: list[LineSpec] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return order_payload(
        order_id=order_id,
        lines=lines or [LineSpec(price=Decimal(amount))],
        customer_id=customer,
        email=EMAIL if customer == CUSTOMER else f"c{customer}@example.com",
        created_at=placed or today() - timedelta(hours=1),
        **extra,
    )


def full_refund(
    order_id: int, amount: str = "30.00", refund_id: int | None = None
) -> dict[str, Any]:
    spec = LineSpec(price=Decimal(amount))
    return refund_payload(
        refund_id=refund_id or order_id + 5_000,
        order_id=order_id,
        lines=[(line_id_for(order_id, 0), spec, 1)],
    )


def progress(api: Client, customer: int = CUSTOMER) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/customers/{customer}/challenges")
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def api(shop: Any) -> Client:
    return Client(headers={"Authorization": f"Bearer {shop.api_token}"})
