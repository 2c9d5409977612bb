"""Activity: recent points, imports, the audit log, failed Admin API calls and their retry."""

from __future__ import annotations

import pytest

from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.merchant_admin.models import AuditEntry

from .conftest import AdminClient, member_create

pytestmark = pytest.mark.django_db


def test_recent_points_are_listed_and_filtered_by_kind(
    admin: AdminClient, other_admin: AdminClient
) -> None:
    member = member_create(admin.shop, 1)
    ledger_entry_add(
        member=member, kind="order", points=120, idempotency_key="o1", reason="Purchase #1001"
    )
    ledger_entry_add(
        member=member, kind="expiry", points=-20, idempotency_key="e1", reason="Points expired"
    )
    theirs = member_create(other_admin.shop, 1)
    ledger_entry_add(
        member=theirs, kind="order", points=7, idempotency_key="o1", reason="Their purchase"
    )
    body = admin.get("/app/activity/").content.decode()
    assert "Purchase #1001" in body and "Points expired" in body and "Their purchase" not in body
    expiries = admin.get("/app/activity/", {"kind": "expiries"})
    assert [e.reason for e in expiries.context["recent"].entries] == ["Points expired"]


def test_admin_changes_appear_in_the_audit_log(admin: AdminClient) -> None:
    admin.post("/app/program/status", {"next": "home"})
    response = admin.get("/app/activity/")
    assert [a.action for a in response.context["recent"].audit] == ["program.update"]
    assert b"staff:42" in response.content


def test_retrying_an_unknown_call_is_not_found_and_audits_nothing(admin: AdminClient) -> None:
    response = admin.post("/app/activity/calls/999999/retry")
    assert response.status_code == 404
    assert not AuditEntry.objects.exists()


@pytest.fixture
def outbox_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """The platform port with the outbox's reads and retry, as shopify_bridge offers them."""
    from shopify_bridge import port
    from shopify_bridge.outbox import selectors, services

    for name, value in (
        ("admin_calls_recent", selectors.admin_calls_recent),
        ("admin_calls_failed_count", selectors.admin_calls_failed_count),
        ("admin_call_retry", services.admin_call_retry),
        ("AdminCallNotRetryable", services.AdminCallNotRetryable),
    ):
        monkeypatch.setattr(port, name, getattr(port, name, value), raising=False)


def failed_call(shop: object, key: str) -> object:
    from shopify_bridge.models import AdminApiCall

    return AdminApiCall.objects.create(
        shop=shop,
        kind="store_credit",
        idempotency_key=key,
        document="mutation { x }",
        status="failed",
        attempts=8,
        last_error="Throttled: try later",
    )


def test_failed_calls_are_shown_and_a_retry_sends_one_back_audited(
    admin: AdminClient,
    other_admin: AdminClient,
    outbox_port: None,
    django_capture_on_commit_callbacks: object,
) -> None:
    # given a failed call of this shop and one of another shop
    ours = failed_call(admin.shop, "credit-1")
    theirs = failed_call(other_admin.shop, "credit-1")
    # then the Activity page shows ours, with a retry button
    response = admin.get("/app/activity/")
    assert [c.id for c in response.context["failed_calls"]] == [ours.pk]
    assert response.context["failed_count"] == 1
    assert f'data-testid="retry-call-{ours.pk}"'.encode() in response.content
    # when the merchant retries it (the worker's run is not part of this test)
    with django_capture_on_commit_callbacks(execute=False):  # type: ignore[operator]
        response = admin.post(f"/app/activity/calls/{ours.pk}/retry")
    # then it is pending again, retried by them, and audited
    assert response.status_code == 303 and "toast=call_retried" in response["Location"]
    ours.refresh_from_db()
    assert (ours.status, ours.retried_by) == ("pending", "staff:42")
    assert AuditEntry.objects.get(shop=admin.shop).action == "admin_call.retry"
    # and another shop's call cannot be retried from here; a pending one not again
    assert admin.post(f"/app/activity/calls/{theirs.pk}/retry").status_code == 404
    assert admin.post(f"/app/activity/calls/{ours.pk}/retry").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "failed"
    assert AuditEntry.objects.filter(shop=admin.shop).count() == 1
