"""Plain values the tier code hands to the platform (``settings.LOYALTY_PLATFORM_PORT``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TierNotice:
    """A member's tier changed: what the shop must show on the customer.

    ``tag``: the new tier's customer tag ("" none); ``tags_removed``: every other tier tag
    the customer may carry (the old tier's, and the definition's other tiers'), so a
    notice performed late still leaves one tier tag at most. ``event_id`` names the change
    (one notice per ``TierEvent``).
    """

    member_id: int
    customer_id: str
    event_id: int
    tier: str | None
    tag: str
    tags_removed: tuple[str, ...]
    points_balance: int
