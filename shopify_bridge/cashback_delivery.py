"""Cash-back delivered to a Shopify shop through the Admin API outbox.

The engine (``loyalty_app.cashback``) decides what the shopper is owed and calls
``cashback_deliver`` inside the transaction that writes its ledger entry; the call is
recorded in the outbox there and performed after commit. Its final outcome comes back
through ``cashback_call_result``, which translates Shopify's answer into the engine's
``cashback_delivery_settle``.

- ``credit`` / ``return``: ``storeCreditAccountCredit`` on the customer (a customer gid
  opens the customer's account in that currency if there is none).
- ``debit``: ``storeCreditAccountDebit`` on the customer's account in that currency.
  Shopify refuses a debit beyond the balance (``INSUFFICIENT_FUNDS``): the outbox gives
  it up at once, and the engine keeps the amount as debt.
- ``discount_code``: a single-use ``discountCodeBasicCreate`` of that amount, for that
  customer only, once per customer. A code met again as ``TAKEN`` on a retry is the one an
  earlier try created (the outbox's ``ALREADY_DONE`` rule for ``discount_code_create``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from loyalty_app.cashback.policies import money_text
from loyalty_app.cashback.services import cashback_delivery_settle
from loyalty_app.common.time import now
from loyalty_app.shops.models import Shop

from .outbox import admin_call_enqueue

HOOK = "shopify_bridge.cashback_delivery.cashback_call_result"

CREDIT = """
mutation CashbackCredit($id: ID!, $creditInput: StoreCreditAccountCreditInput!) {
  storeCreditAccountCredit(id: $id, creditInput: $creditInput) {
    storeCreditAccountTransaction { id amount { amount currencyCode } }
    userErrors { field message code }
  }
}
"""

DEBIT = """
mutation CashbackDebit($id: ID!, $debitInput: StoreCreditAccountDebitInput!) {
  storeCreditAccountDebit(id: $id, debitInput: $debitInput) {
    storeCreditAccountTransaction { id amount { amount currencyCode } }
    userErrors { field message code }
  }
}
"""

DISCOUNT_CODE = """
mutation CashbackCode($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""

# The engine's operation -> the outbox's kind, its document, and the mutation it runs.
_CALLS: dict[str, tuple[str, str, str]] = {
    "credit": ("store_credit_credit", CREDIT, "storeCreditAccountCredit"),
    "return": ("store_credit_credit", CREDIT, "storeCreditAccountCredit"),
    "debit": ("store_credit_debit", DEBIT, "storeCreditAccountDebit"),
    "discount_code": ("discount_code_create", DISCOUNT_CODE, "discountCodeBasicCreate"),
}


def _customer_gid(customer_id: str) -> str:
    if not customer_id.isdigit():
        raise ValueError(f"not a Shopify customer id: {customer_id!r}")
    return f"gid://shopify/Customer/{customer_id}"


def _variables(
    *, operation: str, gid: str, amount: Decimal, currency: str, code: str
) -> dict[str, Any]:
    money = {"amount": money_text(amount, currency), "currencyCode": currency}
    if operation in ("credit", "return"):
        return {"id": gid, "creditInput": {"creditAmount": money}}
    if operation == "debit":
        return {"id": gid, "debitInput": {"debitAmount": money}}
    return {
        "basicCodeDiscount": {
            "title": f"Cash-back {money['amount']} {currency}",
            "code": code,
            "startsAt": now().isoformat(),
            "usageLimit": 1,
            "appliesOncePerCustomer": True,
            # ``context`` names the customer, as for reward codes (in the pinned 2025-10
            # it replaces the deprecated ``customerSelection``).
            "context": {"customers": {"add": [gid]}},
            "customerGets": {
                "value": {
                    "discountAmount": {"amount": money["amount"], "appliesOnEachItem": False}
                },
                "items": {"all": True},
            },
            "combinesWith": {
                "orderDiscounts": False,
                "productDiscounts": True,
                "shippingDiscounts": True,
            },
        }
    }


def cashback_deliver(
    *,
    shop: Shop,
    key: str,
    customer_id: str,
    operation: str,
    amount: Decimal,
    currency: str,
    code: str = "",
) -> None:
    """Record the Admin API call that delivers one cash-back movement, in the caller's
    transaction (performed after commit; the same ``key`` again records nothing).
    ``operation``: ``credit``, ``return`` (store credit), ``debit`` (store credit taken
    back) or ``discount_code`` (``code`` worth ``amount``)."""
    if operation not in _CALLS:
        raise ValueError(f"unknown cash-back operation {operation!r}")
    if amount <= 0:
        raise ValueError("a delivery moves a positive amount")
    if operation == "discount_code" and not code:
        raise ValueError("a discount code delivery needs its code")
    kind, document, _ = _CALLS[operation]
    admin_call_enqueue(
        shop=shop,
        kind=kind,
        key=key,
        document=document,
        variables=_variables(
            operation=operation,
            gid=_customer_gid(customer_id),
            amount=amount,
            currency=currency,
            code=code,
        ),
        on_result=HOOK,
    )


def _reference(data: Mapping[str, Any] | None) -> str:
    """The id Shopify gave the transaction or the discount (empty when the answer was an
    earlier try's ``TAKEN``)."""
    for payload in (data or {}).values():
        if not isinstance(payload, Mapping):
            continue
        node = payload.get("storeCreditAccountTransaction") or payload.get("codeDiscountNode")
        if isinstance(node, Mapping) and isinstance(node.get("id"), str):
            return node["id"]
    return ""


def cashback_call_result(
    *, shop: Shop, kind: str, key: str, ok: bool, data: Any, reason: str
) -> None:
    """The outbox's result hook for cash-back calls: Shopify's outcome, in the engine's
    words. Idempotent (the engine records an outcome once)."""
    cashback_delivery_settle(
        shop=shop,
        key=key,
        ok=ok,
        reason=reason,
        reference=_reference(data if isinstance(data, Mapping) else None),
    )
