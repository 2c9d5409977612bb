"""Delivering redeemed rewards to a Shopify shop, through the Admin API outbox.

``redemption_deliver`` runs inside ``reward_redeem``'s transaction: it builds the mutation
the reward needs and records it on the outbox (``admin_call_enqueue``), so the call is
kept exactly when the debit is. A worker performs it after commit; ``delivery_result``
(the call's result hook) then tells the engine, in plain words, whether the reward was
delivered or why not.

Per kind (API version ``settings.SHOPIFY_API_VERSION``, 2025-10):

- ``fixed_amount`` / ``percentage``: ``discountCodeBasicCreate``, an amount off
  (``discountAmount``) or a percentage (a fraction 0..1) on the whole order or on the
  reward's collections;
- ``free_shipping``: ``discountCodeFreeShippingCreate`` to every destination, capped by
  the reward's value when it has one;
- ``free_product``: ``discountCodeBasicCreate`` taking 100 % off the chosen variant. A
  basic code cannot hold the discount to one unit (only a buy-X-get-Y code counts units),
  so the code is limited to one order of this customer (``usageLimit`` 1);
- ``store_credit`` / ``variable_credit``: ``storeCreditAccountCredit`` on the customer in
  the shop's currency (Shopify opens the account if there is none);
- ``experience`` with a customer tag: ``tagsAdd`` on the customer; ``donation`` and other
  experiences need nothing from the shop (the engine records them as issued at once).

Every code is single use, for this customer only (``context.customers``: since 2025-10
``context`` replaces the deprecated ``customerSelection``), from now to the redemption's
end date. The outbox key is ``redemption:<id>`` (``redemption:<id>:tag`` for a tag), so a
redemption's call is recorded once however often this runs.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from loyalty_app.rewards.billing import usage_charge_record_if_issued
from loyalty_app.rewards.models import Redemption, Reward
from loyalty_app.rewards.redemption import (
    redemption_delivery_problem,
    redemption_fail,
    redemption_issued,
)
from loyalty_app.shops.models import Shop

from .outbox import admin_call_enqueue

logger = logging.getLogger(__name__)

RESULT_HOOK = "shopify_bridge.rewards_delivery.delivery_result"
ACTOR = "shopify:admin-api"

DISCOUNT_BASIC_CREATE = """
mutation RewardDiscountCode($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""
DISCOUNT_FREE_SHIPPING_CREATE = """
mutation RewardFreeShippingCode($freeShippingCodeDiscount: DiscountCodeFreeShippingInput!) {
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $freeShippingCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""
STORE_CREDIT_CREDIT = """
mutation RewardStoreCredit($id: ID!, $creditInput: StoreCreditAccountCreditInput!) {
  storeCreditAccountCredit(id: $id, creditInput: $creditInput) {
    storeCreditAccountTransaction { id }
    userErrors { field message code }
  }
}
"""
TAGS_ADD = """
mutation RewardCustomerTag($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

# The outbox kinds. "discount_code_create" is the kind the outbox knows: a code met as
# TAKEN on a retry is the one an earlier try created before its answer was lost.
KIND_DISCOUNT = "discount_code_create"
KIND_CREDIT = "store_credit_credit"
KIND_TAG = "tags_add"

_KEY = re.compile(r"^redemption:([0-9]{1,19})(:tag)?$")
_WHAT = {
    KIND_DISCOUNT: "the discount",
    KIND_CREDIT: "the store credit",
    KIND_TAG: "the customer tag",
}


def _gid(kind: str, value: str) -> str:
    value = str(value).strip()
    return value if value.startswith("gid://") else f"gid://shopify/{kind}/{value}"


def _amount(value: Decimal) -> str:
    # Plain decimal text ("5", "12.5"): never an exponent, as the API's Decimal wants.
    return format(value.normalize(), "f")


def _timestamp(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _code_input(redemption: Redemption, customer: str) -> dict[str, Any]:
    """What every reward code shares: one use, this customer, from now to its end."""
    reward = redemption.reward
    code: dict[str, Any] = {
        "title": f"{redemption.title} (loyalty reward)"[:255],
        "code": redemption.code,
        "startsAt": _timestamp(redemption.created_at),
        "endsAt": _timestamp(redemption.expires_at),
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "context": {"customers": {"add": [customer]}},
    }
    if reward.min_order_amount is not None and reward.min_order_amount > 0:
        code["minimumRequirement"] = {
            "subtotal": {"greaterThanOrEqualToSubtotal": _amount(reward.min_order_amount)}
        }
    return code


def _items(reward: Reward) -> dict[str, Any]:
    if reward.kind == Reward.Kind.FREE_PRODUCT:
        return {"products": {"productVariantsToAdd": [_gid("ProductVariant", reward.variant_id)]}}
    if reward.collection_ids:
        return {"collections": {"add": [_gid("Collection", c) for c in reward.collection_ids]}}
    return {"all": True}


def _call(redemption: Redemption, customer: str) -> tuple[str, str, dict[str, Any]] | None:
    """The outbox kind, document and variables that deliver this redemption, or None when
    the shop has nothing to do."""
    kind = redemption.kind
    if kind in (Reward.Kind.FIXED_AMOUNT, Reward.Kind.PERCENTAGE, Reward.Kind.FREE_PRODUCT):
        value: dict[str, Any]
        if kind == Reward.Kind.FIXED_AMOUNT:
            value = {
                "discountAmount": {
                    "amount": _amount(redemption.value or Decimal(0)),
                    "appliesOnEachItem": False,
                }
            }
        elif kind == Reward.Kind.PERCENTAGE:
            value = {"percentage": float((redemption.value or Decimal(0)) / 100)}
        else:
            value = {"percentage": 1.0}
        basic = _code_input(redemption, customer)
        basic["customerGets"] = {"value": value, "items": _items(redemption.reward)}
        return KIND_DISCOUNT, DISCOUNT_BASIC_CREATE, {"basicCodeDiscount": basic}
    if kind == Reward.Kind.FREE_SHIPPING:
        shipping = _code_input(redemption, customer)
        shipping["destination"] = {"all": True}
        if redemption.reward.value is not None:
            shipping["maximumShippingPrice"] = _amount(redemption.reward.value)
        return KIND_DISCOUNT, DISCOUNT_FREE_SHIPPING_CREATE, {"freeShippingCodeDiscount": shipping}
    if kind in (Reward.Kind.STORE_CREDIT, Reward.Kind.VARIABLE_CREDIT):
        credit = {
            "creditAmount": {
                "amount": _amount(redemption.value or Decimal(0)),
                "currencyCode": redemption.currency,
            }
        }
        return KIND_CREDIT, STORE_CREDIT_CREDIT, {"id": customer, "creditInput": credit}
    if kind == Reward.Kind.EXPERIENCE and redemption.reward.customer_tag:
        return KIND_TAG, TAGS_ADD, {"id": customer, "tags": [redemption.reward.customer_tag]}
    return None


def redemption_deliver(*, shop: Shop, redemption: Redemption) -> None:
    """Record on the outbox what the shop must do for this redemption (the code, the
    credit, the customer tag). Call it inside the transaction that debits the points.

    Raises ``ValueError`` for a reward that needs the customer when the member has no
    Shopify customer id (``reward_redeem`` refuses those first).
    """
    external_id = redemption.member.external_id
    customer = _gid("Customer", external_id) if external_id else ""
    if not customer and (redemption.code or redemption.kind in ("store_credit", "variable_credit")):
        raise ValueError(f"redemption {redemption.pk}: the member has no Shopify customer id")
    call = _call(redemption, customer)
    if call is None:
        return
    kind, document, variables = call
    suffix = ":tag" if kind == KIND_TAG else ""
    admin_call_enqueue(
        shop=shop,
        kind=kind,
        key=f"redemption:{redemption.pk}{suffix}",
        document=document,
        variables=variables,
        on_result=RESULT_HOOK,
    )


def _cause(kind: str, reason: str, what: str = "") -> str:
    """The outbox's reason for giving up, said for a merchant and a shopper: Shopify's
    own words for a refusal, the attempts for a shop that did not answer. ``what`` names
    the thing the call was for (default: by the call's kind, "the discount"...)."""
    what = what or _WHAT.get(kind, "the reward")
    refused = re.search(r"refused: (.*)$", reason, flags=re.DOTALL)
    if reason.startswith("AdminApiUserError") and refused:
        messages = [
            part.split(": ", 1)[-1].strip() for part in refused.group(1).split("; ") if part.strip()
        ]
        return f"the shop refused {what} ({'; '.join(messages)})"
    tries = re.match(r"gave up after ([0-9]+) attempts", reason)
    if tries:
        return f"the shop did not answer after {tries.group(1)} tries"
    if "AdminApiAuthError" in reason:
        return f"the app may not create {what} in the shop (access refused)"
    return f"the shop could not take {what}"


def delivery_result(*, shop: Shop, kind: str, key: str, ok: bool, data: Any, reason: str) -> None:
    """The outbox's result hook: the shop's answer, translated for the engine.

    Delivered -> ``redemption_issued``; given up -> ``redemption_fail`` with the cause
    (the points come back). A customer tag that could not be set leaves the experience
    as it is and notes the problem. Safe to run twice: the engine's functions are
    idempotent.
    """
    match = _KEY.match(key)
    if match is None:
        logger.error("delivery result for an unknown key %r", key, extra={"shop": shop.domain})
        return
    redemption_id = int(match.group(1))
    if match.group(2):  # the experience's customer tag
        if not ok:
            redemption_delivery_problem(
                shop=shop,
                redemption_id=redemption_id,
                message=f"Customer tag not set: {_cause(kind, reason)}",
            )
        return
    if ok:
        issued = redemption_issued(shop=shop, redemption_id=redemption_id, actor=ACTOR)
        # Billing by redemption: the charge is written with the change to issued.
        usage_charge_record_if_issued(redemption=issued)
    else:
        redemption_fail(
            shop=shop, redemption_id=redemption_id, reason=_cause(kind, reason), actor=ACTOR
        )
