"""Shopify's HMAC signatures: webhooks (base64 over the raw body)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def webhook_signature(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_signature_valid(body: bytes, secret: str, header_value: str | None) -> bool:
    """Constant-time check of ``X-Shopify-Hmac-Sha256`` against the raw body."""
    if not header_value or not secret:
        return False
    expected = webhook_signature(body, secret).encode()
    return hmac.compare_digest(expected, header_value.strip().encode())
