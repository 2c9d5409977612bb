"""The dev-store simulator's HTTP face: Shopify's Admin GraphQL endpoint for each shop.

``POST /devstore/<shop>/admin/api/<version>/graphql.json``, answered as Shopify answers:

- unknown shop: 404; missing or wrong ``X-Shopify-Access-Token``: 401 with Shopify's body;
- a failure the shop was told to serve (``DevStore.fail_mode``): 503, 500, a THROTTLED
  error (HTTP 200), a slow answer, or a 200 whose body is not JSON;
- a query over the single-query cost limit: ``MAX_COST_EXCEEDED``; over what the shop's
  leaky bucket holds (when enforced): ``THROTTLED``; other GraphQL errors in ``errors``;
- otherwise ``data``, with ``extensions.cost`` (requested and actual cost, throttleStatus).

Mounted only when ``settings.DEVSTORE_ENABLED``; the view checks it again.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from loyalty_app.common.crypto import api_token_digest
from loyalty_app.common.time import now

from . import graphql
from .models import DevStore
from .schema import mutation_root, query_root

_VERSION = re.compile(r"^(\d{4}-\d{2}|unstable)$")
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"
# Shopify's own words for a missing or wrong token.
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105


def _errors(errors: list[dict[str, Any]], status: int = 200, **extra: Any) -> JsonResponse:
    return JsonResponse({"errors": errors, **extra}, status=status)


def _cost(requested: int, actual: int | None, store: DevStore) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": float(store.bucket_size),
                "currentlyAvailable": int(store.bucket_available),
                "restoreRate": float(store.restore_rate),
            },
        }
    }


def _take_failure(store: DevStore) -> str:
    """The failure this call must serve, if any: counts one down, safely under concurrency."""
    if not store.fail_mode:
        return ""
    taken = (
        DevStore.objects.filter(pk=store.pk, fail_remaining__gt=0)
        .exclude(fail_mode="")
        .update(fail_remaining=F("fail_remaining") - 1)
    )
    return store.fail_mode if taken else ""


def _refill(store: DevStore) -> None:
    moment = now()
    if store.bucket_at is not None:
        elapsed = Decimal(str((moment - store.bucket_at).total_seconds()))
        store.bucket_available = min(
            Decimal(store.bucket_size), store.bucket_available + elapsed * store.restore_rate
        )
    store.bucket_at = moment


@csrf_exempt
@require_POST
def admin_graphql(request: HttpRequest, shop: str, version: str) -> JsonResponse:
    if not settings.DEVSTORE_ENABLED or not _VERSION.match(version):
        raise Http404
    store = DevStore.objects.filter(domain=shop.lower()).first()
    if store is None:
        return JsonResponse({"errors": "Not Found"}, status=404)
    token = request.headers.get("X-Shopify-Access-Token", "")
    if not (
        token
        and store.access_token_digest
        and hmac.compare_digest(api_token_digest(token), store.access_token_digest)
    ):
        return JsonResponse({"errors": INVALID_TOKEN}, status=401)
    DevStore.objects.filter(pk=store.pk).update(api_calls=F("api_calls") + 1)

    failure = _take_failure(store)
    if failure == DevStore.FailMode.HTTP_503:
        response = JsonResponse({"errors": "Service Unavailable"}, status=503)
        response["Retry-After"] = "1"
        return response
    if failure == DevStore.FailMode.HTTP_500:
        return JsonResponse({"errors": "Internal Server Error"}, status=500)
    if failure == DevStore.FailMode.SLOW:
        time.sleep(store.slow_ms / 1000)
    if failure == DevStore.FailMode.INVALID:
        # What a misbehaving proxy in front of the API sends: 200 and an HTML page.
        return HttpResponse(b"<html><body>Bad gateway</body></html>", content_type="text/html")

    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            raise ValueError("variables must be a JSON object")
    except ValueError as exc:
        return JsonResponse({"errors": f"Bad Request: {exc}"}, status=400)

    try:
        document = graphql.parse(body.get("query") or "")
        operation_name = body.get("operationName") or None
        operation = document.operation(operation_name)
        requested = graphql.requested_cost(
            document, variables=variables, operation_name=operation_name
        )
    except graphql.GraphQLError as exc:
        return _errors([exc.as_dict()])
    if requested > graphql.MAX_QUERY_COST:
        message = (
            f"Query cost is {requested}, which exceeds the single query max cost limit "
            f"({graphql.MAX_QUERY_COST})."
        )
        return _errors(
            [
                {
                    "message": message,
                    "extensions": {
                        "code": "MAX_COST_EXCEEDED",
                        "cost": requested,
                        "maxCost": graphql.MAX_QUERY_COST,
                        "documentation": RATE_LIMITS_DOC,
                    },
                }
            ]
        )

    # One bucket per store: the row lock makes concurrent calls take from it in turn.
    with transaction.atomic():
        locked = DevStore.objects.select_for_update().filter(pk=store.pk).first()
        if locked is None:
            # Removed while this call waited (a slow answer outliving its test's data, or a
            # store deleted meanwhile): the shop is gone, as a 404 says.
            return JsonResponse({"errors": "Not Found"}, status=404)
        store = locked
        _refill(store)
        throttled = failure == DevStore.FailMode.THROTTLED or (
            store.throttle_enforced and requested > store.bucket_available
        )
        if throttled:
            store.save(update_fields=["bucket_available", "bucket_at"])
            return _errors(
                [
                    {
                        "message": "Throttled",
                        "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOC},
                    }
                ],
                extensions=_cost(requested, None, store),
            )
        root = query_root(store) if operation.kind == "query" else mutation_root(store)
        try:
            data = graphql.execute(
                document, root=root, variables=variables, operation_name=operation_name
            )
        except graphql.GraphQLError as exc:
            store.save(update_fields=["bucket_available", "bucket_at"])
            return _errors([exc.as_dict()], extensions=_cost(requested, 0, store))
        actual = min(requested, graphql.actual_cost(data))
        store.bucket_available = max(Decimal(0), store.bucket_available - actual)
        store.save(update_fields=["bucket_available", "bucket_at"])
    return JsonResponse({"data": data, "extensions": _cost(requested, actual, store)})
