"""Secrets at rest: API tokens are stored as hashes, platform access tokens encrypted."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

API_TOKEN_PREFIX = "lyl_"  # noqa: S105 - a public prefix, not a secret


def api_token_generate() -> str:
    """A new merchant API token: a recognisable prefix and 256 bits of randomness."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def api_token_digest(token: str) -> str:
    """The stored form of an API token. Tokens are high-entropy, so a plain SHA-256 suffices."""
    return hashlib.sha256(token.encode()).hexdigest()


def _fernet() -> Fernet:
    key = hashlib.sha256(("loyalty-app:access-token:" + settings.SECRET_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def secret_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def secret_decrypt(value: str) -> str:
    if not value:
        return ""
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken as exc:  # SECRET_KEY rotated: the shop must re-install.
        raise ValueError(
            "stored access token cannot be decrypted with the current SECRET_KEY"
        ) from exc
