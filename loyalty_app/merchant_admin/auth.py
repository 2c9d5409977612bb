"""Who is asking: the embedded admin's authentication, through the platform port.

The platform (``settings.LOYALTY_PLATFORM_PORT``) turns a request into an
``AdminIdentity`` (for Shopify: an App Bridge session token) or raises
``AdminAuthFailed``. No cookie session is trusted: inside the store admin's iframe
third-party cookies do not work, and a token that must be sent explicitly with every
request is also what makes a forged cross-site form post fail (the admin's CSRF
defence; Django's cookie-based CSRF check is not applied to these views).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from loyalty_app.shops.models import Shop


class AdminAuthFailed(Exception):
    """The request carries no valid proof of who sent it."""


@dataclass(frozen=True)
class AdminIdentity:
    shop: Shop
    user: str  # the staff user, as the audit names them (e.g. "staff:42")
    head: dict[str, str] = field(default_factory=dict)  # what the page <head> loads
    frame_ancestors: list[str] = field(default_factory=list)


def platform_port() -> Any:
    return import_module(settings.LOYALTY_PLATFORM_PORT)


def _origin_allowed(request: HttpRequest) -> bool:
    """A state-changing request must come from the admin's own pages. Browsers send
    ``Origin`` on every POST; a missing one (a non-browser client) is judged by the
    token alone."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in {"http", "https"} and parts.netloc == request.get_host()


def _frame_headers(response: HttpResponse, ancestors: list[str]) -> HttpResponse:
    sources = " ".join(ancestors) if ancestors else "'none'"
    response["Content-Security-Policy"] = f"frame-ancestors {sources};"
    response.xframe_options_exempt = True  # CSP frame-ancestors governs framing here
    response["Referrer-Policy"] = "same-origin"  # tokens ride in URLs: keep them here
    response["Cache-Control"] = "no-store"
    return response


def admin_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Authenticate an embedded admin view.

    Sets ``request.shop``, ``request.admin_user`` and ``request.admin_head``. Without a
    valid token the answer is the 401 "bounce" page, which asks App Bridge for a token
    and loads the same URL again with it."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in {"GET", "HEAD"} and not _origin_allowed(request):
            return HttpResponseForbidden("This form was not sent from the app's own pages.")
        try:
            identity: AdminIdentity = platform_port().admin_identity(request)
        except AdminAuthFailed as exc:
            wants_json = request.headers.get("Accept", "").startswith("application/json")
            if wants_json:
                response = HttpResponse(
                    '{"detail": "a valid session token is required"}',
                    status=401,
                    content_type="application/json",
                )
            elif request.method not in {"GET", "HEAD"}:
                # A form whose sender can't be confirmed: say so plainly, save nothing.
                response = render(
                    request, "admin/refused.html", {"back": _same_app_path(request)}, status=401
                )
            else:
                response = render(
                    request,
                    "admin/bounce.html",
                    {"reason": str(exc), "head": _bounce_head(request)},
                    status=401,
                )
            return _frame_headers(response, _bounce_ancestors(request))
        request.shop = identity.shop  # type: ignore[attr-defined]
        request.admin_user = identity.user  # type: ignore[attr-defined]
        request.admin_head = identity.head  # type: ignore[attr-defined]
        return _frame_headers(view(request, *args, **kwargs), identity.frame_ancestors)

    return wrapper


def _requested_shop(request: HttpRequest) -> str:
    return (request.GET.get("shop") or "").strip().lower()


def _bounce_head(request: HttpRequest) -> dict[str, str]:
    shop = _requested_shop(request)
    port = platform_port()
    if not shop or not hasattr(port, "admin_page_head_for"):
        return {}
    return port.admin_page_head_for(shop_domain=shop, host=request.GET.get("host", ""))


def _bounce_ancestors(request: HttpRequest) -> list[str]:
    shop = _requested_shop(request)
    port = platform_port()
    if not shop or not hasattr(port, "admin_frame_ancestors_for"):
        return []
    return port.admin_frame_ancestors_for(shop_domain=shop)


def _same_app_path(request: HttpRequest) -> str:
    """Where "back" goes after a refused form: the page the form came from, if it is one
    of the admin's own (never another site), keeping ``shop`` and ``host``."""
    referer = urlsplit(request.headers.get("Referer", ""))
    if referer.netloc != request.get_host() or not referer.path.startswith("/app/"):
        return ""
    query = "&".join(
        f"{key}={value}"
        for key, value in (
            ("shop", request.GET.get("shop", "")),
            ("host", request.GET.get("host", "")),
        )
        if value and value.replace(".", "").replace("-", "").replace("=", "").isalnum()
    )
    return referer.path + (f"?{query}" if query else "")
