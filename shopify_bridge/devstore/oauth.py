"""The simulated shop's side of OAuth: the grant screen, the code, the access token.

Under ``/devstore/<shop>/admin/oauth/`` (the shop's origin is then
``http://<host>/devstore/<shop>``, as ``SHOPIFY_ADMIN_API_ORIGIN`` says):

- ``GET authorize?client_id&scope&redirect_uri&state``: the grant screen, as the merchant
  sees it on Shopify (the app's name, what it may do in words, an Install button). An
  unknown ``client_id`` or a ``redirect_uri`` outside the app's URL (``SHOPIFY_APP_URL``)
  is refused with 400, as Shopify refuses a redirect URL the app did not declare.
- ``POST authorize`` (Install): back to ``redirect_uri`` with ``code, hmac, host, shop,
  state, timestamp``, ``hmac`` being the hex HMAC-SHA256 of the other parameters, sorted,
  with the app's secret: Shopify's own signature.
- ``POST access_token`` (form or JSON): the authorization-code grant (``client_id,
  client_secret, code``) and the token-exchange grant (``subject_token``: a session token
  signed with the app's secret). Answers ``{"access_token", "scope"}``; the store keeps only
  the token's digest, and a new token retires the previous one.

Codes are stateless (signed, ten minutes) and used once: a code names the token the store
held when it was issued, and redeeming it replaces that token, so the same code can never
match again. No table is needed for that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from shopify.utils.shop_url import sanitize_shop_domain

from loyalty_app.common.crypto import api_token_digest

from .models import DevStore

APP_NAME = "Loyalty Program"
CODE_MAX_AGE_SECONDS = 600
_CODE_SALT = "devstore.oauth.code"
_GRANT_SALT = "devstore.oauth.grant"
# Session tokens: App Bridge's clock and ours may differ a little (ShopifyAPI allows 10 s).
_JWT_LEEWAY_SECONDS = 10
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"  # noqa: S105
_SCOPE = re.compile(r"^(unauthenticated_)?(read|write)_[a-z_]+$")

# What the grant screen says each scope allows (Shopify words it by resource and verb).
_RESOURCES = {
    "orders": "Orders",
    "all_orders": "All orders, beyond the last 60 days",
    "customers": "Customers: names, emails, tags and metafields",
    "products": "Products",
    "discounts": "Discounts",
    "gift_cards": "Gift cards",
    "store_credit_accounts": "Store credit accounts",
    "store_credit_account_transactions": "Store credit transactions",
}


def scope_in_words(scope: str) -> str:
    """``write_discounts`` -> "View and edit discounts" (the grant screen's wording)."""
    verb, _, resource = scope.partition("_")
    what = _RESOURCES.get(resource, resource.replace("_", " ").capitalize())
    return f"{'View and edit' if verb == 'write' else 'View'} {what[0].lower()}{what[1:]}"


def shopify_hmac(params: Mapping[str, str], secret: str) -> str:
    """Shopify's signature of a redirect's query: ``hmac`` and ``signature`` left out, each
    ``key=value`` escaped (``%``, ``&`` everywhere, ``=`` in keys), sorted, joined with
    ``&``, then the hex HMAC-SHA256 with the app's secret."""

    def escape(text: str, *, key: bool) -> str:
        text = text.replace("%", "%25").replace("&", "%26")
        return text.replace("=", "%3D") if key else text

    message = "&".join(
        sorted(
            f"{escape(k, key=True)}={escape(str(v), key=False)}"
            for k, v in params.items()
            if k not in ("hmac", "signature")
        )
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def admin_host_param(shop: str) -> str:
    """Shopify's ``host`` parameter: base64 of the shop's admin host, without padding."""
    return base64.urlsafe_b64encode(f"{shop}/admin".encode()).decode().rstrip("=")


def store_domain_or_404(shop: str) -> str:
    domain = sanitize_shop_domain(shop)
    if not domain or domain != shop.lower():
        raise Http404("no such store")
    return str(domain)


def store_chrome(shop: str) -> dict[str, str]:
    """What the simulated admin's top bar and navigation show for a store."""
    name = shop.split(".")[0]
    return {
        "shop": shop,
        "shop_name": name.replace("-", " ").title(),
        "shop_initials": "".join(word[:1] for word in name.split("-")[:2]).upper(),
        "app_name": APP_NAME,
        "api_key": settings.SHOPIFY_API_KEY,
    }


def _redirect_uri_allowed(uri: str) -> bool:
    """Under the app's URL: same scheme and host, path inside the app's path."""
    if not uri or not settings.SHOPIFY_APP_URL:
        return False
    target, app = urlsplit(uri), urlsplit(settings.SHOPIFY_APP_URL)
    base = app.path.rstrip("/") + "/"
    return (
        target.scheme == app.scheme
        and target.netloc == app.netloc
        and (target.path + "/").startswith(base)
        and ".." not in target.path.split("/")
        and not target.fragment
    )


def _oauth_error(status: int, error: str, description: str) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


def _refuse_page(request: HttpRequest, shop: str, message: str) -> HttpResponse:
    return render(
        request,
        "devstore/oauth_error.html",
        {**store_chrome(shop), "message": message},
        status=400,
    )


# --- the grant screen ---------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest, shop: str) -> HttpResponse:
    if not settings.DEVSTORE_ENABLED:
        raise Http404
    shop = store_domain_or_404(shop)
    if request.method == "POST":
        return _approve(request, shop)

    client_id = request.GET.get("client_id", "")
    redirect_uri = request.GET.get("redirect_uri", "")
    scopes = [s.strip() for s in request.GET.get("scope", "").split(",") if s.strip()]
    if not client_id or not hmac.compare_digest(client_id, settings.SHOPIFY_API_KEY):
        return _refuse_page(
            request, shop, "Oauth error invalid_request: no app is known by this client_id."
        )
    if not _redirect_uri_allowed(redirect_uri):
        return _refuse_page(
            request,
            shop,
            "Oauth error invalid_request: The redirect_uri is not whitelisted for this app.",
        )
    bad = [s for s in scopes if not _SCOPE.match(s)]
    if bad:
        return _refuse_page(
            request, shop, f"Oauth error invalid_scope: {', '.join(bad[:5])} is not a scope."
        )
    grant = signing.dumps(
        {
            "shop": shop,
            "client_id": client_id,
            "scope": ",".join(scopes),
            "redirect_uri": redirect_uri,
            "state": request.GET.get("state", ""),
        },
        salt=_GRANT_SALT,
    )
    response = render(
        request,
        "devstore/grant.html",
        {
            **store_chrome(shop),
            "app_host": urlsplit(redirect_uri).netloc,
            "scopes": [scope_in_words(s) for s in scopes],
            "grant": grant,
            "cancel_url": f"/devstore/{shop}/admin",
        },
    )
    response["Cache-Control"] = "no-store"
    return response


def _approve(request: HttpRequest, shop: str) -> HttpResponse:
    """The merchant pressed Install (Django's CSRF check has passed)."""
    try:
        grant = signing.loads(
            request.POST.get("grant", ""), salt=_GRANT_SALT, max_age=CODE_MAX_AGE_SECONDS
        )
    except signing.BadSignature:
        return _refuse_page(request, shop, "This grant screen has expired. Start again.")
    if grant.get("shop") != shop:
        return _refuse_page(request, shop, "This grant screen belongs to another store.")
    store = DevStore.objects.filter(domain=shop).first()
    code = signing.dumps(
        {
            "shop": shop,
            "client_id": grant["client_id"],
            "scope": grant["scope"],
            # The token the store holds now: redeeming the code replaces it (one use).
            "held": store.access_token_digest if store else "",
            "n": secrets.token_hex(8),
        },
        salt=_CODE_SALT,
    )
    params = {
        "code": code,
        "host": admin_host_param(shop),
        "shop": shop,
        "state": grant["state"],
        "timestamp": str(int(time.time())),
    }
    params["hmac"] = shopify_hmac(params, settings.SHOPIFY_API_SECRET)
    separator = "&" if urlsplit(grant["redirect_uri"]).query else "?"
    return HttpResponseRedirect(f"{grant['redirect_uri']}{separator}{urlencode(params)}")


# --- the token endpoint -------------------------------------------------------------------


def _request_fields(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    return {key: request.POST.get(key) for key in request.POST}


def _token_issue(*, shop: str, held: str | None) -> str | None:
    """A new access token for the app on ``shop``; with ``held`` given, only if the store
    still holds that token (the code's one use). The row lock orders concurrent
    redemptions: the second sees the first's token and gets nothing."""
    with transaction.atomic():
        DevStore.objects.get_or_create(domain=shop)
        store = DevStore.objects.select_for_update().get(domain=shop)
        if held is not None and not hmac.compare_digest(store.access_token_digest, held):
            return None
        token = "shpat_" + secrets.token_hex(16)
        store.access_token_digest = api_token_digest(token)
        store.save(update_fields=["access_token_digest"])
    return token


def _session_token_shop(token: str) -> str | None:
    """The shop a session token signed with the app's secret speaks for, or None."""
    try:
        claims = jwt.decode(
            token,
            settings.SHOPIFY_API_SECRET,
            algorithms=["HS256"],
            audience=settings.SHOPIFY_API_KEY,
            leeway=_JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "nbf", "iss", "dest", "sub", "jti", "sid"]},
        )
    except jwt.PyJWTError:
        return None
    dest = urlsplit(str(claims.get("dest", ""))).netloc
    issuer = urlsplit(str(claims.get("iss", ""))).netloc
    return dest if dest and dest == issuer else None


@csrf_exempt
@require_POST
def access_token(request: HttpRequest, shop: str) -> JsonResponse:
    if not settings.DEVSTORE_ENABLED:
        raise Http404
    shop = store_domain_or_404(shop)
    fields = _request_fields(request)
    client_id = str(fields.get("client_id") or "")
    client_secret = str(fields.get("client_secret") or "")
    if not (
        client_id
        and hmac.compare_digest(client_id, settings.SHOPIFY_API_KEY)
        and hmac.compare_digest(client_secret, settings.SHOPIFY_API_SECRET)
    ):
        return _oauth_error(401, "invalid_client", "Client authentication failed.")

    grant_type = str(fields.get("grant_type") or "authorization_code")
    if grant_type == "authorization_code":
        try:
            code = signing.loads(
                str(fields.get("code") or ""), salt=_CODE_SALT, max_age=CODE_MAX_AGE_SECONDS
            )
        except signing.BadSignature:
            code = None
        if not isinstance(code, dict) or code.get("shop") != shop:
            return _oauth_error(
                400, "invalid_grant", "The authorization code was not found or has expired."
            )
        token = _token_issue(shop=shop, held=str(code.get("held", "")))
        if token is None:
            return _oauth_error(400, "invalid_grant", "The authorization code was already used.")
        return JsonResponse({"access_token": token, "scope": code.get("scope", "")})

    if grant_type == TOKEN_EXCHANGE_GRANT:
        if fields.get("subject_token_type") != ID_TOKEN_TYPE:
            return _oauth_error(400, "invalid_request", "subject_token_type must be an id_token.")
        if fields.get("requested_token_type", OFFLINE_TOKEN_TYPE) != OFFLINE_TOKEN_TYPE:
            return _oauth_error(400, "invalid_request", "Only offline access tokens are simulated.")
        if _session_token_shop(str(fields.get("subject_token") or "")) != shop:
            return _oauth_error(
                400, "invalid_subject_token", "The session token is not valid for this store."
            )
        token = _token_issue(shop=shop, held=None)
        return JsonResponse({"access_token": token, "scope": ",".join(settings.SHOPIFY_SCOPES)})

    return _oauth_error(400, "unsupported_grant_type", f"{grant_type[:100]!r} is not supported.")
