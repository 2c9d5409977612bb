"""Members' points balances shown on the customer in the shop: the metafield
``loyalty.points`` (number_integer), so a theme can show the balance without the widget.

A call per order would spend the shop's GraphQL budget, so balances are sent in batches
by a beat job: every run finds the members whose balance differs from what was last sent
(``BalanceMetafield``), and records, in one transaction with the new "sent" values, one
outbox call of ``metafieldsSet`` per 25 members (Shopify's limit per call). A call that
gives up deletes the rows it carried, so the next run sends those balances again; a
balance that changes meanwhile is simply sent again. Members without a customer id in
the shop (known by email only, or redacted) are skipped.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import connection, transaction

from loyalty_app.common.time import now
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

from .models import AdminApiCall, BalanceMetafield
from .outbox.services import admin_call_enqueue
from .tier_sync import NAMESPACE, customer_gid

logger = logging.getLogger(__name__)

KIND = "balance_sync"
PER_CALL = 25  # metafieldsSet takes at most 25 metafields
DOCUMENT = (
    "mutation BalanceSync($metafields: [MetafieldsSetInput!]!) { "
    "metafieldsSet(metafields: $metafields) { metafields { key value } "
    "userErrors { field message code } } }"
)


def _changed(shop: Shop, limit: int) -> list[tuple[int, str, int]]:
    """(member id, customer id, balance) of members whose balance was never sent (and is
    not 0) or differs from what was sent; a customer id that is only digits."""
    members, sent = Member._meta.db_table, BalanceMetafield._meta.db_table
    sql = (
        f"SELECT m.id, m.external_id, m.points_balance FROM {members} m "  # noqa: S608 - table names only
        f"LEFT JOIN {sent} s ON s.member_id = m.id "
        "WHERE m.shop_id = %s AND m.external_id ~ '^[0-9]+$' AND ("
        "(s.id IS NULL AND m.points_balance <> 0) OR s.points_sent <> m.points_balance) "
        "ORDER BY m.id LIMIT %s"
    )
    if connection.vendor != "postgresql":  # SQLite (the demo) has no ~ operator
        sql = sql.replace("m.external_id ~ '^[0-9]+$'", "m.external_id GLOB '[0-9]*'")
    with connection.cursor() as cursor:
        cursor.execute(sql, [shop.pk, limit])
        return [(int(a), str(b), int(c)) for a, b, c in cursor.fetchall()]


def balances_publish(*, shop: Shop, limit: int = 5000) -> int:
    """Send the changed balances of ``shop`` (at most ``limit`` members this run); returns
    how many members were sent. Safe to run twice at once: the shop row is locked."""
    if not shop.is_installed:
        return 0
    sent = 0
    with transaction.atomic():
        Shop.objects.select_for_update().filter(pk=shop.pk).first()
        changed = _changed(shop, limit)
        moment = now()
        for start in range(0, len(changed), PER_CALL):
            chunk = changed[start : start + PER_CALL]
            # What is owed is decided by the rows written below (under the shop's lock), so
            # each call gets its own key: the same balances sent again after a call gave
            # up are a new call, not the failed one.
            fingerprint = uuid.uuid4().hex
            admin_call_enqueue(
                shop=shop,
                kind=KIND,
                key=f"balance-sync:{fingerprint}",
                document=DOCUMENT,
                variables={
                    "metafields": [
                        {
                            "ownerId": customer_gid(customer_id),
                            "namespace": NAMESPACE,
                            "key": "points",
                            "type": "number_integer",
                            "value": str(balance),
                        }
                        for _, customer_id, balance in chunk
                    ]
                },
                on_result="shopify_bridge.balance_sync.balance_call_result",
            )
            # One upsert per call, not a query per member (a run carries up to ``limit``).
            BalanceMetafield.objects.bulk_create(
                [
                    BalanceMetafield(
                        shop=shop, member_id=member_id, points_sent=balance, sent_at=moment
                    )
                    for member_id, _, balance in chunk
                ],
                update_conflicts=True,
                unique_fields=["member"],
                update_fields=["shop", "points_sent", "sent_at"],
            )
            sent += len(chunk)
    return sent


def balance_call_result(
    *, shop: Shop, kind: str, key: str, ok: bool, data: Any = None, reason: str = ""
) -> None:
    """The outbox's outcome: on give-up, forget what this call carried so the next run
    sends it again (a row whose balance was sent again since is left alone)."""
    if ok:
        return
    call = AdminApiCall.objects.filter(shop=shop, idempotency_key=key).first()
    if call is None:
        return
    sent = {
        str(field["ownerId"]).rsplit("/", 1)[-1]: int(field["value"])
        for field in (call.variables or {}).get("metafields", [])
    }
    for customer_id, points in sent.items():
        BalanceMetafield.objects.filter(
            shop=shop, member__external_id=customer_id, points_sent=points
        ).delete()
    logger.warning(
        "balance metafields of %s members not sent to %s: %s",
        len(sent),
        shop.domain,
        reason,
        extra={"shop": shop.domain},
    )
