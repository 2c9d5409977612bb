"""The embedded admin's side of Shopify: App Bridge session tokens and framing.

Inside the store admin the app runs in an iframe where third-party cookies do not work,
so no cookie session is trusted. Every request carries an App Bridge session token: a
JWT signed HS256 with the app's secret, one minute long, naming the shop (``dest``) and
the staff user (``sub``). ``admin_identity`` turns a request into the shop and user it
speaks for, or refuses it.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import jwt
import jwt.warnings
from django.conf import settings
from django.http import HttpRequest
from django.templatetags.static import static
from shopify import session_token as shopify_session_token
from shopify.utils.shop_url import sanitize_shop_domain

from loyalty_app.merchant_admin.auth import AdminAuthFailed, AdminIdentity
from loyalty_app.shops.models import Shop
from loyalty_app.shops.selectors import shop_by_domain

# App Bridge's script: loaded from Shopify's CDN, as Shopify requires, when the shop is a
# real one; the simulator serves a stand-in with the same API for its shops.
APP_BRIDGE_CDN = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
SIMULATOR_APP_BRIDGE = "devstore/app-bridge.js"  # a static file of the simulator
SHOPIFY_ADMIN = "https://admin.shopify.com"


if settings.DEBUG:
    # The documented development secret is shorter than PyJWT recommends; real app
    # secrets are long enough, and in production the warning stays on.
    warnings.filterwarnings("ignore", category=jwt.warnings.InsecureKeyLengthWarning)


class SessionTokenInvalid(Exception):
    """The token is missing, forged, expired, not yet valid or for another app."""


@dataclass(frozen=True)
class SessionToken:
    shop_domain: str
    user_id: str
    session_id: str
    expires_at: datetime


def session_token_decode(token: str) -> SessionToken:
    """Verify a session token as ShopifyAPI does (signature, ``aud`` = our API key,
    ``exp``/``nbf`` with its 10 s leeway, ``iss`` a myshopify host sharing its root with
    ``dest``), and insist on ``exp`` and ``nbf`` being present at all."""
    if not token or len(token) > 4096:
        raise SessionTokenInvalid("no session token")
    try:
        claims = shopify_session_token.decode_from_header(
            f"Bearer {token}", settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET
        )
    except shopify_session_token.SessionTokenError as exc:
        raise SessionTokenInvalid(str(exc) or type(exc).__name__) from exc
    for claim in ("exp", "nbf"):
        if not isinstance(claims.get(claim), int | float):
            raise SessionTokenInvalid(f"the token has no {claim!r} claim")
    shop_domain = sanitize_shop_domain(urlsplit(str(claims["dest"])).netloc)
    if not shop_domain:
        raise SessionTokenInvalid("the token's destination is not a shop")
    return SessionToken(
        shop_domain=shop_domain.lower(),
        user_id=str(claims["sub"]),
        session_id=str(claims["sid"]),
        expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
    )


def session_token_mint(
    *,
    shop_domain: str,
    user_id: str = "1",
    lifetime: int = 60,
    secret: str | None = None,
    api_key: str | None = None,
    now: float | None = None,
) -> str:
    """A session token as App Bridge hands one to the app: for the simulator's store
    admin and for tests. Never used on a real shop's behalf."""
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": f"https://{shop_domain}/admin",
        "dest": f"https://{shop_domain}",
        "aud": api_key if api_key is not None else settings.SHOPIFY_API_KEY,
        "sub": str(user_id),
        "exp": issued + lifetime,
        "nbf": issued,
        "iat": issued,
        "jti": uuid.uuid4().hex,
        "sid": uuid.uuid5(uuid.NAMESPACE_URL, f"{shop_domain}/{user_id}").hex,
    }
    key = secret if secret is not None else settings.SHOPIFY_API_SECRET
    return jwt.encode(claims, key, algorithm="HS256")


def request_session_token(request: HttpRequest) -> str:
    """The token a request carries: the Authorization header (App Bridge's fetch), the
    ``id_token`` form field (the admin's forms), or the ``id_token`` query parameter (the
    first load, as Shopify opens an embedded app, and the admin's links)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    if request.method == "POST":
        value = request.POST.get("id_token", "")
        if value:
            return value
    return request.GET.get("id_token", "")


def _shop_admin_origin(shop_domain: str) -> str:
    template = settings.SHOPIFY_ADMIN_API_ORIGIN
    if not template:
        return f"https://{shop_domain}"
    parts = urlsplit(template.format(shop=shop_domain))
    return f"{parts.scheme}://{parts.netloc}"


def _simulated(shop_domain: str) -> bool:
    return bool(settings.SHOPIFY_ADMIN_API_ORIGIN)


def admin_identity(request: HttpRequest) -> AdminIdentity:
    """The shop and staff user a request to the embedded admin speaks for.

    A valid token for a shop the app does not know or was uninstalled from (Shopify's
    managed install opens the app before any OAuth) is swapped for an access token
    through token exchange, which installs the shop; raises ``AdminAuthFailed``
    otherwise."""
    try:
        token = session_token_decode(request_session_token(request))
    except SessionTokenInvalid as exc:
        raise AdminAuthFailed(str(exc)) from exc
    shop = shop_by_domain(domain=token.shop_domain)
    if shop is None or not shop.is_installed:
        shop = _shop_by_token_exchange(request_session_token(request))
    return AdminIdentity(
        shop=shop,
        user=f"staff:{token.user_id}",
        head=admin_page_head(shop_domain=shop.domain, host=request.GET.get("host", "")),
        frame_ancestors=admin_frame_ancestors(shop_domain=shop.domain),
    )


def _shop_by_token_exchange(raw_token: str) -> Shop:
    from .oauth import access_token_exchange  # imported late: it needs the Admin API client

    try:
        return access_token_exchange(session_token=raw_token)
    except Exception as exc:  # noqa: BLE001 - any failure means: not authenticated here
        raise AdminAuthFailed(f"the app could not be installed in this shop: {exc}") from exc


def admin_page_head(*, shop_domain: str, host: str = "") -> dict[str, str]:
    """What an admin page's <head> needs to load App Bridge for this shop."""
    if _simulated(shop_domain):
        src = static(SIMULATOR_APP_BRIDGE)
    else:
        src = APP_BRIDGE_CDN
    if not host:
        host = base64.urlsafe_b64encode(f"{shop_domain}/admin".encode()).decode().rstrip("=")
    return {
        "app_bridge_src": src,
        "api_key": settings.SHOPIFY_API_KEY,
        "shop": shop_domain,
        "host": _clean_host(host),
    }


def _clean_host(host: str) -> str:
    """``host`` is echoed into pages and links: keep it only if it is what Shopify sends
    (base64 of an admin host)."""
    try:
        decoded = base64.urlsafe_b64decode(host + "=" * (-len(host) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""
    if not decoded or any(ch in decoded for ch in "<>\"' \\"):
        return ""
    return host


def admin_frame_ancestors(*, shop_domain: str) -> list[str]:
    """Who may frame the embedded admin: only this shop's admin."""
    if _simulated(shop_domain):
        return [_shop_admin_origin(shop_domain)]
    return [f"https://{shop_domain}", SHOPIFY_ADMIN]
