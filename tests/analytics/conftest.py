"""Orders for the analytics tests, sent as the shop sends them: signed webhooks through
the real receiver, at the time the test's clock says."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from loyalty_app.shops.services import ShopWithToken
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload
from tests.conftest import Clock, PostWebhook
from tests.shopify_bridge.conftest import simulator  # noqa: F401 (a fixture, used by name)


def noon(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=UTC)


class Shopper:
    """Places and refunds orders through signed webhooks, each at noon of its day."""

    def __init__(self, post_webhook: PostWebhook, clock: Clock) -> None:
        self.post_webhook = post_webhook
        self.clock = clock

    def buy(
        self,
        order_id: int,
        day: str,
        amount: str,
        *,
        customer: int | None = None,
        quantity: int = 1,
        code: str | None = None,
        shop_domain: str = "alpha-store.myshopify.com",
    ) -> Any:
        self.clock.set(noon(day))
        spec = LineSpec(price=Decimal(amount) / quantity, quantity=quantity)
        payload = order_payload(
            order_id=order_id,
            lines=[spec],
            customer_id=customer,
            email=f"c{customer}@example.com" if customer else "",
            created_at=noon(day),
            discount_code=code,
        )
        response = self.post_webhook("orders/paid", payload, shop_domain=shop_domain)
        assert response.status_code == 200
        return response

    def refund(
        self, refund_id: int, order_id: int, day: str, unit: str, quantity: int, of: int
    ) -> None:
        """Refund ``of`` units of an order's only line, each worth ``unit``."""
        self.clock.set(noon(day))
        spec = LineSpec(price=Decimal(unit), quantity=quantity)
        payload = refund_payload(
            refund_id=refund_id,
            order_id=order_id,
            lines=[(line_id_for(order_id, 0), spec, of)],
            created_at=noon(day),
        )
        assert self.post_webhook("refunds/create", payload).status_code == 200


def a_month_of_orders(shopper: Shopper) -> None:
    """February: customer 501 buys for 100, a guest for 20. March: 501 buys for 50 and 30,
    customer 502 for 80 (20 refunded), two guests for 60 and 40. The clock ends on 2 April.
    """
    shopper.buy(1001, "2025-02-10", "100.00", customer=501)
    shopper.buy(1002, "2025-02-12", "20.00")
    shopper.buy(1003, "2025-03-05", "50.00", customer=501)
    shopper.buy(1004, "2025-03-05", "80.00", customer=502, quantity=4)
    shopper.buy(1005, "2025-03-06", "60.00")
    shopper.buy(1006, "2025-03-06", "40.00")
    shopper.buy(1007, "2025-03-07", "30.00", customer=501)
    shopper.refund(9001, 1004, "2025-03-08", unit="20.00", quantity=4, of=1)
    shopper.clock.set(noon("2025-04-02"))


@pytest.fixture
def shopper(post_webhook: PostWebhook, clock: Clock) -> Shopper:
    return Shopper(post_webhook, clock)


@pytest.fixture
def admin_client_for_shop(shop: ShopWithToken) -> Any:
    """The first shop's embedded-admin client (session tokens as the store admin sends)."""
    from tests.merchant_admin.conftest import AdminClient

    return AdminClient(shop.shop)
