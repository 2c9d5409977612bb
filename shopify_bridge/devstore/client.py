"""Sends signed webhooks over real HTTP, as a Shopify store would."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from shopify_bridge.signing import webhook_signature


def webhook_headers(
    *,
    body: bytes,
    secret: str,
    topic: str,
    shop_domain: str,
    webhook_id: str | None = None,
    api_version: str = "2025-10",
    event_id: str | None = None,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
        "X-Shopify-Hmac-Sha256": webhook_signature(body, secret),
    }


@dataclass
class WebhookSender:
    """Posts signed webhooks to ``base_url`` + ``/shopify/webhooks``, or to ``endpoint``
    when given (the receiver's full URL)."""

    base_url: str
    secret: str
    shop_domain: str
    timeout: float = 10.0
    endpoint: str = ""

    def __post_init__(self) -> None:
        self.session = requests.Session()

    def send(
        self,
        topic: str,
        payload: dict[str, Any],
        *,
        webhook_id: str | None = None,
        event_id: str | None = None,
    ) -> requests.Response:
        body = json.dumps(payload).encode()
        headers = webhook_headers(
            body=body,
            secret=self.secret,
            topic=topic,
            shop_domain=self.shop_domain,
            webhook_id=webhook_id,
            event_id=event_id,
        )
        return self.session.post(
            self.endpoint or f"{self.base_url.rstrip('/')}/shopify/webhooks",
            data=body,
            headers=headers,
            timeout=self.timeout,
        )
