from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from loyalty_app.earning.domain import CustomerRef, Purchase, PurchaseLine, Refund, RefundLine
from loyalty_app.earning.models import Order
from loyalty_app.earning.services import order_refund_record, order_sync
from loyalty_app.shops.models import Shop

PlaceOrder = Callable[..., Order]


@pytest.fixture
def place_order() -> PlaceOrder:
    """An order through the engine's own service, so its points are in the ledger."""

    def place(
        shop: Shop,
        *,
        order_id: str,
        customer: str,
        amount: str,
        placed_at: datetime,
        paid: bool = True,
        cancelled: bool = False,
        test: bool = False,
    ) -> Order:
        return order_sync(
            shop=shop,
            purchase=Purchase(
                external_id=order_id,
                currency=shop.currency,
                customer=CustomerRef(external_id=customer),
                name=f"#{order_id}",
                updated_at=placed_at,
                placed_at=placed_at,
                paid=paid,
                cancelled=cancelled,
                test=test,
                lines=(PurchaseLine(line_id=f"{order_id}-1", amount=Decimal(amount)),),
            ),
        )

    return place


@pytest.fixture
def refund_order() -> Callable[..., Any]:
    def refund(shop: Shop, *, order_id: str, amount: str, refund_id: str = "r1") -> Order:
        return order_refund_record(
            shop=shop,
            refund=Refund(
                external_id=refund_id,
                order_external_id=order_id,
                lines=(RefundLine(line_id=f"{order_id}-1", amount=Decimal(amount)),),
            ),
        )

    return refund
