"""Rate limits of the widget's endpoints: per customer and per shop, in fixed windows.

Counts live in the ``ratelimit`` cache (Redis when ``REDIS_URL`` is set, so every process
shares them; this process's memory otherwise). ``cache.add`` then ``cache.incr`` is atomic
in Redis: two requests at once never both see the last free slot.

When the cache cannot be reached the request is let through and a warning is logged: an
outage of the counter must not take the storefront's widget down with it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

logger = logging.getLogger(__name__)

# (requests, window in seconds) per scope; ``settings.WIDGET_RATE_LIMITS`` overrides.
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    # One shopper: a page view costs one state call plus one per product shown.
    "customer": (120, 60),
    # A whole shop's storefront, every shopper together (guests are counted here only:
    # behind the app proxy every request comes from the platform's addresses).
    "shop": (3000, 60),
    # Guests joining by email create members: fewer of those per shop.
    "guest_join": (30, 60),
}


@dataclass(frozen=True)
class Limited:
    scope: str
    retry_after: int  # seconds until the window that refused the request ends


def _limits() -> dict[str, tuple[int, int]]:
    return {**DEFAULT_LIMITS, **getattr(settings, "WIDGET_RATE_LIMITS", {})}


def rate_limit_hit(*, scope: str, key: str, now: float | None = None) -> Limited | None:
    """Count one request of ``key`` in ``scope``; a ``Limited`` when it is over the limit."""
    limit, window = _limits()[scope]
    moment = time.time() if now is None else now
    slot = int(moment // window)
    cache_key = f"widget:rl:{scope}:{key}:{slot}"
    cache = caches["ratelimit"]
    try:
        cache.add(cache_key, 0, timeout=window + 1)
        count = cache.incr(cache_key)
    except ValueError:  # the key expired between add and incr: this is its first hit
        cache.set(cache_key, 1, timeout=window + 1)
        count = 1
    except Exception:  # noqa: BLE001 - the counter's outage must not fail the request
        logger.warning("widget rate limit counter unavailable", exc_info=True)
        return None
    if count > limit:
        return Limited(scope=scope, retry_after=max(int((slot + 1) * window - moment) + 1, 1))
    return None
