"""`manage.py demo`: the app installed in a simulated shop through OAuth, a program to look
at, realistic signed webhooks over real HTTP, then served."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import api_token_issue
from shopify_bridge.devstore.client import WebhookSender
from shopify_bridge.devstore.demo_program import demo_program_setup
from shopify_bridge.devstore.demo_referrals import FRIEND, demo_referral_play
from shopify_bridge.devstore.installer import devstore_oauth_install
from shopify_bridge.devstore.payloads import (
    LineSpec,
    customer_payload,
    line_id_for,
    order_payload,
    refund_payload,
)

DEMO_DOMAIN = "demo-shop.myshopify.com"
SAMPLES = Path(settings.BASE_DIR).parent / "shared" / "shopify" / "samples"


def _demo_events() -> list[tuple[str, str, dict[str, Any]]]:
    """(webhook id, topic, payload): fixed ids, so running the demo again changes nothing."""
    day = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    coffee = LineSpec(
        price=Decimal("24.00"),
        quantity=2,
        discount=Decimal("4.80"),
        title="House Blend Coffee 1kg",
        sku="COF-HB-1K",
    )
    kettle = LineSpec(price=Decimal("59.00"), title="Pour-Over Kettle", sku="EQ-KETTLE")
    gift = LineSpec(price=Decimal("25.00"), gift_card=True, title="Gift Card", sku="GIFT-25")
    grinder = LineSpec(price=Decimal("129.99"), title="Burr Grinder", sku="EQ-GRIND")
    mug = LineSpec(price=Decimal("16.00"), quantity=3, title="Ceramic Mug", sku="MUG-CER")
    ada = {
        "customer_id": 7001,
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
    }
    grace = {
        "customer_id": 7002,
        "email": "grace@example.com",
        "first_name": "Grace",
        "last_name": "Hopper",
    }
    alan = {
        "customer_id": 7003,
        "email": "alan@example.com",
        "first_name": "Alan",
        "last_name": "Turing",
    }
    events: list[tuple[str, str, dict[str, Any]]] = [
        (
            "demo-c1",
            "customers/create",
            customer_payload(
                customer_id=7001,
                email="ada@example.com",
                first_name="Ada",
                last_name="Lovelace",
                when=day,
            ),
        ),
        # Ada: coffee (discounted) + kettle + a gift card (earns nothing), shipping and tax excluded.
        (
            "demo-o1",
            "orders/create",
            order_payload(
                order_id=9001,
                lines=[coffee, kettle, gift],
                shipping=Decimal("6.00"),
                tax_rate=Decimal("0.08"),
                created_at=day,
                **ada,
            ),
        ),
        # Grace pays in EUR; points are computed on the shop's USD amounts.
        (
            "demo-o2",
            "orders/create",
            order_payload(
                order_id=9002,
                lines=[grinder],
                currency="USD",
                presentment_currency="EUR",
                rate=Decimal("0.92"),
                created_at=day + timedelta(hours=1),
                **grace,
            ),
        ),
        # Grace returns nothing, then buys mugs; one mug is refunded.
        (
            "demo-o3",
            "orders/create",
            order_payload(order_id=9003, lines=[mug], created_at=day + timedelta(hours=2), **grace),
        ),
        (
            "demo-r3",
            "refunds/create",
            refund_payload(
                refund_id=8003,
                order_id=9003,
                lines=[(line_id_for(9003, 0), mug, 1)],
                created_at=day + timedelta(hours=3),
            ),
        ),
        # Alan's order is authorized first and paid later: points arrive with orders/paid.
        (
            "demo-o4a",
            "orders/create",
            order_payload(
                order_id=9004,
                lines=[kettle],
                financial_status="authorized",
                created_at=day + timedelta(hours=4),
                **alan,
            ),
        ),
        (
            "demo-o4b",
            "orders/paid",
            order_payload(
                order_id=9004,
                lines=[kettle],
                financial_status="paid",
                created_at=day + timedelta(hours=4),
                updated_at=day + timedelta(hours=5),
                **alan,
            ),
        ),
        # Alan's second order is cancelled: its points are taken back.
        (
            "demo-o5a",
            "orders/create",
            order_payload(
                order_id=9005, lines=[coffee], created_at=day + timedelta(hours=6), **alan
            ),
        ),
        (
            "demo-o5b",
            "orders/cancelled",
            order_payload(
                order_id=9005,
                lines=[coffee],
                cancelled=True,
                financial_status="refunded",
                created_at=day + timedelta(hours=6),
                updated_at=day + timedelta(hours=7),
                **alan,
            ),
        ),
    ]
    sample = SAMPLES / "orders_create.json"
    if sample.exists():  # Shopify's own test notification: test, voided, cancelled: earns nothing.
        events.append(("demo-sample", "orders/create", json.loads(sample.read_text())))
    # The first order delivered again, as Shopify does: changes nothing.
    events.append(events[1])
    return events


class Command(BaseCommand):
    help = "Create a demo shop, feed it signed order webhooks over HTTP, and serve the app."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-serve", action="store_true", help="stop after feeding the webhooks"
        )

    def handle(self, *args: object, **options: Any) -> None:
        host, port = options["host"], options["port"]
        base = f"http://{host}:{port}"
        password = secrets.token_urlsafe(9)
        user_model = get_user_model()
        admin, _ = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        admin.set_password(password)
        admin.save()

        # The app and the simulated shop live in one server: tell both where it is.
        env = {
            **os.environ,
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            "SHOPIFY_APP_URL": os.environ.get("SHOPIFY_APP_URL") or base,
            "SHOPIFY_ADMIN_API_ORIGIN": os.environ.get("SHOPIFY_ADMIN_API_ORIGIN")
            or f"{base}/devstore/{{shop}}",
        }
        server = subprocess.Popen(  # noqa: S603 - our own manage.py with fixed arguments
            [sys.executable, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
            cwd=settings.BASE_DIR,
            env=env,
        )
        try:
            self._wait_for(host, port, server)
            self.stdout.write("==> installing the app in the demo shop through OAuth")
            installed = devstore_oauth_install(app_url=env["SHOPIFY_APP_URL"], shop=DEMO_DOMAIN)
            for step in installed["steps"]:
                self.stdout.write(f"    {step['method']:<4} {step['path']} -> {step['status']}")
            shop = Shop.objects.get(domain=DEMO_DOMAIN)
            api_token = api_token_issue(shop=shop, name="demo")
            demo_program_setup(shop=shop)

            sender = WebhookSender(
                base_url=base, secret=settings.SHOPIFY_API_SECRET, shop_domain=DEMO_DOMAIN
            )
            self.stdout.write("==> sending the demo shop's webhooks over HTTP")
            for webhook_id, topic, payload in _demo_events():
                response = sender.send(topic, payload, webhook_id=webhook_id)
                self.stdout.write(
                    f"    {topic:<18} {webhook_id:<12} -> {response.status_code} {response.json()}"
                )
            self.stdout.write("==> more shoppers: `manage.py devstore orders` (seeded)")
            more = StringIO()
            call_command(
                "devstore",
                "orders",
                "--shop",
                DEMO_DOMAIN,
                "--count",
                "60",
                "--customers",
                "24",
                "--seed",
                "2026",
                "--url",
                f"{base}/shopify/webhooks",
                stdout=more,
            )
            self.stdout.write(f"    {more.getvalue().strip()}")
            self.stdout.write(
                "==> a referral: Ada's link, a friend's welcome code, her first order"
            )
            referral = demo_referral_play(shop=shop, base_url=base, sender=sender)
            self.stdout.write(
                f"    Ada's code {referral.code}; {FRIEND['email']} got {referral.welcome_code}; "
                f"order {referral.order_name} -> {referral.status}, "
                f"{referral.reward_points} points for Ada"
            )
            auth = {"Authorization": f"Bearer {api_token}"}
            self.stdout.write("==> balances, read back through the merchant API")
            for customer_id in (7001, 7002, 7003, FRIEND["customer_id"]):
                body = requests.get(
                    f"{base}/api/v1/customers/{customer_id}", headers=auth, timeout=10
                ).json()
                self.stdout.write(
                    f"    customer {customer_id} {body.get('email', ''):<20} {body.get('points_balance')} points"
                )
            # The storefront shows the richest shopper: enough points to redeem something.
            shopper = (
                Member.objects.filter(shop__domain=DEMO_DOMAIN, external_id__isnull=False)
                .order_by("-points_balance", "pk")
                .first()
            )
            store_admin = f"{base}/devstore/{DEMO_DOMAIN}/admin/apps/{settings.SHOPIFY_API_KEY}"
            self.stdout.write(
                "\n".join(
                    [
                        "",
                        f"The loyalty app is running at {base}",
                        f"  merchant admin: {store_admin}",
                        "                  (the simulated store admin, framing the app as Shopify does)",
                        f"  storefront:     {base}/devstore/{DEMO_DOMAIN}/store/?customer={shopper.external_id}",
                        f"                  (the points widget, logged in as {shopper.first_name or 'a shopper'} with {shopper.points_balance} points;",
                        "                   ?customer= browses as a guest)",
                        f"  shop:           {DEMO_DOMAIN}",
                        f"  API token:      {api_token}",
                        f"  a customer:     curl -H 'Authorization: Bearer {api_token}' {base}/api/v1/customers/7001",
                        f"  their ledger:   curl -H 'Authorization: Bearer {api_token}' {base}/api/v1/customers/7001/ledger",
                        f"  OpenAPI schema: {base}/api/schema/",
                        f"  Django admin:   {base}/admin/  (user admin, password {password})",
                        f"  webhooks:       POST {base}/shopify/webhooks (signed with SHOPIFY_API_SECRET, dev default 'dev-api-secret')",
                        "Press Ctrl-C to stop.",
                    ]
                )
            )
            if options["no_serve"]:
                return
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=10)

    def _wait_for(self, host: str, port: int, server: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"the web server exited (port {port} in use?)")
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise CommandError(f"the web server did not start on {host}:{port}")
