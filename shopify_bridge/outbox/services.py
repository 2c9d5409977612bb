"""The outbox's writes: record a call, perform it once, retry it, sweep what was lost.

See the package's docstring for the life of a call. Lock order: a single ``AdminApiCall``
row at a time, never with another lock held; Shopify is called with no transaction open.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.module_loading import import_string

from loyalty_app.common.time import now
from loyalty_app.shops.models import Shop

from ..admin_api import (
    AdminApiAuthError,
    AdminApiPermanentError,
    AdminApiThrottled,
    AdminApiTransientError,
    AdminApiUserError,
    admin_graphql,
    user_errors_raise,
)
from ..models import AdminApiCall

logger = logging.getLogger(__name__)

Status = AdminApiCall.Status

_KIND = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
# The longest wait between two tries of a failing call.
BACKOFF_CAP_SECONDS = 1800
# A broker's timer may fire a moment before the call is due by our clock.
EARLY_CLAIM = timedelta(seconds=1)
# The normal path (the on-commit message, the countdown of a retry) should have run a
# due call by then; only later does the sweep presume its message lost.
SWEEP_GRACE = timedelta(seconds=30)
# Throttled: wait until the bucket holds the call's cost, plus this, within these bounds.
THROTTLE_MARGIN_SECONDS = 0.5
THROTTLE_WAIT_BOUNDS = (1.0, 60.0)
# Answers that mean "this call already took effect", per kind: a userError carrying this
# text (in its code or message), and whether it counts only on a retry. A webhook
# subscription that exists is what a re-install wants; a discount code met as TAKEN on a
# retry is the one the lost answer of an earlier try created (the app's codes are random).
ALREADY_DONE: dict[str, tuple[str, bool]] = {
    "webhook_subscription_create": ("already been taken", False),
    "discount_code_create": ("TAKEN", True),
}
_ERROR_LIMIT = 2000

ResultHook = Callable[..., Any]


class AdminCallNotRetryable(Exception):
    """Only a call that was given up (``failed``) can be retried by hand."""


def _result_hook(path: str) -> ResultHook:
    try:
        hook = import_string(path)
    except ImportError as exc:
        raise ValueError(f"on_result {path!r} cannot be imported: {exc}") from None
    if not callable(hook):
        raise ValueError(f"on_result {path!r} is not callable")
    return hook  # type: ignore[no-any-return]


def _enqueue(call_id: int, *, delay: float = 0.0) -> None:
    """Hand a call to a worker, now or after ``delay`` seconds. A lost message loses
    nothing: the sweep re-enqueues every call that is overdue."""
    from ..tasks import admin_call_perform

    if delay > 0 and settings.CELERY_TASK_ALWAYS_EAGER:
        # Eager mode runs a task at once whatever its countdown: the sweep (or the test
        # that stands for it) performs the call once it is due.
        return
    try:
        admin_call_perform.apply_async((call_id,), countdown=delay if delay > 0 else None)
    except Exception:  # The row is stored; the sweep re-enqueues it.
        logger.warning(
            "could not enqueue admin api call %s; the sweep will retry it", call_id, exc_info=True
        )


def admin_call_enqueue(
    *,
    shop: Shop,
    kind: str,
    key: str,
    document: str,
    variables: Mapping[str, Any],
    on_result: str = "",
) -> AdminApiCall:
    """Record a call the shop is owed and have it performed after commit.

    Call it inside the transaction that makes the change needing the call (the ledger
    entry, the redemption), so both are kept or neither is. ``key`` is the idempotency
    key, unique per shop: the same key again returns the first call and records nothing
    (the document and variables of the first call stand). ``on_result`` is the dotted path
    of a function called with the final outcome (see the package's doc).
    """
    if not _KIND.match(kind):
        raise ValueError(f"kind must be a short snake_case name, got {kind!r}")
    if not key or len(key) > 255:
        raise ValueError("key must be 1 to 255 characters")
    if not document.strip():
        raise ValueError("document must be a GraphQL document")
    try:
        json.dumps(dict(variables))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"variables must be JSON: {exc}") from None
    if on_result:
        _result_hook(on_result)
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives a duplicate
            call = AdminApiCall.objects.create(
                shop=shop,
                kind=kind,
                idempotency_key=key,
                document=document,
                variables=dict(variables),
                on_result=on_result,
                next_attempt_at=now(),
            )
    except IntegrityError:
        # Only the (shop, key) constraint means "already recorded".
        first = AdminApiCall.objects.filter(shop=shop, idempotency_key=key).first()
        if first is None:
            raise
        return first
    transaction.on_commit(lambda: _enqueue(call.pk))
    logger.info(
        "admin api call %s (%s) recorded for %s",
        call.pk,
        kind,
        shop.domain,
        extra={"shop": shop.domain, "call": call.pk, "kind": kind},
    )
    return call


def admin_calls_enqueue_many(
    *, shop: Shop, kind: str, calls: Sequence[tuple[str, str, Mapping[str, Any]]]
) -> None:
    """Record many calls of one ``kind`` at once, each ``(key, document, variables)``, in
    one statement, and have the pending ones performed after commit. As for
    ``admin_call_enqueue``: call it inside the transaction that makes the change, and a
    key recorded before keeps its first call (nothing is recorded again)."""
    if not _KIND.match(kind):
        raise ValueError(f"kind must be a short snake_case name, got {kind!r}")
    if not calls:
        return
    moment = now()
    rows = [
        AdminApiCall(
            shop=shop,
            kind=kind,
            idempotency_key=key,
            document=document,
            variables=dict(variables),
            next_attempt_at=moment,
        )
        for key, document, variables in calls
    ]
    keys = [row.idempotency_key for row in rows]
    AdminApiCall.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)

    def enqueue() -> None:
        pending = AdminApiCall.objects.filter(
            shop=shop, idempotency_key__in=keys, status=Status.PENDING
        ).values_list("pk", flat=True)
        for call_id in pending:
            _enqueue(call_id)

    transaction.on_commit(enqueue)


def _backoff(attempts: int) -> float:
    return float(
        min(BACKOFF_CAP_SECONDS, settings.ADMIN_CALL_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    )


def _throttle_wait(exc: AdminApiThrottled) -> float:
    low, high = THROTTLE_WAIT_BOUNDS
    wanted = (exc.retry_after or 0.0) + THROTTLE_MARGIN_SECONDS
    return min(high, max(low, wanted))


def _claim(call_id: int) -> tuple[AdminApiCall, datetime] | str:
    """Take a call for this worker: ``in_flight`` with a lease and one more attempt.

    Returns the call and its lease's end, or why it was not taken: "skipped" (done, given up, held by a live
    worker, or locked by one claiming it now), "not_due", "waiting" (shop uninstalled),
    "hook" (done or given up, its result hook still owed), "missing".
    """
    moment = now()
    with transaction.atomic():
        call = (
            AdminApiCall.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("shop")
            .filter(pk=call_id)
            .first()
        )
        if call is None:
            exists = AdminApiCall.objects.filter(pk=call_id).exists()
            return "skipped" if exists else "missing"
        if call.status in (Status.DONE, Status.FAILED):
            return "hook" if call.next_attempt_at is not None and call.on_result else "skipped"
        due_at = call.next_attempt_at or moment
        if call.status == Status.IN_FLIGHT and due_at > moment:
            return "skipped"  # a live worker holds it
        if not call.shop.is_installed:
            # Nothing is tried for an uninstalled shop; the sweep leaves its calls alone
            # until it is installed again. An abandoned lease goes back to pending.
            if call.status == Status.IN_FLIGHT:
                AdminApiCall.objects.filter(pk=call.pk).update(
                    status=Status.PENDING, next_attempt_at=moment, updated_at=moment
                )
            return "waiting"
        if call.status == Status.PENDING and due_at > moment + EARLY_CLAIM:
            return "not_due"
        lease = moment + timedelta(seconds=settings.ADMIN_CALL_LEASE_SECONDS)
        AdminApiCall.objects.filter(pk=call.pk).update(
            status=Status.IN_FLIGHT,
            attempts=F("attempts") + 1,
            next_attempt_at=lease,
            updated_at=moment,
        )
    call.status = Status.IN_FLIGHT
    call.attempts += 1
    call.next_attempt_at = lease
    return call, lease


def _record(call: AdminApiCall, lease: datetime, **changes: Any) -> bool:
    """Write an attempt's outcome, only if this worker still holds the call (its lease is
    the fence: a worker whose lease ended and was taken over records nothing)."""
    changes.setdefault("updated_at", now())
    updated = AdminApiCall.objects.filter(
        pk=call.pk, status=Status.IN_FLIGHT, next_attempt_at=lease
    ).update(**changes)
    if not updated:
        logger.warning(
            "admin api call %s: lease lost before its outcome was recorded",
            call.pk,
            extra={"call": call.pk, "kind": call.kind},
        )
    return bool(updated)


def _already_done(call: AdminApiCall, exc: AdminApiUserError) -> bool:
    rule = ALREADY_DONE.get(call.kind)
    if rule is None or not exc.user_errors:
        return False
    needle, only_on_retry = rule
    if only_on_retry and call.attempts <= 1:
        return False
    return all(
        needle in f"{e.get('code') or ''} {e.get('message') or ''}"
        for e in exc.user_errors
        if isinstance(e, dict)
    )


def _described(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_ERROR_LIMIT]


def admin_call_perform(*, call_id: int) -> str:
    """Perform a recorded call once and record its outcome.

    Returns "done", "failed" (given up), "retry" (a transient error; tried again later),
    "throttled" (tried again once the bucket holds its cost), "hook" / "hook_failed" (only
    the owed result hook was run), or why nothing was sent (see ``_claim``). Slow I/O: the
    caller holds no transaction.
    """
    claimed = _claim(call_id)
    if claimed == "hook":
        return _hook_run(call_id)
    if isinstance(claimed, str):
        return claimed
    call, lease = claimed
    context = {"shop": call.shop.domain, "call": call.pk, "kind": call.kind}
    try:
        answer = admin_graphql(shop=call.shop, query=call.document, variables=call.variables)
        for name, payload in answer.data.items():
            if isinstance(payload, Mapping):
                user_errors_raise(payload, mutation=name)
    except AdminApiThrottled as exc:
        wait = _throttle_wait(exc)
        # Not an attempt: Shopify said exactly when it can take the call.
        if _record(
            call,
            lease,
            status=Status.PENDING,
            attempts=F("attempts") - 1,
            next_attempt_at=now() + timedelta(seconds=wait),
            last_error=_described(exc),
        ):
            _enqueue(call.pk, delay=wait)
        logger.info("admin api call %s throttled; again in %.1fs", call.pk, wait, extra=context)
        return "throttled"
    except AdminApiUserError as exc:
        if _already_done(call, exc):
            result = {"already_done": True, "userErrors": exc.user_errors}
            return _finish(call, lease, result=result, context=context)
        return _give_up(call, lease, _described(exc), context=context)
    except AdminApiAuthError as exc:
        call.shop.refresh_from_db(fields=["state"])
        if not call.shop.is_installed:
            # Uninstalled while the call was under way: it waits for a re-install.
            _record(
                call,
                lease,
                status=Status.PENDING,
                attempts=F("attempts") - 1,
                next_attempt_at=now(),
                last_error=_described(exc),
            )
            return "waiting"
        # A revoked token is usually followed by app/uninstalled; until then, retry.
        return _retry(call, lease, exc, context=context)
    except AdminApiPermanentError as exc:
        return _give_up(call, lease, _described(exc), context=context)
    except AdminApiTransientError as exc:
        return _retry(call, lease, exc, context=context)
    except Exception as exc:
        # A bug on our side (or an answer we cannot read): keep trying within the limit,
        # visible to operators meanwhile.
        logger.exception("admin api call %s failed unexpectedly", call.pk, extra=context)
        return _retry(call, lease, exc, context=context)
    return _finish(call, lease, result=answer.data, context=context)


def _retry(
    call: AdminApiCall, lease: datetime, exc: BaseException, *, context: dict[str, Any]
) -> str:
    if call.attempts >= settings.ADMIN_CALL_MAX_ATTEMPTS:
        reason = f"gave up after {call.attempts} attempts: {_described(exc)}"
        return _give_up(call, lease, reason[:_ERROR_LIMIT], context=context)
    wait = _backoff(call.attempts)
    if _record(
        call,
        lease,
        status=Status.PENDING,
        next_attempt_at=now() + timedelta(seconds=wait),
        last_error=_described(exc),
    ):
        _enqueue(call.pk, delay=wait)
    logger.warning(
        "admin api call %s attempt %d failed, again in %.0fs: %s",
        call.pk,
        call.attempts,
        wait,
        exc,
        extra=context,
    )
    return "retry"


def _give_up(call: AdminApiCall, lease: datetime, reason: str, *, context: dict[str, Any]) -> str:
    moment = now()
    recorded = _record(
        call,
        lease,
        status=Status.FAILED,
        last_error=reason,
        done_at=moment,
        # Set while the result hook is owed (see _hook_run).
        next_attempt_at=moment if call.on_result else None,
    )
    logger.warning("admin api call %s given up: %s", call.pk, reason, extra=context)
    if recorded and call.on_result:
        _hook_run(call.pk)
    return "failed"


def _finish(
    call: AdminApiCall, lease: datetime, *, result: dict[str, Any], context: dict[str, Any]
) -> str:
    moment = now()
    recorded = _record(
        call,
        lease,
        status=Status.DONE,
        result=result,
        last_error="",
        done_at=moment,
        next_attempt_at=moment if call.on_result else None,
    )
    logger.info("admin api call %s done", call.pk, extra=context)
    if recorded and call.on_result:
        _hook_run(call.pk)
    return "done"


def _hook_run(call_id: int) -> str:
    """Call a finished call's result hook, in one transaction with clearing the mark that
    it is owed, so a hook that commits runs once and one that raises runs again later."""
    with transaction.atomic():
        call = (
            AdminApiCall.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("shop")
            .filter(
                pk=call_id,
                status__in=(Status.DONE, Status.FAILED),
                next_attempt_at__isnull=False,
            )
            .first()
        )
        if call is None:
            return "skipped"
        ok = call.status == Status.DONE
        try:
            with transaction.atomic():
                if call.on_result:
                    _result_hook(call.on_result)(
                        shop=call.shop,
                        kind=call.kind,
                        key=call.idempotency_key,
                        ok=ok,
                        data=call.result if ok else None,
                        reason="" if ok else call.last_error,
                    )
        except Exception:
            logger.exception(
                "result hook %s of admin api call %s failed; the sweep runs it again",
                call.on_result,
                call.pk,
                extra={"shop": call.shop.domain, "call": call.pk, "kind": call.kind},
            )
            AdminApiCall.objects.filter(pk=call.pk).update(
                next_attempt_at=now() + timedelta(seconds=settings.ADMIN_CALL_BACKOFF_SECONDS)
            )
            return "hook_failed"
        AdminApiCall.objects.filter(pk=call.pk).update(next_attempt_at=None, updated_at=now())
    return "hook"


def admin_call_retry(*, shop: Shop, call_id: int, actor: str) -> AdminApiCall:
    """Send a given-up call back to pending (the merchant's retry button): a fresh set of
    attempts, performed at once. Raises ``AdminApiCall.DoesNotExist`` for a call that is
    not the shop's, ``AdminCallNotRetryable`` for one that is not ``failed``. The result
    hook is called again with the new outcome."""
    with transaction.atomic():
        call = AdminApiCall.objects.select_for_update().get(shop=shop, pk=call_id)
        if call.status != Status.FAILED:
            raise AdminCallNotRetryable(
                f"admin api call {call_id} is {call.status}; only a given-up call is retried"
            )
        moment = now()
        call.status = Status.PENDING
        call.attempts = 0
        call.next_attempt_at = moment
        call.done_at = None
        call.retried_by = actor[:255]
        call.save(
            update_fields=[
                "status",
                "attempts",
                "next_attempt_at",
                "done_at",
                "retried_by",
                "updated_at",
            ]
        )
        transaction.on_commit(lambda: _enqueue(call.pk))
    logger.info(
        "admin api call %s retried by %s",
        call.pk,
        actor,
        extra={"shop": shop.domain, "call": call.pk, "kind": call.kind},
    )
    return call


def admin_calls_sweep(*, limit: int = 1000) -> int:
    """Re-enqueue what no message will perform: pending calls overdue by the grace period
    (a lost message; in eager mode, every retry), in-flight calls whose lease ended (a
    dead worker), and finished calls whose result hook is still owed. Calls of an
    uninstalled shop wait. Returns how many were enqueued."""
    moment = now()
    overdue = moment - SWEEP_GRACE
    due = (
        Q(status=Status.PENDING, next_attempt_at__lte=overdue, shop__state=Shop.State.INSTALLED)
        | Q(status=Status.IN_FLIGHT, next_attempt_at__lte=moment)
        | Q(status__in=(Status.DONE, Status.FAILED), next_attempt_at__lte=overdue)
    )
    with transaction.atomic():
        ids = list(
            AdminApiCall.objects.filter(due)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        for pk in ids:
            transaction.on_commit(lambda pk=pk: _enqueue(pk))
    if ids:
        logger.info("admin api call sweep re-enqueued %d calls", len(ids))
    return len(ids)
