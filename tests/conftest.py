from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from loyalty_app.shops.services import ShopWithToken, shop_create
from shopify_bridge.devstore.client import webhook_headers

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "shopify" / "samples"


def sample(name: str) -> dict[str, Any]:
    """A payload from shared/shopify/samples (Shopify's own examples)."""
    return json.loads((SAMPLES / name).read_text())


@pytest.fixture(autouse=True)
def _eager_celery(settings: Any) -> None:
    # Unit tests run tasks in-process; the end-to-end tests start a real worker.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from loyalty_app.celery import app

    app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def _forget_cached_shops() -> None:
    # Each test makes its shops anew (new ids): the receiver's per-process cache must not
    # remember the previous test's.
    from loyalty_app.shops import selectors

    selectors._BY_DOMAIN.clear()


@pytest.fixture
def shop(db: None) -> ShopWithToken:
    return shop_create(domain="alpha-store.myshopify.com")


@pytest.fixture
def other_shop(db: None) -> ShopWithToken:
    return shop_create(domain="beta-store.myshopify.com")


PostWebhook = Callable[..., Any]


@pytest.fixture
def post_webhook(client: Client, django_capture_on_commit_callbacks: Any) -> PostWebhook:
    """POST a signed webhook through the real receiver and run its on-commit jobs."""

    def post(
        topic: str,
        payload: dict[str, Any] | bytes,
        *,
        shop_domain: str = "alpha-store.myshopify.com",
        webhook_id: str | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        all_headers = webhook_headers(
            body=body,
            secret=secret if secret is not None else settings.SHOPIFY_API_SECRET,
            topic=topic,
            shop_domain=shop_domain,
            webhook_id=webhook_id or str(uuid.uuid4()),
        )
        all_headers.update(headers or {})
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/shopify/webhooks",
                data=body,
                content_type="application/json",
                headers={k: v for k, v in all_headers.items() if k != "Content-Type"},
            )

    return post


@pytest.fixture
def api(shop: ShopWithToken) -> Client:
    """A client authenticated with the first shop's API token."""
    return Client(headers={"Authorization": f"Bearer {shop.api_token}"})


class Clock:
    """The time every ``timezone.now()`` call sees (services, ``auto_now`` fields)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from django.utils import timezone

    fake = Clock(datetime(2025, 1, 15, 12, 0, tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", fake)
    return fake
