"""The pieces that balance imports and bulk awards share for their stored runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError

from loyalty_app.common.longruns import (
    LONG_RUN_OPTIONS,
    STALLED_AFTER,
    TIME_LIMIT,
    run_fail,
    stalled_rerun,
    upload_save,
)
from loyalty_app.imports.models import ImportJob
from loyalty_app.imports.tasks import import_job_run


def _job(shop, *, key: str = "", sha256: str = "a" * 64) -> ImportJob:
    return ImportJob(
        shop=shop, sha256=sha256, size_bytes=3, content=b"x,y", lines=1, idempotency_key=key
    )


def test_a_key_replayed_in_one_shop_returns_its_upload_and_another_shop_gets_its_own(
    shop, other_shop
):
    # Given an upload stored under key k1 in the first shop
    first = _job(shop.shop, key="k1")
    assert upload_save(first) is None

    # When the same key comes again in that shop, and in another shop
    again = upload_save(_job(shop.shop, key="k1", sha256="b" * 64))
    theirs = _job(other_shop.shop, key="k1")
    stored_for_them = upload_save(theirs)

    # Then the first shop gets its own upload back, and the other shop's is new
    assert again is not None and again.pk == first.pk and again.sha256 == "a" * 64
    assert stored_for_them is None
    assert theirs.pk != first.pk
    assert ImportJob.objects.filter(shop=shop.shop).count() == 1
    assert ImportJob.objects.filter(shop=other_shop.shop).count() == 1


def test_without_a_key_every_upload_is_new_and_then_runs_inside_the_save(shop):
    calls: list[int | None] = []
    one, two = _job(shop.shop), _job(shop.shop)

    assert upload_save(one, then=lambda: calls.append(one.pk)) is None
    assert upload_save(two, then=lambda: calls.append(two.pk)) is None

    assert calls == [one.pk, two.pk]


def test_another_integrity_error_is_raised(shop):
    broken = _job(shop.shop)
    broken.imported, broken.lines = 2, 1  # breaks import_job_counts_within_lines

    with pytest.raises(IntegrityError):
        upload_save(broken)


def test_a_failed_run_keeps_its_error_and_cursor(shop):
    job = _job(shop.shop)
    upload_save(job)
    ImportJob.objects.filter(pk=job.pk).update(cursor_line=7, status="processing")

    run_fail(ImportJob, job.pk, ValueError("x" * 3000))

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.error == ("ValueError: " + "x" * 3000)[:2000]
    assert job.cursor_line == 7


def test_the_sweep_enqueues_what_has_not_moved_for_longer_than_a_run_may_last(clock):
    class Task:
        def __init__(self) -> None:
            self.sent: list[int] = []

        def delay(self, pk: int) -> None:
            self.sent.append(pk)

    asked = []

    def stalled(*, before):
        asked.append(before)
        return [3, 5]

    task = Task()
    assert stalled_rerun(stalled=stalled, task=task) == 2
    assert task.sent == [3, 5]
    assert asked == [clock.current - STALLED_AFTER]
    assert STALLED_AFTER > timedelta(seconds=TIME_LIMIT)


def test_a_run_task_has_the_long_run_options():
    assert import_job_run.acks_late is True
    assert import_job_run.time_limit == TIME_LIMIT == LONG_RUN_OPTIONS["time_limit"]
    assert import_job_run.soft_time_limit == 1800
    assert import_job_run.max_retries == 8
