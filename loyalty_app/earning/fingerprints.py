"""Salted hashes of what identifies a buyer (email, shipping address, card), kept on an
order so referral fraud rules can compare orders without storing the text itself.

The salt is the shop's id: the same card in two shops hashes differently, so a hash says
nothing outside its shop. Pure: standard library only.
"""

from __future__ import annotations

import hashlib


def fingerprint_hash(*, shop_id: int, value: str) -> str:
    """sha256 hex of ``"<shop_id>:<value>"``; "" for an empty value (nothing to compare)."""
    value = value.strip()
    if not value:
        return ""
    return hashlib.sha256(f"{shop_id}:{value}".encode()).hexdigest()


def email_normalized(email: str) -> str:
    """An email as compared everywhere: trimmed and case-folded."""
    return email.strip().casefold()
