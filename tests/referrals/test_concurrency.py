"""The same order event processed by several workers at once rewards the referrer once
(real PostgreSQL, one connection per thread)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty_app.earning.services import order_sync
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.referrals.models import Referral
from shopify_bridge.devstore.payloads import LineSpec, order_payload
from shopify_bridge.translate import purchase_from_payload
from tests.concurrency import run_concurrently

from .conftest import FRIEND, FRIEND_EMAIL, FRIEND_HOME, REFERRER

THREADS = 8


@pytest.mark.django_db(transaction=True)
def test_the_same_order_at_once_from_many_workers_rewards_once(store):
    code = store.invite()
    payload = order_payload(
        order_id=3001,
        customer_id=FRIEND,
        email=FRIEND_EMAIL,
        lines=[LineSpec(price=Decimal("50.00"), discount=Decimal("10.00"))],
        discount_code=code,
    )
    payload["shipping_address"] = FRIEND_HOME
    purchase = purchase_from_payload(payload)

    _, errors = run_concurrently(
        lambda i: order_sync(shop=store.shop, purchase=purchase, actor=f"worker-{i}"), THREADS
    )

    assert errors == []
    entries = LedgerEntry.objects.filter(shop=store.shop, kind=LedgerEntry.Kind.REFERRAL)
    assert list(entries.values_list("points", flat=True)) == [500]
    assert Referral.objects.get().status == Referral.Status.REWARDED
    assert Member.objects.get(shop=store.shop, external_id=str(REFERRER)).points_balance == 540
