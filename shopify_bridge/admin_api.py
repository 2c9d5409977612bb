"""The shop's Admin GraphQL API, through the ShopifyAPI package.

``admin_graphql(shop=..., query=..., variables=...)`` makes one call and returns its
``data`` and cost, or raises:

- ``AdminApiTransientError``: HTTP 5xx or 429, a timeout, a refused or dropped connection,
  an unreadable answer, or a ``THROTTLED`` error (``AdminApiThrottled``). Trying again later
  may work, so callers retry.
- ``AdminApiPermanentError``: 401/403 (``AdminApiAuthError``: the token is missing, revoked
  or lacks a scope), any other 4xx, GraphQL errors in the query itself, and ``userErrors``
  of a mutation (``AdminApiUserError``, see ``user_errors_raise``). Trying again changes
  nothing until someone acts.

Where the API lives: ``SHOPIFY_ADMIN_API_ORIGIN`` (``{shop}`` stands for the shop's domain);
empty means Shopify itself, ``https://<shop>``. The demo, the tests and the benches point it
at the dev-store simulator (``http://127.0.0.1:8000/devstore/{shop}``); the same client
library then talks real HTTP to it.

The access token is decrypted only for the call, lives in the library's thread-local
session for its duration, and appears in no message, log line or exception.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import shopify
from django.conf import settings

from loyalty_app.shops.models import Shop

logger = logging.getLogger(__name__)

# An error body is read for its message only; never more than this.
_ERROR_BODY_LIMIT = 16 * 1024


class AdminApiError(Exception):
    """The Admin API call did not give an answer the app can use."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AdminApiTransientError(AdminApiError):
    """Shopify (or the way to it) failed for now; the same call may succeed later."""


class AdminApiThrottled(AdminApiTransientError):
    """The shop's rate-limit bucket is empty. ``retry_after`` estimates when it holds
    enough again (seconds), from the answer's throttleStatus."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=200, code="THROTTLED")
        self.retry_after = retry_after


class AdminApiPermanentError(AdminApiError):
    """The call is refused as it stands; retrying cannot help until someone acts."""


class AdminApiAuthError(AdminApiPermanentError):
    """401/403: no valid access token for the shop, or a scope is missing."""


class AdminApiUserError(AdminApiPermanentError):
    """A mutation answered with ``userErrors``."""

    def __init__(self, message: str, *, user_errors: list[dict[str, Any]]) -> None:
        super().__init__(message, status=200, code="USER_ERRORS")
        self.user_errors = user_errors


@dataclass(frozen=True)
class GraphQLResult:
    data: dict[str, Any]
    cost: dict[str, Any] = field(default_factory=dict)

    @property
    def throttle_status(self) -> dict[str, Any]:
        status = self.cost.get("throttleStatus")
        return status if isinstance(status, dict) else {}


class _Session(shopify.Session):
    """The library's session, whose site may be another origin (the dev-store simulator).

    ``shopify.Session`` builds its site from ``protocol`` + the shop's name +
    ``myshopify_domain`` (class-wide settings) and keeps only the host's first label, so
    it can only ever name ``https://<name>.myshopify.com``. Overriding ``site`` per session
    keeps the library's version handling and path layout (``/admin/api/<version>``) and
    changes only the origin, for this session alone.
    """

    def __init__(self, shop_url: str, version: str, token: str, origin: str) -> None:
        super().__init__(shop_url, version, token)
        self._origin = origin.rstrip("/")

    @property
    def site(self) -> str:
        if not self._origin:
            return str(super().site)
        return str(self.version.api_path(self._origin))


class _GraphQL(shopify.GraphQL):
    """The library's GraphQL client (its endpoint and headers come from the active
    session) with a deadline.

    ``shopify.GraphQL.execute`` calls ``urlopen`` without a timeout, so a stalled
    connection would hold a worker until the task's hard time limit, and on an HTTP error
    it prints the response body to stdout. This sends the same request with a timeout and
    leaves errors to the caller.
    """

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
    ) -> str:
        headers = self.merge_headers(
            {"Accept": "application/json", "Content-Type": "application/json"}, self.headers
        )
        body = {"query": query, "variables": variables, "operationName": operation_name}
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked in settings
            self.endpoint, json.dumps(body).encode("utf-8"), headers
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return str(response.read().decode("utf-8"))


def admin_origin(shop_domain: str) -> str:
    """Where the shop's Admin API lives ('' for Shopify itself)."""
    template = settings.SHOPIFY_ADMIN_API_ORIGIN
    return template.replace("{shop}", shop_domain) if template else ""


@contextmanager
def _activated(shop: Shop) -> Iterator[None]:
    """The shop's session, active on this thread for the block and cleared after it, even
    on error (``shopify.Session.temp`` restores nothing when its block raises)."""
    try:
        token = shop.access_token
    except ValueError as exc:  # the key it was encrypted with is gone
        raise AdminApiAuthError(
            f"the access token of {shop.domain} cannot be read: {exc}"
        ) from None
    if not token:
        raise AdminApiAuthError(f"{shop.domain} has no access token (the app is not installed)")
    session = _Session(shop.domain, settings.SHOPIFY_API_VERSION, token, admin_origin(shop.domain))
    shopify.ShopifyResource.activate_session(session)
    try:
        yield
    finally:
        shopify.ShopifyResource.clear_session()


def _error_message(body: bytes) -> str:
    """Shopify's own words from an error body (``{"errors": ...}``), shortened."""
    text = body.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return text[:200]
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    if isinstance(errors, str):
        return errors[:200]
    if isinstance(errors, list):
        return "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )[:200]
    return text[:200]


def _http_error(shop: Shop, exc: urllib.error.HTTPError) -> AdminApiError:
    try:
        body = exc.read(_ERROR_BODY_LIMIT)
    except (OSError, http.client.HTTPException):
        body = b""
    finally:
        exc.close()
    message = f"Admin API of {shop.domain} answered HTTP {exc.code}: {_error_message(body)}"
    if exc.code >= 500 or exc.code == 429:
        return AdminApiTransientError(message, status=exc.code)
    if exc.code in (401, 403):
        return AdminApiAuthError(message, status=exc.code)
    return AdminApiPermanentError(message, status=exc.code)


def _throttle_wait(cost: Mapping[str, Any]) -> float | None:
    """Seconds until the bucket holds the query's cost again, from the answer's figures."""
    status = cost.get("throttleStatus")
    if not isinstance(status, Mapping):
        return None
    try:
        needed = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(0.0, needed / float(status["restoreRate"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def admin_graphql(
    *, shop: Shop, query: str, variables: Mapping[str, Any] | None = None
) -> GraphQLResult:
    """One Admin GraphQL call for ``shop``. Slow I/O: call it outside any transaction."""
    try:
        with _activated(shop):
            raw = _GraphQL(timeout=settings.SHOPIFY_ADMIN_API_TIMEOUT_SECONDS).execute(
                query, variables=dict(variables) if variables is not None else None
            )
    except urllib.error.HTTPError as exc:
        raise _http_error(shop, exc) from None
    except urllib.error.URLError as exc:
        raise AdminApiTransientError(
            f"Admin API of {shop.domain} unreachable: {exc.reason}"
        ) from None
    except TimeoutError as exc:
        raise AdminApiTransientError(f"Admin API of {shop.domain} timed out: {exc}") from None
    except (http.client.HTTPException, OSError) as exc:  # reset, refused, dropped mid-answer
        raise AdminApiTransientError(
            f"Admin API of {shop.domain} connection failed: {type(exc).__name__}: {exc}"
        ) from None

    try:
        answer = json.loads(raw)
    except ValueError:
        raise AdminApiTransientError(
            f"Admin API of {shop.domain} answered something that is not JSON: {raw[:80]!r}"
        ) from None
    if not isinstance(answer, dict):
        raise AdminApiTransientError(f"Admin API of {shop.domain} answered a non-object")
    extensions = answer.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    cost = cost if isinstance(cost, dict) else {}
    errors = answer.get("errors")
    if errors:
        codes = {
            str((e.get("extensions") or {}).get("code", ""))
            for e in (errors if isinstance(errors, list) else [])
            if isinstance(e, dict)
        }
        message = (
            f"Admin API of {shop.domain}: {_error_message(json.dumps({'errors': errors}).encode())}"
        )
        if "THROTTLED" in codes:
            raise AdminApiThrottled(message, retry_after=_throttle_wait(cost))
        if "INTERNAL_SERVER_ERROR" in codes:
            raise AdminApiTransientError(message, status=200, code="INTERNAL_SERVER_ERROR")
        if "ACCESS_DENIED" in codes:
            raise AdminApiAuthError(message, status=200, code="ACCESS_DENIED")
        raise AdminApiPermanentError(message, status=200, code=",".join(sorted(codes - {""})))
    data = answer.get("data")
    if not isinstance(data, dict):
        raise AdminApiTransientError(f"Admin API of {shop.domain} answered no data")
    throttle = cost.get("throttleStatus") or {}
    logger.debug(
        "admin api call for %s: cost %s, available %s",
        shop.domain,
        cost.get("actualQueryCost"),
        throttle.get("currentlyAvailable") if isinstance(throttle, dict) else None,
        extra={"shop": shop.domain},
    )
    return GraphQLResult(data=data, cost=cost)


def user_errors_raise(payload: Mapping[str, Any] | None, *, mutation: str) -> None:
    """Raise ``AdminApiUserError`` if a mutation's payload carries ``userErrors``."""
    errors = (payload or {}).get("userErrors") or []
    if errors:
        described = "; ".join(
            f"{'.'.join(map(str, e.get('field') or [])) or '-'}: {e.get('message', '')}"
            for e in errors
            if isinstance(e, dict)
        )
        raise AdminApiUserError(f"{mutation} refused: {described}", user_errors=list(errors))
