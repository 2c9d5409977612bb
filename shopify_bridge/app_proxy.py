"""The storefront's side of Shopify: app proxy requests.

Shopify forwards ``https://<shop>/apps/loyalty/<path>`` to ``{app}/proxy/<path>`` and adds
to the query ``shop``, ``logged_in_customer_id`` (empty for a guest), ``path_prefix``,
``timestamp`` and ``signature``. The signature is the hex HMAC-SHA256, with the app's
secret, of every other query parameter as ``key=value`` (several values of one key
joined with ``,``), sorted by key and concatenated without a separator (shopify-app-js
``stringifyQueryForAppProxy``). It covers the customer id, so a signed URL replayed with
another customer's id fails, and it is the only thing that lets the app believe the id:
the proxy strips the shopper's cookies, and anything else in the request is the
browser's to choose.

Refused (``ShopperAuthFailed``): no or a wrong signature, a timestamp more than 90 s
away from now (Shopify's libraries allow the same), one of the proxy's own parameters
given twice, a customer id that is not a Shopify id, a shop that is not installed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping, Sequence

from django.conf import settings
from django.http import HttpRequest, QueryDict
from shopify.utils.shop_url import sanitize_shop_domain

from loyalty_app.shops.selectors import shop_by_domain
from loyalty_app.widget.auth import ShopperAuthFailed, ShopperIdentity

TIMESTAMP_TOLERANCE_SECONDS = 90
# Parameters the proxy sets itself: each must appear once, or the request is refused
# (which of two values would Shopify have meant?).
PROXY_PARAMS = ("shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature", "hmac")
MAX_CUSTOMER_ID_LENGTH = 32


def app_proxy_message(params: Iterable[tuple[str, Sequence[str]]]) -> str:
    """The signed text: ``key=v1,v2`` for each key but ``signature``, sorted, no separator."""
    return "".join(
        f"{key}={','.join(values)}"
        for key, values in sorted(params, key=lambda item: item[0])
        if key != "signature"
    )


def app_proxy_signature(params: Mapping[str, str | Sequence[str]], secret: str) -> str:
    """The signature Shopify's app proxy puts on a query (``params``: key -> value or
    values). Used to check requests, and by the simulator's storefront to sign them."""
    items = [(k, [v] if isinstance(v, str) else list(v)) for k, v in params.items()]
    message = app_proxy_message(items)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def app_proxy_query_verify(query: QueryDict, *, secret: str, now: float | None = None) -> None:
    """Check a forwarded query's signature and timestamp; raise ``ShopperAuthFailed``."""
    for name in PROXY_PARAMS:
        if len(query.getlist(name)) > 1:
            raise ShopperAuthFailed(f"the parameter {name!r} is given more than once")
    given = query.get("signature", "")
    if not given or not secret:
        raise ShopperAuthFailed("the request is not signed by the app proxy")
    expected = hmac.new(
        secret.encode(), app_proxy_message(query.lists()).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        raise ShopperAuthFailed("the app proxy signature does not match")
    try:
        timestamp = int(query.get("timestamp", ""))
    except ValueError:
        raise ShopperAuthFailed("the request has no valid timestamp") from None
    moment = time.time() if now is None else now
    if abs(moment - timestamp) > TIMESTAMP_TOLERANCE_SECONDS:
        raise ShopperAuthFailed("the request's timestamp is too old or in the future")


def shopper_identity(request: HttpRequest) -> ShopperIdentity:
    """The shop and logged-in customer an app proxy request speaks for.

    The customer is ``logged_in_customer_id`` of the signed query and nothing else."""
    app_proxy_query_verify(request.GET, secret=settings.SHOPIFY_API_SECRET)
    domain = sanitize_shop_domain(request.GET.get("shop", ""))
    if not domain:
        raise ShopperAuthFailed("the request names no shop")
    shop = shop_by_domain(domain=domain)
    if shop is None or not shop.is_installed:
        raise ShopperAuthFailed("the app is not installed in this shop")
    customer_id = request.GET.get("logged_in_customer_id", "").strip()
    if customer_id and (not customer_id.isdigit() or len(customer_id) > MAX_CUSTOMER_ID_LENGTH):
        raise ShopperAuthFailed("the customer id is not a customer id")
    prefix = request.GET.get("path_prefix", "")
    return ShopperIdentity(
        shop=shop,
        customer_id=customer_id,
        path_prefix=prefix if _clean_prefix(prefix) else "",
    )


def _clean_prefix(prefix: str) -> bool:
    """``path_prefix`` is echoed to the widget: only a plain ``/apps/<name>`` path."""
    parts = prefix.split("/")
    return (
        len(parts) == 3
        and parts[0] == ""
        and parts[1] in {"apps", "a", "community", "tools"}
        and bool(parts[2])
        and all(ch.isalnum() or ch in "-_" for ch in parts[2])
    )
