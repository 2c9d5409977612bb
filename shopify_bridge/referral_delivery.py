"""A referred friend's welcome code, created in the Shopify shop through the Admin API
outbox (``discountCodeBasicCreate``), as ``rewards_delivery`` does for rewards.

The friend is usually not a customer yet, so the code is for everyone (``context.all``)
but single use (``usageLimit`` 1, ``appliesOncePerCustomer``), from now to the end of its
validity, with the program's minimum subtotal. Its outbox key is
``referral:<id>:welcome``: recorded once however often this runs, retried on transient
errors, and a failure is visible on the admin's Activity page (with a retry button) and on
the Referrals page. ``welcome_result`` (the outbox's result hook) tells the engine.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from loyalty_app.referrals.models import Referral
from loyalty_app.referrals.services import referral_welcome_result
from loyalty_app.shops.models import Shop

from .outbox import admin_call_enqueue
from .rewards_delivery import DISCOUNT_BASIC_CREATE, KIND_DISCOUNT, _amount, _cause

RESULT_HOOK = "shopify_bridge.referral_delivery.welcome_result"
_KEY = re.compile(r"^referral:([0-9]{1,19}):welcome$")


def welcome_code_input(referral: Referral) -> dict[str, Any]:
    """``DiscountCodeBasicInput`` for the referral's welcome code, from its offer."""
    offer = referral.offer
    value_text = Decimal(str(offer.get("friend_value") or "0"))
    value: dict[str, Any]
    if offer.get("friend_kind") == "percentage":
        value = {"percentage": float(value_text / 100)}
    else:
        value = {"discountAmount": {"amount": _amount(value_text), "appliesOnEachItem": False}}
    basic: dict[str, Any] = {
        "title": "Referral welcome offer",
        "code": referral.welcome_code,
        "startsAt": referral.created_at.isoformat(),
        "endsAt": referral.welcome_expires_at.isoformat() if referral.welcome_expires_at else None,
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "context": {"all": "ALL"},
        "customerGets": {"value": value, "items": {"all": True}},
    }
    minimum = offer.get("friend_min_subtotal")
    if minimum:
        basic["minimumRequirement"] = {
            "subtotal": {"greaterThanOrEqualToSubtotal": _amount(Decimal(str(minimum)))}
        }
    return basic


def referral_welcome_deliver(*, shop: Shop, referral: Referral) -> None:
    """Record the welcome code's creation on the outbox; call it in the transaction that
    creates the referral, so both are kept or neither."""
    admin_call_enqueue(
        shop=shop,
        kind=KIND_DISCOUNT,
        key=f"referral:{referral.pk}:welcome",
        document=DISCOUNT_BASIC_CREATE,
        variables={"basicCodeDiscount": welcome_code_input(referral)},
        on_result=RESULT_HOOK,
    )


def welcome_result(*, shop: Shop, kind: str, key: str, ok: bool, data: Any, reason: str) -> None:
    """The outbox's result hook: issued, or failed with the cause in the merchant's words."""
    match = _KEY.match(key)
    if match is None:
        return
    referral_welcome_result(
        shop=shop,
        referral_id=int(match.group(1)),
        ok=ok,
        reason="" if ok else _cause(kind, reason, what="the welcome code"),
    )
