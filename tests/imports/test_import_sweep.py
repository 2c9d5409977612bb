"""Imports whose message was lost are run again by the periodic sweep."""

from __future__ import annotations

from datetime import timedelta

from loyalty_app.common.time import now
from loyalty_app.imports.models import ImportJob
from loyalty_app.imports.services import import_job_create
from loyalty_app.imports.tasks import import_jobs_sweep
from loyalty_app.members.models import Member


def test_an_import_whose_message_was_lost_is_run_by_the_sweep_and_a_fresh_one_is_left(shop):
    # Given two stored imports that no worker picked up, one of them 40 minutes old
    lost, _ = import_job_create(
        shop=shop.shop,
        content=b"customer_id,points\n301,120\n",
        filename="old.csv",
        created_by="test",
        enqueue=False,
    )
    fresh, _ = import_job_create(
        shop=shop.shop,
        content=b"customer_id,points\n302,80\n",
        filename="new.csv",
        created_by="test",
        enqueue=False,
    )
    ImportJob.objects.filter(pk=lost.pk).update(updated_at=now() - timedelta(minutes=40))

    # When the sweep runs
    assert import_jobs_sweep.delay().get() == 1

    # Then the lost one is imported, the fresh one still waits for its own message
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == ImportJob.Status.DONE
    assert Member.objects.get(shop=shop.shop, external_id="301").points_balance == 120
    assert fresh.status == ImportJob.Status.RECEIVED
    # And a second sweep finds nothing to do
    assert import_jobs_sweep.delay().get() == 0
