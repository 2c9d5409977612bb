"""Usage charges on the app's Shopify subscription: each redemption's charge (recorded by
``loyalty_app.rewards.billing``) becomes an ``appUsageRecordCreate`` on the shop's
subscription line item, through the Admin API outbox.

Where the line item comes from: the shop's ``ShopBilling`` row, else
``settings.SHOPIFY_BILLING_LINE_ITEM_ID`` (one line item for every shop: development and
single-shop installs). With neither, billing is not set up: ``usage_charge_send`` queues
nothing and says so, and the engine keeps the charge as recorded only (the demo and the
development mode work this way).

Each call carries ``idempotencyKey = usage-charge-<id>``: a retry after a lost answer
returns Shopify's first record and charges nothing more. The outbox's result hook
(``usage_charge_result``) tells the engine the record's id, or why it was refused (e.g.
the subscription's capped amount is reached: visible on the admin's Activity page and
retried from there).
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from django.conf import settings

from loyalty_app.rewards.billing import usage_charge_sent
from loyalty_app.shops.models import Shop

from .models import ShopBilling
from .outbox import admin_call_enqueue

logger = logging.getLogger(__name__)

RESULT_HOOK = "shopify_bridge.billing.usage_charge_result"
KIND = "app_usage_record_create"
APP_USAGE_RECORD_CREATE = """
mutation RedemptionUsageCharge(
  $lineItemId: ID!, $price: MoneyInput!, $description: String!, $idempotencyKey: String
) {
  appUsageRecordCreate(
    subscriptionLineItemId: $lineItemId
    price: $price
    description: $description
    idempotencyKey: $idempotencyKey
  ) {
    appUsageRecord { id }
    userErrors { field message }
  }
}
"""
_KEY = re.compile(r"^usage-charge:([0-9]{1,19})$")


def billing_line_item(*, shop: Shop) -> str:
    """The subscription line item the shop's usage charges go to, or "" (not set up)."""
    own = (
        ShopBilling.objects.filter(shop=shop)
        .values_list("subscription_line_item_id", flat=True)
        .first()
    )
    return (own or getattr(settings, "SHOPIFY_BILLING_LINE_ITEM_ID", "") or "").strip()


def _amount(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def usage_charge_send(
    *, shop: Shop, charge_id: int, amount: Decimal, currency: str, description: str
) -> bool:
    """Queue the usage record of one charge on the outbox, in the caller's transaction.
    Returns False (nothing queued) when the shop's billing is not set up."""
    line_item = billing_line_item(shop=shop)
    if not line_item:
        return False
    admin_call_enqueue(
        shop=shop,
        kind=KIND,
        key=f"usage-charge:{charge_id}",
        document=APP_USAGE_RECORD_CREATE,
        variables={
            "lineItemId": line_item,
            "price": {"amount": _amount(amount), "currencyCode": currency},
            "description": description[:255],
            "idempotencyKey": f"usage-charge-{charge_id}",
        },
        on_result=RESULT_HOOK,
    )
    return True


def usage_charge_result(
    *, shop: Shop, kind: str, key: str, ok: bool, data: Any, reason: str
) -> None:
    """The outbox's result hook: record the usage record's id, or why it was refused."""
    match = _KEY.match(key)
    if match is None:
        logger.error("usage charge result for an unknown key %r", key, extra={"shop": shop.domain})
        return
    reference = ""
    if ok and isinstance(data, dict):
        record = (data.get("appUsageRecordCreate") or {}).get("appUsageRecord") or {}
        reference = str(record.get("id") or "")
    usage_charge_sent(
        shop=shop, charge_id=int(match.group(1)), ok=ok, reference=reference, reason=reason
    )
