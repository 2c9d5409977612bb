"""The simulated store admin that frames the embedded app, as Shopify's admin does.

- ``GET /devstore/<shop>/admin``: the store's admin home, listing the app (open it, or
  install it when the store holds no token for it).
- ``GET /devstore/<shop>/admin/apps/<api_key>[/<path>]``: the admin's chrome (top bar with
  the store's name, the left navigation) and the app in an iframe filling the main area,
  loaded as Shopify loads an embedded app: ``{SHOPIFY_APP_URL}/app/<path>?embedded=1&
  host=..&id_token=..&locale=..&shop=..&timestamp=..&hmac=..`` with a fresh session token
  and the query signed like OAuth's redirect.
- ``POST /devstore/<shop>/admin/apps/<api_key>/id_token``: a fresh session token for the
  page's script to hand to the frame. The app's pages load ``static/devstore/app-bridge.js``
  instead of Shopify's App Bridge; its ``shopify.idToken()`` asks the parent window, which
  asks this endpoint. Both windows check the other's origin on every message.

Session tokens are minted with ``embedded.session_token_mint``: signed with the app's
secret, exactly what the app verifies for a real shop.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from shopify_bridge.embedded import session_token_mint

from .models import DevStore
from .oauth import admin_host_param, shopify_hmac, store_chrome, store_domain_or_404

# Parameters the admin sets on the frame's URL itself; a caller's query cannot replace them.
_FRAME_PARAMS = ("embedded", "host", "hmac", "id_token", "locale", "session", "shop", "timestamp")


def _app_or_404(api_key: str) -> None:
    if api_key != settings.SHOPIFY_API_KEY:
        raise Http404("no such app in this store")


def _installed(shop: str) -> bool:
    """The store holds an access token for the app (OAuth or token exchange gave one)."""
    return DevStore.objects.filter(domain=shop).exclude(access_token_digest="").exists()


def _app_origin() -> str:
    parts = urlsplit(settings.SHOPIFY_APP_URL)
    return f"{parts.scheme}://{parts.netloc}"


def _clean_path(path: str) -> str:
    """The app page to open, as a relative path: no scheme, host, '..' or backslash."""
    if "\\" in path or "//" in path or ":" in path.split("/")[0]:
        raise Http404("no such page")
    segments = [s for s in path.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise Http404("no such page")
    return "/".join(segments) + ("/" if segments and path.endswith("/") else "")


def frame_url(*, shop: str, path: str = "", extra: dict[str, str] | None = None) -> str:
    """The URL the admin loads in the app's frame, signed with the app's secret."""
    params = {k: v for k, v in (extra or {}).items() if k not in _FRAME_PARAMS}
    params.update(
        {
            "embedded": "1",
            "host": admin_host_param(shop),
            "id_token": session_token_mint(shop_domain=shop),
            "locale": "en",
            "shop": shop,
            "timestamp": str(int(time.time())),
        }
    )
    params["hmac"] = shopify_hmac(params, settings.SHOPIFY_API_SECRET)
    return f"{settings.SHOPIFY_APP_URL}/app/{path}?{urlencode(params)}"


def _install_url(shop: str) -> str:
    return f"{settings.SHOPIFY_APP_URL}/shopify/install?{urlencode({'shop': shop})}"


@require_GET
def store_home(request: HttpRequest, shop: str) -> HttpResponse:
    if not settings.DEVSTORE_ENABLED:
        raise Http404
    shop = store_domain_or_404(shop)
    return render(
        request,
        "devstore/admin_home.html",
        {
            **store_chrome(shop),
            "installed": _installed(shop),
            "install_url": _install_url(shop),
            "app_url": f"/devstore/{shop}/admin/apps/{settings.SHOPIFY_API_KEY}",
        },
    )


@require_GET
def app_frame(request: HttpRequest, shop: str, api_key: str, path: str = "") -> HttpResponse:
    if not settings.DEVSTORE_ENABLED:
        raise Http404
    shop = store_domain_or_404(shop)
    _app_or_404(api_key)
    installed = _installed(shop)
    context = {
        **store_chrome(shop),
        "installed": installed,
        "install_url": _install_url(shop),
        "frame_src": (
            frame_url(shop=shop, path=_clean_path(path), extra=request.GET.dict())
            if installed
            else ""
        ),
        "app_origin": _app_origin(),
        "token_url": f"/devstore/{shop}/admin/apps/{api_key}/id_token",
        "admin_base": f"/devstore/{shop}/admin/apps/{api_key}",
    }
    response = render(request, "devstore/admin_app.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def id_token(request: HttpRequest, shop: str, api_key: str) -> JsonResponse:
    """A fresh session token for the framed app (Django's CSRF check guards it: only the
    admin page's own script can ask)."""
    if not settings.DEVSTORE_ENABLED:
        raise Http404
    shop = store_domain_or_404(shop)
    _app_or_404(api_key)
    if not _installed(shop):
        return JsonResponse({"error": "the app is not installed in this store"}, status=404)
    response = JsonResponse({"token": session_token_mint(shop_domain=shop)})
    response["Cache-Control"] = "no-store"
    return response
