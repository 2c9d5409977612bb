"""Celery options and the stalled-run sweep for long runs over a stored upload.

A balance import and a bulk award both read a stored file in batches, each batch one
transaction that also moves the run's cursor, so running one again resumes after its
last committed batch. Such a run takes minutes, not the global 240 s time limit, and a
run stopped anyway (time limit, killed worker, lost message) is simply run again: by
the broker delivering the message again (``acks_late``), by a retry after a transient
database error, or by the periodic sweep of runs that stopped moving.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    models,
    transaction,
)

from loyalty_app.common.time import now

# Errors a later attempt can get past: the database was briefly away, or chose this
# transaction as a deadlock victim.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)

M = TypeVar("M", bound=models.Model)

TIME_LIMIT = 1900

# The options of a run's task: ``@shared_task(name=..., **LONG_RUN_OPTIONS)``.
LONG_RUN_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
    "soft_time_limit": 1800,
    "time_limit": TIME_LIMIT,
}

# Longer than a run may last (TIME_LIMIT), so a run still going is left alone.
STALLED_AFTER = timedelta(minutes=35)


class _Task(Protocol):
    def delay(self, *args: Any) -> Any: ...


def stalled_rerun(*, stalled: Callable[..., list[int]], task: _Task) -> int:
    """Enqueue ``task`` again for each id ``stalled(before=...)`` finds: the runs not
    touched for ``STALLED_AFTER``. Returns how many. Safe: a run resumes after its
    cursor, and a finished one is left alone by its service."""
    before: datetime = now() - STALLED_AFTER
    ids = stalled(before=before)
    for pk in ids:
        task.delay(pk)
    return len(ids)


def upload_save(upload: M, *, then: Callable[[], None] | None = None) -> M | None:
    """Save a new upload row (a model with ``shop``, ``idempotency_key`` and a unique
    constraint on the two where the key is set) in a transaction, with ``then`` run
    inside it (enqueue on commit, audit). Returns None once saved. When the shop already
    has an upload under that key, saves nothing and returns that upload (without its
    ``content``): the caller decides whether it is the same one. Any other integrity
    error is raised."""
    model: Any = type(upload)
    key = upload.idempotency_key  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            upload.save()
            if then is not None:
                then()
    except IntegrityError:
        existing = (
            model.objects.defer("content")
            .filter(shop_id=upload.shop_id, idempotency_key=key)  # type: ignore[attr-defined]
            .first()
            if key
            else None
        )
        if existing is None:
            raise
        return existing
    return None


def run_fail(model: type[models.Model], pk: int, error: BaseException) -> None:
    """Mark a run failed with its error; its cursor stays for a rerun."""
    manager: Any = model._default_manager
    manager.filter(pk=pk).update(
        status="failed", error=f"{type(error).__name__}: {error}"[:2000], updated_at=now()
    )


def shop_runs_lock(*, name: str, shop_id: int) -> None:
    """Take the transaction-scoped lock ``<name>:shop:<shop_id>`` (PostgreSQL advisory
    lock; SQLite has one writer anyway), held until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"{name}:shop:{shop_id}"],
            )
