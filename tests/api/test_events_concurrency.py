"""Concurrent reports on real PostgreSQL: the member's row lock and the event key's unique
constraint keep every limit and every retry exact."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.earning.models import ActionEvent
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.selectors import ledger_balance
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_upsert

THREADS = 20


def post_at_once(token: str, bodies: list[dict[str, Any]]) -> list[Any]:
    """POST every body from its own thread (its own database connection), all released
    at the same moment; returns (status, body) per thread."""
    barrier = threading.Barrier(len(bodies))
    results: list[Any] = [None] * len(bodies)

    def post(index: int) -> None:
        try:
            client = Client(headers={"Authorization": f"Bearer {token}"})
            barrier.wait(timeout=30)
            response = client.post(
                "/api/v1/events", data=json.dumps(bodies[index]), content_type="application/json"
            )
            results[index] = (response.status_code, response.json())
        except Exception as exc:  # reported by the assertion below
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def newsletter_member(shop) -> Member:
    program_update(
        shop=shop.shop, data={"actions": [{"key": "newsletter", "points": 25}]}, actor="test"
    )
    return member_upsert(
        shop=shop.shop, customer=CustomerRef(external_id="501", email="ada@example.com")
    )


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_reports_of_a_once_only_action_award_exactly_once(
    shop, newsletter_member
):
    # Given a once-only action, when 20 different reports arrive at the same moment
    bodies = [
        {"action": "newsletter", "customer_id": "501", "event_id": f"form-{i}"}
        for i in range(THREADS)
    ]
    results = post_at_once(shop.api_token, bodies)

    # Then each got an answer: one award and 19 refusals, each recorded
    assert all(isinstance(r, tuple) for r in results), results
    statuses = Counter((code, body["status"]) for code, body in results)
    assert statuses == {(201, "awarded"): 1, (200, "limit_reached"): THREADS - 1}
    assert ActionEvent.objects.filter(status="awarded").count() == 1
    assert ActionEvent.objects.filter(status="limit_reached").count() == THREADS - 1
    # And the ledger holds one entry, and the cached balance is the ledger's sum
    assert LedgerEntry.objects.count() == 1
    newsletter_member.refresh_from_db()
    assert newsletter_member.points_balance == ledger_balance(member=newsletter_member) == 25


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_retries_of_one_event_record_it_once(shop, newsletter_member):
    # Given one report retried 20 times at the same moment
    body = {"action": "newsletter", "customer_id": "501", "event_id": "form-1"}
    results = post_at_once(shop.api_token, [body] * THREADS)

    # Then one call recorded it and the others replayed the same event
    assert all(isinstance(r, tuple) for r in results), results
    assert Counter(code for code, _ in results) == {201: 1, 200: THREADS - 1}
    assert len({body["id"] for _, body in results}) == 1
    assert all(body["status"] == "awarded" for _, body in results)
    assert ActionEvent.objects.count() == 1
    newsletter_member.refresh_from_db()
    assert newsletter_member.points_balance == ledger_balance(member=newsletter_member) == 25


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_signups_with_one_new_email_make_one_member(shop):
    # Given sign-up points, and 20 reports of the same new email at the same moment
    program_update(
        shop=shop.shop, data={"actions": [{"key": "signup", "points": 100}]}, actor="test"
    )
    bodies = [
        {"action": "signup", "email": "new@example.com", "event_id": f"form-{i}"}
        for i in range(THREADS)
    ]
    results = post_at_once(shop.api_token, bodies)

    # Then one member joined, once
    assert all(isinstance(r, tuple) for r in results), results
    assert Member.objects.filter(shop=shop.shop).count() == 1
    member = Member.objects.get(shop=shop.shop)
    assert ActionEvent.objects.filter(status="awarded").count() == 1
    assert member.points_balance == ledger_balance(member=member) == 100
