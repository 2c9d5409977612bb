"""`manage.py shopify_webhooks_register --shop D`: subscribe an installed shop to the app's
webhook topics, creating only the missing subscriptions (what each install does; run it when
an install could not finish that step). `--all` does it for every installed shop.

Prints one JSON object per shop: {"shop", "created": [...], "existing": [...]} or
{"shop", "error"}; exits non-zero if any shop failed.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty_app.shops.models import Shop
from shopify_bridge.admin_api import AdminApiError
from shopify_bridge.webhook_subscriptions import webhook_subscriptions_register


class Command(BaseCommand):
    help = "Register the app's webhook subscriptions on a shop (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--shop", help="the shop's domain")
        which.add_argument("--all", action="store_true", help="every installed shop")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"]:
            shops = list(Shop.objects.filter(state=Shop.State.INSTALLED).order_by("pk"))
        else:
            domain = options["shop"].strip().lower()
            shop = Shop.objects.filter(domain=domain).first()
            if shop is None:
                raise CommandError(f"no shop {domain}")
            if not shop.is_installed:
                raise CommandError(f"{domain} is uninstalled: it must install the app again")
            shops = [shop]
        failed = 0
        for shop in shops:
            try:
                result = webhook_subscriptions_register(shop=shop)
            except AdminApiError as exc:
                failed += 1
                self.stdout.write(json.dumps({"shop": shop.domain, "error": str(exc)}))
                continue
            self.stdout.write(
                json.dumps(
                    {
                        "shop": shop.domain,
                        "created": list(result.created),
                        "existing": list(result.existing),
                    }
                )
            )
        if failed:
            raise CommandError(f"{failed} shop(s) could not be registered")
