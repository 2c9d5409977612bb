"""The webhook receiver: verify, persist, enqueue on commit, answer 200."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from loyalty_app.shops.selectors import shop_by_domain_cached, shop_cache_forget

from .handlers import COMPLIANCE_TOPICS
from .services import webhook_event_receive
from .signing import webhook_signature_valid

logger = logging.getLogger(__name__)

REQUIRED_HEADERS = ("X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id")


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _strings(value: Any) -> Iterator[str]:
    """Every string in a parsed JSON value, keys included (iterative: no recursion limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Parse a webhook body strictly enough that whatever passes can be stored.

    PostgreSQL's jsonb refuses NaN, Infinity, NUL characters and lone surrogates;
    they are refused here with a 400 instead of failing later with a 500.
    """
    try:
        # UTF-8 only (RFC 8259), decoded strictly: raw surrogate bytes fail here.
        text = body.decode("utf-8")
        payload = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError("body is not valid UTF-8 JSON") from exc
    if not isinstance(payload, dict):
        raise ValueError("body must be a JSON object")
    # JSON forbids raw control characters, so a NUL or a lone surrogate can only arrive
    # as a \\u escape: only bodies that contain one pay for the walk.
    if "\\u0000" in text and any("\x00" in s for s in _strings(payload)):
        raise ValueError("body contains NUL characters")
    if "\\ud" in text or "\\uD" in text:
        try:
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("body contains invalid unicode (lone surrogates)") from exc
    return payload


def _triggered_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest) -> JsonResponse:
    limit = settings.SHOPIFY_WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "invalid Content-Length")
    if declared > limit:
        return _error(413, f"body larger than {limit} bytes")
    try:
        body = request.body
    except RequestDataTooBig:
        return _error(413, f"body larger than {limit} bytes")
    if len(body) > limit:
        return _error(413, f"body larger than {limit} bytes")

    # Nothing about the request is trusted, or stored, before the signature checks out.
    if not webhook_signature_valid(
        body, settings.SHOPIFY_API_SECRET, request.headers.get("X-Shopify-Hmac-Sha256")
    ):
        logger.warning("webhook with a missing or invalid signature refused")
        return _error(401, "invalid or missing X-Shopify-Hmac-Sha256")

    missing = [h for h in REQUIRED_HEADERS if not request.headers.get(h, "").strip()]
    if missing:
        return _error(400, f"missing headers: {', '.join(missing)}")
    topic = request.headers["X-Shopify-Topic"].strip().lower()
    domain = request.headers["X-Shopify-Shop-Domain"].strip().lower()
    webhook_id = request.headers["X-Shopify-Webhook-Id"].strip()
    if len(topic) > 100 or len(domain) > 255 or len(webhook_id) > 100:
        return _error(400, "header value too long")

    try:
        payload = parse_json_object(body)
    except ValueError as exc:
        return _error(400, str(exc))

    def store() -> JsonResponse:
        shop = shop_by_domain_cached(domain=domain)
        if shop is None:
            if topic in COMPLIANCE_TOPICS:
                # Nothing is held for the shop (never installed, or already erased by an
                # earlier shop/redact): the duty is met, and a 404 would only make the
                # platform retry for hours.
                return JsonResponse({"status": "no data held"})
            return _error(404, f"unknown shop {domain}")
        receipt = webhook_event_receive(
            shop=shop,
            webhook_id=webhook_id,
            topic=topic,
            payload=payload,
            event_id=request.headers.get("X-Shopify-Event-Id", "").strip()[:100],
            api_version=request.headers.get("X-Shopify-API-Version", "").strip()[:20],
            triggered_at=_triggered_at(request.headers.get("X-Shopify-Triggered-At")),
        )
        return JsonResponse({"status": "duplicate" if receipt.duplicate else "accepted"})

    try:
        return store()
    except IntegrityError:
        # The cached shop no longer exists (deleted since): look it up afresh.
        shop_cache_forget(domain=domain)
    except (OperationalError, InterfaceError):
        # The database dropped this worker's connection (a restart, a failover, an
        # idle-connection reaper). Nothing was stored; reconnect and try once more
        # rather than make the shop wait for its retry schedule.
        logger.warning(
            "database connection lost while storing webhook %s; retrying once", webhook_id
        )
        connection.close()
    try:
        return store()
    except IntegrityError:
        # The cached shop no longer exists (deleted since): look it up afresh.
        shop_cache_forget(domain=domain)
    except (OperationalError, InterfaceError):
        logger.exception("database unavailable; webhook %s not stored", webhook_id)
        response = _error(503, "database unavailable; retry later")
        response["Retry-After"] = "5"
        return response
