"""The Celery application, and the one place where periodic jobs are declared."""

from __future__ import annotations

import os

from celery import Celery

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
