"""The Admin API outbox: every call the app owes a shop, recorded with the change that needs
it and performed once by a worker.

Why: a redemption debits points and must create a discount code in the shop; a tier change
must set a customer tag. The ledger change and "the shop must hear of it" are one decision,
so they are written in one transaction (``admin_call_enqueue`` inside the caller's
``transaction.atomic``). The slow, failing, rate-limited call to Shopify happens after
commit, in a Celery task, outside any transaction.

How a call moves (``AdminApiCall.status``):

- ``pending``: owed. ``next_attempt_at`` is the earliest time it may be tried.
- ``in_flight``: a worker claimed it (row lock, ``skip_locked``) and holds a lease until
  ``next_attempt_at``; past the lease the worker is presumed dead and the call is claimed
  again.
- ``done``: Shopify answered without errors (or "already there" for a call that may meet
  its own earlier success, see ``ALREADY_DONE``); ``result`` holds the answer's ``data``.
  Never performed again.
- ``failed``: given up: Shopify refused it (userErrors, a GraphQL error, a 4xx) or it
  failed ``ADMIN_CALL_MAX_ATTEMPTS`` times. Visible on the admin's Activity page; the
  merchant's retry button (``admin_call_retry``) makes it ``pending`` again.

Retries: a transient error (HTTP 5xx/429, timeout, connection, an auth error that an
app/uninstalled may explain) waits ``ADMIN_CALL_BACKOFF_SECONDS`` doubled per attempt (capped
at 30 minutes). A THROTTLED answer waits exactly until the shop's bucket holds the call's
cost again and does not count as an attempt. A shop that is uninstalled keeps its calls
pending, untouched, until it is installed again.

The result hook (``on_result``, a dotted path) is called once with the final outcome, in
its own transaction, after the outcome is recorded: ``hook(shop=..., kind=..., key=...,
ok=..., data=..., reason=...)``. A done or failed call whose ``next_attempt_at`` is still
set owes its hook (the hook raised, or the worker died): the sweep runs it again, so a
hook must be idempotent. The hook is how the rewards code marks a redemption delivered, or
gives the points back with a ledger entry when the call is given up.

At-least-once at the edge: if Shopify's answer is lost (a timeout after Shopify acted),
the call is tried again. Calls built to be repeated (tags, metafields, usage records with
an idempotency key) are safe; a discount code met again as TAKEN on a retry counts as
done; a store credit retried after a timeout may be applied twice, so a reconciliation
reads the account's transactions (the simulator's ``slow`` mode reproduces the case).

A periodic sweep (every ``ADMIN_CALL_SWEEP_INTERVAL_SECONDS``) re-enqueues pending calls
overdue by a grace period (a lost broker message, or eager mode where retries are not
scheduled), in-flight calls whose lease ended, and owed hooks.
"""

from .selectors import AdminCallSummary, admin_calls_failed_count, admin_calls_recent
from .services import (
    AdminCallNotRetryable,
    admin_call_enqueue,
    admin_call_perform,
    admin_call_retry,
    admin_calls_enqueue_many,
    admin_calls_sweep,
)

__all__ = [
    "AdminCallNotRetryable",
    "AdminCallSummary",
    "admin_call_enqueue",
    "admin_call_perform",
    "admin_call_retry",
    "admin_calls_enqueue_many",
    "admin_calls_failed_count",
    "admin_calls_recent",
    "admin_calls_sweep",
]
