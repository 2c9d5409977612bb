"""The OAuth install pages: ``GET /shopify/install`` and ``GET /shopify/callback``.

Both are top-level pages (the platform's grant screen refuses to be framed), so the
``state`` nonce can live in a cookie: signed, HttpOnly, SameSite=Lax (sent on the
platform's top-level redirect back to the callback), limited to ``/shopify/``, and used once.
Every refusal is a page that says what went wrong and how to start again; nothing is stored
before every check has passed.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .oauth import (
    STATE_COOKIE,
    STATE_COOKIE_PATH,
    STATE_MAX_AGE_SECONDS,
    InvalidShop,
    OAuthError,
    app_url,
    authorize_url,
    embedded_admin_url,
    oauth_install_complete,
    oauth_state_issue,
    query_params,
    query_signature_check,
    shop_domain_clean,
)

logger = logging.getLogger(__name__)


def _install_link(shop: str) -> str:
    return f"{app_url()}/shopify/install?{urlencode({'shop': shop})}"


def _page(
    request: HttpRequest, *, status: int, title: str, message: str, shop: str = ""
) -> HttpResponse:
    response = render(
        request,
        "shopify_bridge/install_error.html",
        {
            "title": title,
            "message": message,
            "shop": shop,
            "retry_url": _install_link(shop) if shop else "",
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


def _refusal(request: HttpRequest, exc: OAuthError, *, shop: str, step: str) -> HttpResponse:
    logger.warning(
        "install %s refused for %s: %s (%s)",
        step,
        shop or "an invalid shop",
        exc,
        type(exc).__name__,
        extra={"shop": shop},
    )
    titles = {
        400: "The install could not continue",
        403: "The install could not be verified",
        502: "The store could not be reached",
    }
    return _page(
        request,
        status=exc.status,
        title=titles.get(exc.status, "The install could not continue"),
        message=str(exc),
        shop=shop,
    )


def _valid_shop(raw: str | None) -> str:
    try:
        return shop_domain_clean(raw)
    except InvalidShop:
        return ""


@require_GET
def install(request: HttpRequest) -> HttpResponse:
    """Start the install: ``?shop=<store>.myshopify.com``, or the signed query the store
    admin sends (``hmac``, ``shop``, ``timestamp``), which is then verified."""
    shop = _valid_shop(request.GET.get("shop"))
    try:
        params = query_params(request.GET)
        shop = shop_domain_clean(params.get("shop"))
        if "hmac" in params:
            query_signature_check(params)
    except OAuthError as exc:
        return _refusal(request, exc, shop=shop, step="start")

    if request.GET.get("embedded") == "1":
        # Inside the admin's iframe: the grant screen cannot be framed and the cookie
        # would be a third-party one. Start again as a top-level page.
        response = render(
            request, "shopify_bridge/install_exit_iframe.html", {"url": _install_link(shop)}
        )
        response["Cache-Control"] = "no-store"
        return response

    issued = oauth_state_issue(shop=shop)
    response = HttpResponseRedirect(authorize_url(shop=shop, state=issued.nonce))
    response.set_cookie(
        STATE_COOKIE,
        issued.cookie_value,
        max_age=STATE_MAX_AGE_SECONDS,
        path=STATE_COOKIE_PATH,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """Finish the install: verify, exchange the code, install, subscribe, open the app."""
    shop = _valid_shop(request.GET.get("shop"))
    try:
        outcome = oauth_install_complete(
            params=query_params(request.GET), state_cookie=request.COOKIES.get(STATE_COOKIE)
        )
    except OAuthError as exc:
        response = _refusal(request, exc, shop=shop, step="callback")
    else:
        if outcome.webhooks_error:
            response = _page(
                request,
                status=502,
                title="Installed, but the store's notifications are not set up yet",
                message=(
                    "The app is installed, but the store could not be asked to send it "
                    "order and customer updates right now, so none arrive yet. Installing "
                    "again in a moment finishes the job."
                ),
                shop=outcome.shop.domain,
            )
        else:
            response = HttpResponseRedirect(embedded_admin_url(outcome.shop.domain))
    # The nonce is good for one callback, whatever its outcome.
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH, samesite="Lax")
    response["Cache-Control"] = "no-store"
    return response
