"""`manage.py shop create --domain D`: create a shop and print it with an API token as JSON."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import shop_create


class Command(BaseCommand):
    help = (
        "Manage shops. `shop create --domain D` prints {shop, api_token, ...} as one JSON object."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a shop (or reuse it) and issue an API token")
        create.add_argument("--domain", required=True)
        create.add_argument("--name", default="")
        create.add_argument("--currency", default="USD")
        sub.add_parser("list", help="list shops as JSON lines")

    def handle(self, *args: object, **options: object) -> None:
        if options["action"] == "create":
            try:
                result = shop_create(
                    domain=str(options["domain"]),
                    name=str(options["name"]),
                    currency=str(options["currency"]),
                )
            except ValidationError as exc:
                raise CommandError(f"invalid shop: {exc.message_dict}") from exc
            self.stdout.write(
                json.dumps(
                    {
                        "shop": result.shop.domain,
                        "shop_id": result.shop.pk,
                        "api_token": result.api_token,
                        "currency": result.shop.currency,
                        "created": result.created,
                    }
                )
            )
        else:
            for shop in Shop.objects.order_by("pk"):
                self.stdout.write(
                    json.dumps({"shop": shop.domain, "shop_id": shop.pk, "state": shop.state})
                )
