"""`manage.py webhook_events`: see stuck or failed webhook events, and replay them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from shopify_bridge.models import WebhookEvent
from shopify_bridge.selectors import webhook_backlog, webhook_events_failed, webhook_events_stuck
from shopify_bridge.services import webhook_event_replay


class Command(BaseCommand):
    help = "Show the webhook backlog, list stuck or failed events, and replay them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="backlog figures as JSON")
        for name in ("list", "replay"):
            p = sub.add_parser(name, help=f"{name} stuck or failed events")
            which = p.add_mutually_exclusive_group(required=True)
            which.add_argument("--failed", action="store_true", help="events that failed")
            which.add_argument(
                "--stuck", action="store_true", help="unfinished events older than --minutes"
            )
            which.add_argument("--id", type=int, action="append", help="one event id (repeatable)")
            p.add_argument("--minutes", type=int, default=10)
            p.add_argument("--shop", help="only this shop's domain")
            p.add_argument("--limit", type=int, default=100)

    def _events(self, options: dict[str, Any]) -> QuerySet[WebhookEvent]:
        if options["failed"]:
            events = webhook_events_failed()
        elif options["stuck"]:
            events = webhook_events_stuck(older_than=timedelta(minutes=options["minutes"]))
        else:
            events = WebhookEvent.objects.filter(pk__in=options["id"])
        if options["shop"]:
            events = events.filter(shop__domain=options["shop"].lower())
        return events.select_related("shop").order_by("received_at")[: options["limit"]]

    def handle(self, *args: object, **options: Any) -> None:
        if options["action"] == "status":
            backlog = webhook_backlog()
            oldest = backlog.oldest_unprocessed_at
            self.stdout.write(
                json.dumps(
                    {
                        "unprocessed": backlog.unprocessed,
                        "failed": backlog.failed,
                        "oldest_unprocessed_at": oldest.isoformat() if oldest else None,
                    }
                )
            )
            return
        events = list(self._events(options))
        if options["action"] == "list":
            for event in events:
                self.stdout.write(
                    json.dumps(
                        {
                            "id": event.pk,
                            "shop": event.shop.domain,
                            "topic": event.topic,
                            "webhook_id": event.webhook_id,
                            "status": event.status,
                            "attempts": event.attempts,
                            "received_at": event.received_at.isoformat(),
                            "last_error": event.last_error,
                        }
                    )
                )
            return
        if options["id"] and len(events) != len(set(options["id"])):
            raise CommandError("some event ids do not exist")
        replayed = 0
        for event in events:
            if event.status != WebhookEvent.Status.DONE:
                webhook_event_replay(event=event)
                replayed += 1
        self.stdout.write(json.dumps({"replayed": replayed}))
