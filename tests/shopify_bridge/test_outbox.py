"""The Admin API outbox against the dev-store simulator over real HTTP: a call recorded with
the caller's change is performed once, retried through failures and throttling, given up
visibly with its result hook, retried by hand, and safe under concurrent workers."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from loyalty_app.common.time import now
from loyalty_app.shops.models import Shop
from shopify_bridge.devstore.models import DevStore, DevStoreMutation
from shopify_bridge.models import AdminApiCall
from shopify_bridge.outbox import (
    AdminCallNotRetryable,
    admin_call_enqueue,
    admin_call_perform,
    admin_call_retry,
    admin_calls_failed_count,
    admin_calls_recent,
    admin_calls_sweep,
)
from shopify_bridge.outbox import services as outbox_services
from tests.concurrency import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = "gid://shopify/Customer/7001"
TAGS_ADD = """
mutation TagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}
"""
DEBIT = """
mutation Debit($id: ID!, $debitInput: StoreCreditAccountDebitInput!) {
  storeCreditAccountDebit(id: $id, debitInput: $debitInput) {
    storeCreditAccountTransaction { id }
    userErrors { field message code }
  }
}
"""
HOOK = "tests.shopify_bridge.test_outbox.record_outcome"
FAILING_HOOK = "tests.shopify_bridge.test_outbox.fail_once"

OUTCOMES: list[dict[str, Any]] = []
HOOK_FAILURES: list[int] = []


def record_outcome(**outcome: Any) -> None:
    OUTCOMES.append(outcome)


def fail_once(**outcome: Any) -> None:
    if not HOOK_FAILURES:
        HOOK_FAILURES.append(1)
        raise RuntimeError("the rewards database is away")
    OUTCOMES.append(outcome)


@pytest.fixture(autouse=True)
def _fresh_outcomes() -> None:
    OUTCOMES.clear()
    HOOK_FAILURES.clear()


def enqueue_tag(shop: Shop, key: str = "tier-gold-7001", on_result: str = HOOK) -> AdminApiCall:
    """Record a tagsAdd the way a service does: inside its own transaction."""
    with transaction.atomic():
        return admin_call_enqueue(
            shop=shop,
            kind="tags_add",
            key=key,
            document=TAGS_ADD,
            variables={"id": CUSTOMER, "tags": ["vip-gold"]},
            on_result=on_result,
        )


def mutations(shop: Shop, name: str = "tagsAdd") -> int:
    return DevStoreMutation.objects.filter(store__domain=shop.domain, name=name).count()


def make_due(call: AdminApiCall, *, ago: timedelta = timedelta(0)) -> None:
    AdminApiCall.objects.filter(pk=call.pk).update(next_attempt_at=now() - ago)


def reload(call: AdminApiCall) -> AdminApiCall:
    return AdminApiCall.objects.get(pk=call.pk)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float]]:
    """Messages to the worker are kept here instead of being run (eager mode would run
    them at once): the test decides when a worker performs the call."""
    sent: list[tuple[int, float]] = []
    monkeypatch.setattr(
        outbox_services, "_enqueue", lambda call_id, delay=0.0: sent.append((call_id, delay))
    )
    return sent


def test_a_recorded_call_is_performed_once_after_commit(shop, simulator):
    # given the app installed on a simulated shop
    simulator.install(shop.shop)

    # when a service records a tagsAdd in its transaction
    call = enqueue_tag(shop.shop)

    # then a worker performed it after commit, once, and the hook heard of it
    call = reload(call)
    assert call.status == AdminApiCall.Status.DONE
    assert call.attempts == 1
    assert call.next_attempt_at is None
    assert call.done_at is not None
    assert call.result["tagsAdd"]["node"] == {"id": CUSTOMER}
    assert mutations(shop.shop) == 1
    assert OUTCOMES == [
        {
            "shop": shop.shop,
            "kind": "tags_add",
            "key": "tier-gold-7001",
            "ok": True,
            "data": call.result,
            "reason": "",
        }
    ]
    # and performing it again changes nothing
    assert admin_call_perform(call_id=call.pk) == "skipped"
    assert mutations(shop.shop) == 1


def test_a_call_recorded_in_a_transaction_that_rolls_back_is_never_sent(shop, simulator, held):
    simulator.install(shop.shop)

    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_tag(shop.shop)
        raise RuntimeError("the ledger entry failed")

    assert not AdminApiCall.objects.exists()
    assert held == []


def test_the_same_key_twice_is_one_call(shop, simulator):
    simulator.install(shop.shop)

    first = enqueue_tag(shop.shop)
    second = enqueue_tag(shop.shop)

    assert second.pk == first.pk
    assert AdminApiCall.objects.count() == 1
    assert mutations(shop.shop) == 1


def test_the_same_key_in_another_shop_is_another_call(shop, other_shop, simulator):
    simulator.install(shop.shop)
    simulator.install(other_shop.shop)

    first = enqueue_tag(shop.shop)
    second = enqueue_tag(other_shop.shop)

    assert second.pk != first.pk
    assert mutations(shop.shop) == 1
    assert mutations(other_shop.shop) == 1


def test_a_503_is_retried_after_a_backoff_and_then_succeeds(shop, simulator, held):
    # given a shop whose Admin API answers 503 once
    simulator.install(shop.shop)
    simulator.fail(shop.shop, "http_503", count=1)
    call = enqueue_tag(shop.shop)

    # when a worker performs it
    outcome = admin_call_perform(call_id=call.pk)

    # then it waits out the first backoff, with Shopify's words kept
    failed_once = reload(call)
    assert outcome == "retry"
    assert failed_once.status == AdminApiCall.Status.PENDING
    assert failed_once.attempts == 1
    assert "503" in failed_once.last_error
    wait = (failed_once.next_attempt_at - now()).total_seconds()
    assert 25 < wait <= 30
    assert held[-1][0] == call.pk and held[-1][1] == pytest.approx(30)
    # and before it is due no worker sends it
    assert admin_call_perform(call_id=call.pk) == "not_due"

    # when it is due
    make_due(call)
    outcome = admin_call_perform(call_id=call.pk)

    # then it is done, with one mutation at the shop
    assert outcome == "done"
    assert reload(call).attempts == 2
    assert reload(call).last_error == ""
    assert mutations(shop.shop) == 1
    assert [o["ok"] for o in OUTCOMES] == [True]


def test_a_throttled_call_waits_until_the_bucket_holds_its_cost(shop, simulator, held):
    # given a shop whose bucket is empty and refills 10 points a second
    simulator.install(shop.shop)
    DevStore.objects.filter(domain=shop.shop.domain).update(
        bucket_size=100, restore_rate=10, bucket_available=0, bucket_at=now()
    )
    call = enqueue_tag(shop.shop)

    # when a worker performs it
    outcome = admin_call_perform(call_id=call.pk)

    # then it waits for the 13 points the call costs (1.3 s at 10/s, plus a margin), and
    # the throttled answer does not count as an attempt
    throttled = reload(call)
    assert outcome == "throttled"
    assert throttled.status == AdminApiCall.Status.PENDING
    assert throttled.attempts == 0
    assert "THROTTLED" in throttled.last_error or "Throttled" in throttled.last_error
    wait = (throttled.next_attempt_at - now()).total_seconds()
    assert 1.0 < wait <= 1.8
    assert held[-1][1] == pytest.approx(1.8, abs=0.1)

    # when the worker's timer fires once that time has passed
    time.sleep(max(0.0, (throttled.next_attempt_at - now()).total_seconds()))
    outcome = admin_call_perform(call_id=call.pk)

    # then the bucket holds enough and the call goes through
    assert outcome == "done"
    assert reload(call).attempts == 1
    assert mutations(shop.shop) == 1


def test_a_user_error_gives_up_at_once_and_calls_the_hook(shop, simulator):
    # given a debit of store credit the customer does not have
    simulator.install(shop.shop)
    with transaction.atomic():
        call = admin_call_enqueue(
            shop=shop.shop,
            kind="store_credit_debit",
            key="refund-order-1001",
            document=DEBIT,
            variables={
                "id": CUSTOMER,
                "debitInput": {"debitAmount": {"amount": "5.00", "currencyCode": "USD"}},
            },
            on_result=HOOK,
        )

    # then Shopify's refusal is final: given up after one attempt, the hook told why
    call = reload(call)
    assert call.status == AdminApiCall.Status.FAILED
    assert call.attempts == 1
    assert call.next_attempt_at is None
    assert "storeCreditAccountDebit refused" in call.last_error
    assert [(o["ok"], o["data"]) for o in OUTCOMES] == [(False, None)]
    assert "Store credit account does not exist" in OUTCOMES[0]["reason"]
    assert admin_calls_failed_count(shop=shop.shop) == 1


def test_a_call_that_keeps_failing_is_given_up_after_the_last_attempt(
    shop, simulator, settings, held
):
    # given at most 3 attempts and a shop that answers 500 to everything
    settings.ADMIN_CALL_MAX_ATTEMPTS = 3
    simulator.install(shop.shop)
    simulator.fail(shop.shop, "http_500")
    call = enqueue_tag(shop.shop)

    # when a worker tries each time it is due
    outcomes = []
    for _ in range(3):
        make_due(call)
        outcomes.append(admin_call_perform(call_id=call.pk))

    # then the backoff doubled between tries and the third failure gave it up for good
    assert outcomes == ["retry", "retry", "failed"]
    assert admin_call_perform(call_id=call.pk) == "skipped"
    assert [delay for _, delay in held] == [0.0, 30.0, 60.0]  # on commit, then backoffs
    call = reload(call)
    assert call.status == AdminApiCall.Status.FAILED
    assert call.attempts == 3
    assert call.last_error.startswith("gave up after 3 attempts: AdminApiTransientError")
    assert "500" in call.last_error
    assert [o["ok"] for o in OUTCOMES] == [False]
    assert simulator.calls(shop.shop) == 3


def test_a_given_up_call_is_retried_by_hand_and_then_succeeds(shop, simulator, settings):
    # given a call given up while the shop answered 500
    settings.ADMIN_CALL_MAX_ATTEMPTS = 1
    simulator.install(shop.shop)
    simulator.fail(shop.shop, "http_500")
    call = enqueue_tag(shop.shop)
    assert reload(call).status == AdminApiCall.Status.FAILED

    # when the shop is healthy again and the merchant presses retry
    simulator.heal(shop.shop)
    retried = admin_call_retry(shop=shop.shop, call_id=call.pk, actor="merchant:owner@alpha")

    # then it is performed after commit and done; the hook heard both outcomes
    call = reload(call)
    assert retried.pk == call.pk
    assert call.status == AdminApiCall.Status.DONE
    assert call.attempts == 1
    assert call.retried_by == "merchant:owner@alpha"
    assert [o["ok"] for o in OUTCOMES] == [False, True]
    assert mutations(shop.shop) == 1
    # and a done call cannot be retried
    with pytest.raises(AdminCallNotRetryable):
        admin_call_retry(shop=shop.shop, call_id=call.pk, actor="merchant:owner@alpha")


def test_another_shop_can_neither_see_nor_retry_a_call(shop, other_shop, simulator, settings):
    # given a given-up call of the first shop
    settings.ADMIN_CALL_MAX_ATTEMPTS = 1
    simulator.install(shop.shop)
    simulator.fail(shop.shop, "http_500")
    call = enqueue_tag(shop.shop)

    # when the other shop reads its activity and presses retry on that id
    recent = admin_calls_recent(shop=other_shop.shop)
    failed = admin_calls_failed_count(shop=other_shop.shop)
    with pytest.raises(AdminApiCall.DoesNotExist):
        admin_call_retry(shop=other_shop.shop, call_id=call.pk, actor="merchant:intruder")

    # then it sees nothing and changes nothing
    assert recent == []
    assert failed == 0
    assert reload(call).status == AdminApiCall.Status.FAILED
    assert [c.id for c in admin_calls_recent(shop=shop.shop)] == [call.pk]


def test_recent_calls_are_newest_first_and_filter_by_status(shop, simulator, settings):
    simulator.install(shop.shop)
    done = enqueue_tag(shop.shop, key="a")
    settings.ADMIN_CALL_MAX_ATTEMPTS = 1
    simulator.fail(shop.shop, "http_503")
    failed = enqueue_tag(shop.shop, key="b")

    everything = admin_calls_recent(shop=shop.shop)
    only_failed = admin_calls_recent(shop=shop.shop, status="failed")

    assert [(c.id, c.status) for c in everything] == [(failed.pk, "failed"), (done.pk, "done")]
    assert [c.id for c in only_failed] == [failed.pk]
    assert "503" in only_failed[0].last_error
    assert admin_calls_recent(shop=shop.shop, limit=1)[0].id == failed.pk
    with pytest.raises(ValueError, match="unknown status"):
        admin_calls_recent(shop=shop.shop, status="lost")


def test_concurrent_workers_perform_a_call_once(shop, simulator, held):
    # given a pending call and a shop that answers slowly (workers overlap)
    simulator.install(shop.shop)
    simulator.fail(shop.shop, "slow", count=1000, slow_ms=300)
    call = enqueue_tag(shop.shop)

    # when eight workers receive it at the same moment
    results, errors = run_concurrently(lambda _: admin_call_perform(call_id=call.pk), 8)

    # then one performed it and the others left it alone
    assert errors == []
    assert sorted(results) == ["done"] + ["skipped"] * 7
    assert mutations(shop.shop) == 1
    assert simulator.calls(shop.shop) == 1
    assert len(OUTCOMES) == 1


def test_a_dead_workers_call_is_taken_over_by_the_sweep_and_its_late_answer_ignored(
    shop, simulator, held
):
    # given a call a worker claimed and then died holding (its lease has ended)
    simulator.install(shop.shop)
    call = enqueue_tag(shop.shop)
    claimed, lease = outbox_services._claim(call.pk)
    AdminApiCall.objects.filter(pk=call.pk).update(next_attempt_at=now() - timedelta(seconds=1))

    # when the sweep runs and another worker performs it
    assert admin_calls_sweep() == 1
    assert held[-1] == (call.pk, 0.0)
    outcome = admin_call_perform(call_id=call.pk)

    # then it is done, and the dead worker's outcome can no longer be written
    assert outcome == "done"
    assert reload(call).attempts == 2
    assert outbox_services._record(claimed, lease, status=AdminApiCall.Status.FAILED) is False
    assert reload(call).status == AdminApiCall.Status.DONE


def test_the_sweep_enqueues_overdue_calls_only(shop, simulator, held):
    simulator.install(shop.shop)
    fresh = enqueue_tag(shop.shop, key="fresh")
    overdue = enqueue_tag(shop.shop, key="overdue")
    make_due(overdue, ago=timedelta(minutes=1))
    held.clear()

    assert admin_calls_sweep() == 1
    assert held == [(overdue.pk, 0.0)]
    assert reload(fresh).status == AdminApiCall.Status.PENDING


def test_an_uninstalled_shops_calls_wait_until_it_is_installed_again(shop, simulator):
    # given a shop that uninstalled the app
    simulator.install(shop.shop)
    Shop.objects.filter(pk=shop.shop.pk).update(state=Shop.State.UNINSTALLED)

    # when a call is recorded for it
    call = enqueue_tag(shop.shop)

    # then nothing is sent and nothing is counted; the sweep leaves it alone
    assert reload(call).status == AdminApiCall.Status.PENDING
    assert reload(call).attempts == 0
    assert simulator.calls(shop.shop) == 0
    make_due(call, ago=timedelta(minutes=5))
    assert admin_calls_sweep() == 0

    # when the shop installs the app again, the next sweep performs it
    Shop.objects.filter(pk=shop.shop.pk).update(state=Shop.State.INSTALLED)
    assert admin_calls_sweep() == 1
    assert reload(call).status == AdminApiCall.Status.DONE
    assert mutations(shop.shop) == 1


def test_a_result_hook_that_raises_is_run_again_by_the_sweep(shop, simulator):
    # given a call whose hook fails the first time
    simulator.install(shop.shop)
    call = enqueue_tag(shop.shop, on_result=FAILING_HOOK)
    owed = reload(call)
    assert owed.status == AdminApiCall.Status.DONE
    assert owed.next_attempt_at is not None
    assert OUTCOMES == []

    # when the sweep finds it overdue
    make_due(call, ago=timedelta(minutes=1))
    assert admin_calls_sweep() == 1

    # then the hook ran once more, the call itself was not sent again
    assert [o["ok"] for o in OUTCOMES] == [True]
    assert reload(call).next_attempt_at is None
    assert mutations(shop.shop) == 1


def test_a_webhook_subscription_that_exists_counts_as_done(shop, simulator):
    simulator.install(shop.shop)
    subscribe = """
    mutation Subscribe($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
      webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
        webhookSubscription { id } userErrors { field message }
      }
    }
    """
    variables = {"topic": "ORDERS_CREATE", "sub": {"callbackUrl": "https://app.example/hooks"}}

    calls = []
    for key in ("install-1", "install-2"):
        with transaction.atomic():
            calls.append(
                admin_call_enqueue(
                    shop=shop.shop,
                    kind="webhook_subscription_create",
                    key=key,
                    document=subscribe,
                    variables=variables,
                )
            )

    assert [reload(c).status for c in calls] == ["done", "done"]
    assert reload(calls[1]).result["already_done"] is True


def test_a_store_credit_through_the_outbox_reaches_the_account(shop, simulator):
    simulator.install(shop.shop)
    credit = """
    mutation Credit($id: ID!, $creditInput: StoreCreditAccountCreditInput!) {
      storeCreditAccountCredit(id: $id, creditInput: $creditInput) {
        storeCreditAccountTransaction { balanceAfterTransaction { amount } }
        userErrors { field message code }
      }
    }
    """
    with transaction.atomic():
        call = admin_call_enqueue(
            shop=shop.shop,
            kind="store_credit_credit",
            key="cashback-order-1001",
            document=credit,
            variables={
                "id": CUSTOMER,
                "creditInput": {"creditAmount": {"amount": "2.40", "currencyCode": "USD"}},
            },
        )

    payload = reload(call).result["storeCreditAccountCredit"]
    balance = payload["storeCreditAccountTransaction"]["balanceAfterTransaction"]["amount"]
    assert Decimal(balance) == Decimal("2.40")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"kind": "Tags Add"}, "kind"),
        ({"key": ""}, "key"),
        ({"document": "  "}, "document"),
        ({"variables": {"when": now}}, "variables"),
        ({"on_result": "tests.shopify_bridge.test_outbox.nowhere"}, "on_result"),
    ],
)
def test_a_call_that_cannot_be_performed_is_refused_when_recorded(shop, changes, message):
    arguments = {
        "shop": shop.shop,
        "kind": "tags_add",
        "key": "k",
        "document": TAGS_ADD,
        "variables": {"id": CUSTOMER, "tags": ["vip"]},
        **changes,
    }

    with pytest.raises(ValueError, match=message):
        admin_call_enqueue(**arguments)

    assert not AdminApiCall.objects.exists()


def test_concurrent_records_of_one_key_are_one_call(shop, simulator, held):
    # given eight services recording the same call at the same moment, each in its own
    # transaction
    simulator.install(shop.shop)

    results, errors = run_concurrently(lambda _: enqueue_tag(shop.shop).pk, 8)

    # then the unique key let one row through and every caller got it
    assert errors == []
    assert len(set(results)) == 1
    assert AdminApiCall.objects.count() == 1
    assert [call_id for call_id, _ in held] == [results[0]]
