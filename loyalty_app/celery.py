"""The Celery application, and the one place where periodic jobs are declared."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_app.settings")

app = Celery("loyalty_app")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_periodic_jobs(sender: Celery, **_kwargs: object) -> None:
    from django.conf import settings

    # Re-enqueue stored webhook events that never reached a worker (a broker lost the
    # message, a worker was killed) or that failed with a transient error.
    sender.add_periodic_task(
        float(settings.WEBHOOK_SWEEP_INTERVAL_SECONDS),
        sender.signature("shopify_bridge.webhook_events_sweep"),
        name="sweep stored webhook events",
    )
    # Perform Admin API calls (store credit, tags, discount codes) that no message will:
    # lost by the broker, retries due in eager mode, a dead worker's lease, an owed result
    # hook. Each call is claimed under a row lock, so a copy enqueued twice runs once.
    sender.add_periodic_task(
        float(settings.ADMIN_CALL_SWEEP_INTERVAL_SECONDS),
        sender.signature("shopify_bridge.admin_calls_sweep"),
        name="sweep admin api calls",
    )
    # Show changed points balances on the shop's customers (metafield loyalty.points), in
    # batches of 25 per Admin API call rather than a call per order.
    sender.add_periodic_task(
        300.0,
        sender.signature("shopify_bridge.balances_publish_all"),
        name="publish points balances to the shop",
    )
    # Make pending order points spendable once their return window is over. Each run
    # confirms every due order, so the interval is the most a shopper waits past it.
    sender.add_periodic_task(
        300.0,
        sender.signature("earning.orders_confirm_due"),
        name="confirm pending order points",
    )
    # Expire points and record expiry reminders (idempotent: a rerun expires nothing
    # twice), hourly so each shop's midnight is near a run whatever its time zone.
    sender.add_periodic_task(
        3600.0,
        sender.signature("earning.points_expire_all"),
        name="expire points",
    )
    # Award birthdays (idempotent: one award per member and year); hourly, so each
    # shop's local midnight is soon followed by a run whatever its time zone.
    sender.add_periodic_task(
        3600.0,
        sender.signature("actions.birthdays_award_all"),
        name="award birthdays",
    )
    # Run again balance imports whose message was lost or whose worker died (they resume
    # after their last committed batch).
    sender.add_periodic_task(
        600.0,
        sender.signature("imports.import_jobs_sweep"),
        name="resume stalled imports",
    )
    # Run again bulk action awards whose message was lost or whose worker died (a preview
    # starts over, an award resumes after its last committed batch).
    sender.add_periodic_task(
        600.0,
        sender.signature("bulk_actions.bulk_awards_sweep"),
        name="resume stalled bulk awards",
    )
    # Lower the VIP tiers whose retention ended (after 1 January in the shop's time zone
    # for a calendar year, daily for a rolling 12 months); hourly, so each shop's midnight
    # is soon followed by a run. One job per shop and local day; idempotent.
    sender.add_periodic_task(
        3600.0,
        sender.signature("tiers.tier_period_end_all"),
        name="tier period end",
    )
    # Run again tier re-evaluations whose message was lost or whose worker died (they
    # resume after their last committed batch).
    sender.add_periodic_task(
        600.0,
        sender.signature("tiers.tier_evaluations_sweep"),
        name="resume stalled tier evaluations",
    )
    # Expire discount codes of redemptions that ended unused (an hour's grace for orders
    # placed just before the end) and give their points back where the reward says so;
    # idempotent per redemption, so a rerun or an overlap expires nothing twice.
    sender.add_periodic_task(
        3600.0,
        sender.signature("rewards.redemptions_expire_due"),
        name="expire unused reward codes",
    )
    # Billing by redemption: record the usage charge of any delivered redemption that has
    # none (a delivery path that does not record it in its own transaction); one charge
    # per redemption, held by a one-to-one.
    sender.add_periodic_task(
        300.0,
        sender.signature("rewards.usage_charges_record_missing"),
        name="record missing usage charges",
    )
    # Punch cards: grant the fills reached by orders that changed outside a webhook (the
    # return-window job confirms them); the webhook path grants the others at once.
    sender.add_periodic_task(
        900.0,
        sender.signature("rewards.punch_cards_sweep"),
        name="grant punch card fills",
    )
    # Challenges: finish the catch-up of an activated challenge (members' orders and
    # actions in its dates from before it was activated) whose message was lost or whose
    # worker died; it resumes after its last finished batch. The order and action paths
    # keep progress current otherwise (the return-window job confirms orders through them).
    sender.add_periodic_task(
        600.0,
        sender.signature("challenges.challenge_backfills_resume"),
        name="resume challenge catch-ups",
    )
    # Bring the analytics rollups (points per day, each member's orders to date) up to
    # date with what changed since each shop's watermark; a report refreshes its shop too,
    # so this keeps that refresh small. Idempotent, one refresh per shop at a time.
    sender.add_periodic_task(
        300.0,
        sender.signature("analytics.rollups_refresh_all"),
        name="refresh analytics rollups",
    )


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Any = None, **_kwargs: object) -> None:
    """Between tasks in a worker, drop a connection that is too old or broken (as Django
    does between requests); a healthy one is kept (see CELERY_DB_REUSE_MAX). An eager
    task runs inside its caller, whose connection is not ours to close."""
    if task is not None and task.request.is_eager:
        return
    from django.db import close_old_connections

    close_old_connections()
