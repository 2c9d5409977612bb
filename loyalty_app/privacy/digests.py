"""Keyed digests that name a redacted customer without keeping who they were.

A plain hash of a customer id could be reversed by trying every id (they are small
integers); an HMAC keyed with the server's secret cannot, without the secret. The key
is derived from ``SECRET_KEY``: rotating it makes older digests unrecognisable, so a
late webhook of a customer redacted before the rotation is no longer recognised as one
(it is then treated as any customer's; the anonymized member is still never re-linked,
since nothing personal of theirs is left to match).
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def _key() -> bytes:
    return hashlib.sha256(("loyalty-app:privacy:" + settings.SECRET_KEY).encode()).digest()


def _digest(shop_id: int, kind: str, value: str) -> str:
    message = f"{shop_id}:{kind}:{value}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def customer_digest(*, shop_id: int, customer_id: str) -> str:
    """The digest of a platform customer id in one shop; "" for no id."""
    return _digest(shop_id, "customer", customer_id.strip()) if customer_id.strip() else ""


def email_digest(*, shop_id: int, email: str) -> str:
    """The digest of an email in one shop, case ignored (emails are compared so); "" for none."""
    value = email.strip().lower()
    return _digest(shop_id, "email", value) if value else ""


def request_digest(*, shop_id: int, customer_id: str, email: str) -> str:
    """One redaction request: the same customer id and email make the same digest."""
    return _digest(shop_id, "request", f"{customer_id.strip()}|{email.strip().lower()}")
