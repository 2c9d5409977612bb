"""Real concurrency on PostgreSQL: the same order's webhooks, delivered at once by several
workers, complete a challenge once."""

from __future__ import annotations

import json
import uuid

import pytest
from django.conf import settings
from django.test import Client

from loyalty_app.challenges.models import ChallengeProgress, MemberBadge
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.selectors import ledger_balance
from loyalty_app.members.models import Member
from shopify_bridge.devstore.client import webhook_headers
from tests.concurrency import run_concurrently

from .conftest import CUSTOMER, badge, challenge_active, paid_order

pytestmark = pytest.mark.django_db(transaction=True)


def deliver(topic: str, payload: dict) -> int:
    body = json.dumps(payload).encode()
    headers = webhook_headers(
        body=body,
        secret=settings.SHOPIFY_API_SECRET,
        topic=topic,
        shop_domain="alpha-store.myshopify.com",
        webhook_id=str(uuid.uuid4()),
    )
    response = Client().post(
        "/shopify/webhooks",
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    return response.status_code


def test_the_same_order_delivered_at_once_completes_the_challenge_once(shop, api):
    # Given 2 of 3 orders
    regular = badge(api)
    challenge_active(api, block="orders_count", orders=3, reward_points=50, badge_id=regular["id"])
    for order_id in (9001, 9002):
        assert deliver("orders/paid", paid_order(order_id)) == 200

    # When the third order is delivered 6 times at once (paid and updated, each its own
    # webhook id) while a fourth order arrives twice
    third, fourth = paid_order(9003), paid_order(9004)
    jobs = [("orders/paid", third), ("orders/updated", third)] * 3
    jobs += [("orders/paid", fourth)] * 2
    results, errors = run_concurrently(lambda i: deliver(*jobs[i]), len(jobs))

    # Then every delivery was accepted and the reward was given exactly once
    assert errors == [] and results == [200] * len(jobs)
    member = Member.objects.get(external_id=str(CUSTOMER))
    challenge_entries = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHALLENGE)
    assert list(challenge_entries.values_list("points", flat=True)) == [50]
    row = ChallengeProgress.objects.get()
    assert (row.value, row.completions, row.completed) == (4, 1, True)
    assert MemberBadge.objects.count() == 1
    assert member.points_balance == ledger_balance(member=member) == 4 * 30 + 50
