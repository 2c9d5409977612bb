"""A member's VIP tier, shown on the customer in the shop: the tier's customer tag (so
themes and discounts can target it) and two metafields, ``loyalty.tier``
(single_line_text_field: the tier's name, ``none`` without a tier, since a metafield
cannot be blank) and ``loyalty.points`` (number_integer: the balance when the tier
changed).

Each change is one Admin API call through the outbox, recorded in the transaction that
records the change (``tier_changes_publish``): ``tagsRemove`` of every other tier tag,
``tagsAdd`` of the new one, ``metafieldsSet``, in that order (a mutation's root fields run
one after the other). Its key, ``tier-sync:<member>:<event>``, makes a re-run record
nothing, and each of the three mutations may be performed again with the same result.

The balance is also written here because the tier change knows it; every other balance
change reaches the same metafield in batches (``balance_sync``), not a call per order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loyalty_app.shops.models import Shop
from loyalty_app.tiers.domain import TierNotice

from .outbox import admin_calls_enqueue_many

KIND = "tier_sync"
NAMESPACE = "loyalty"
NO_TIER = "none"

_REMOVE = "tagsRemove(id: $id, tags: $remove) { node { id } userErrors { field message } }"
_ADD = "tagsAdd(id: $id, tags: $add) { node { id } userErrors { field message } }"
_SET = (
    "metafieldsSet(metafields: $metafields) { metafields { namespace key value } "
    "userErrors { field message code } }"
)


def customer_gid(customer_id: str) -> str:
    return f"gid://shopify/Customer/{customer_id}"


def tier_sync_call(*, notice: TierNotice) -> tuple[str, dict[str, Any]]:
    """The GraphQL document and variables that show ``notice`` on the customer."""
    gid = customer_gid(notice.customer_id)
    removed = [t for t in dict.fromkeys(notice.tags_removed) if t and t != notice.tag]
    fields, params = [], ["$metafields: [MetafieldsSetInput!]!"]
    variables: dict[str, Any] = {}
    if removed or notice.tag:
        params.insert(0, "$id: ID!")
        variables["id"] = gid
    if removed:
        fields.append(_REMOVE)
        params.append("$remove: [String!]!")
        variables["remove"] = removed
    if notice.tag:
        fields.append(_ADD)
        params.append("$add: [String!]!")
        variables["add"] = [notice.tag]
    fields.append(_SET)
    variables["metafields"] = [
        {
            "ownerId": gid,
            "namespace": NAMESPACE,
            "key": "tier",
            "type": "single_line_text_field",
            "value": notice.tier or NO_TIER,
        },
        {
            "ownerId": gid,
            "namespace": NAMESPACE,
            "key": "points",
            "type": "number_integer",
            "value": str(notice.points_balance),
        },
    ]
    document = f"mutation TierSync({', '.join(params)}) {{ {' '.join(fields)} }}"
    return document, variables


def tier_changes_publish(*, shop: Shop, notices: Sequence[TierNotice]) -> int:
    """Record the calls that show these tier changes in the shop; returns how many were
    asked for (a key recorded before keeps its first call). Call it inside the transaction
    that records the changes: the calls are performed after commit (a batch of the
    re-evaluation records thousands at once, in one statement). A notice for a customer
    without a platform id is skipped."""
    calls = [
        (f"tier-sync:{notice.member_id}:{notice.event_id}", *tier_sync_call(notice=notice))
        for notice in notices
        if notice.customer_id
    ]
    admin_calls_enqueue_many(shop=shop, kind=KIND, calls=calls)
    return len(calls)
