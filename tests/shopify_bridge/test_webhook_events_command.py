from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from shopify_bridge.models import WebhookEvent


def run(*args: str) -> list[dict]:
    out = StringIO()
    call_command("webhook_events", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


@pytest.fixture
def events(shop, other_shop):
    failed = WebhookEvent.objects.create(
        shop=shop.shop,
        webhook_id="f1",
        topic="orders/create",
        payload={"id": "x"},
        status="failed",
        last_error="PayloadError: id must be a positive integer",
    )
    stuck = WebhookEvent.objects.create(
        shop=shop.shop,
        webhook_id="s1",
        topic="orders/create",
        payload={"id": 5, "line_items": [], "financial_status": "paid"},
    )
    WebhookEvent.objects.filter(pk=stuck.pk).update(
        received_at=timezone.now() - timedelta(minutes=30)
    )
    fresh = WebhookEvent.objects.create(
        shop=shop.shop, webhook_id="n1", topic="orders/create", payload={}
    )
    other = WebhookEvent.objects.create(
        shop=other_shop.shop,
        webhook_id="f2",
        topic="orders/create",
        payload={"id": "y"},
        status="failed",
    )
    return {"failed": failed, "stuck": stuck, "fresh": fresh, "other": other}


def test_status_counts_the_backlog(events):
    [status] = run("status")
    assert status["unprocessed"] == 2  # the stuck one and the fresh one
    assert status["failed"] == 2
    assert status["oldest_unprocessed_at"] is not None


def test_list_failed_shows_the_errors_of_one_shop(events):
    rows = run("list", "--failed", "--shop", "alpha-store.myshopify.com")
    assert [r["webhook_id"] for r in rows] == ["f1"]
    assert rows[0]["last_error"] == "PayloadError: id must be a positive integer"


def test_list_stuck_shows_only_events_older_than_the_threshold(events):
    rows = run("list", "--stuck", "--minutes", "10")
    assert [r["webhook_id"] for r in rows] == ["s1"]


def test_replay_of_a_stuck_event_processes_it(events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        [result] = run("replay", "--id", str(events["stuck"].pk))
    assert result == {"replayed": 1}
    events["stuck"].refresh_from_db()
    assert events["stuck"].status == "done"


def test_replay_of_a_bad_payload_fails_again_with_its_error(
    events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run("replay", "--failed", "--shop", "alpha-store.myshopify.com")
    events["failed"].refresh_from_db()
    assert events["failed"].status == "failed"
    assert events["failed"].last_error == "PayloadError: id must be a positive integer, got 'x'"
    events["other"].refresh_from_db()
    assert events["other"].attempts == 0  # another shop's event was left alone


def test_replay_of_an_unknown_id_is_an_error(events):
    with pytest.raises(CommandError, match="do not exist"):
        run("replay", "--id", "999999")
