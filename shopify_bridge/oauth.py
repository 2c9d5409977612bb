"""Installing the app on a shop: the OAuth authorization-code grant and token exchange.

The authorization-code install (``install_views`` drives it):

1. ``shop_domain_clean`` accepts only ``<name>.myshopify.com`` (the ShopifyAPI package's
   rule); ``oauth_state_issue`` makes the ``state`` nonce that the install page keeps in a
   signed cookie; the merchant is sent to ``authorize_url``.
2. The platform sends the merchant back to ``/shopify/callback`` with ``code``, ``hmac``,
   ``shop``, ``state``, ``timestamp``. ``query_signature_check`` verifies the hex HMAC (the
   package's ``Session.calculate_hmac``) and the timestamp; ``oauth_state_check`` the nonce
   and the shop it was issued for; ``access_token_request`` swaps the code for the token.
3. ``shop_install`` stores the token (encrypted); ``webhook_subscriptions_register`` then
   subscribes the shop to the topics the app uses.

Token exchange (``access_token_exchange``): an embedded page's session token, once
verified, is swapped for an offline access token without any redirect.

Where "Shopify" lives: ``https://<shop>`` or, with the dev-store simulator, the
``SHOPIFY_ADMIN_API_ORIGIN`` template (``http://127.0.0.1:8000/devstore/{shop}``): the
same origin as the Admin API.

No secret (client secret, code, access token) appears in a message, log line or
exception raised from here.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
import shopify
from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from shopify.utils.shop_url import sanitize_shop_domain

from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import shop_install, shop_profile_update

from .admin_api import AdminApiError, admin_graphql, admin_origin
from .embedded import session_token_decode

logger = logging.getLogger(__name__)

# shopify-app-js accepts a query signed at most 90 s away from its own clock
# (HMAC_TIMESTAMP_PERMITTED_CLOCK_TOLERANCE_SEC); the platform redirects at once, so a
# callback older than that is a replay or a link opened again later.
HMAC_TIMESTAMP_TOLERANCE_SECONDS = 90
# The nonce lives as long as a merchant may reasonably look at the grant screen.
STATE_MAX_AGE_SECONDS = 600
STATE_COOKIE = "shopify_oauth_state"
STATE_COOKIE_PATH = "/shopify/"
_STATE_SALT = "shopify_bridge.oauth.state"

# RFC 8693 names (grant and token types), not secrets.
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"  # noqa: S105

# Parameters that must appear once: a second copy could be what the signature covers
# while the first is what a view reads.
_SINGLE_PARAMS = ("code", "hmac", "host", "shop", "state", "timestamp")


class OAuthError(Exception):
    """An install step failed. ``status`` is the HTTP status to answer with; the message
    is safe to show the merchant (it names no secret)."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class InvalidShop(OAuthError):
    """Not a ``*.myshopify.com`` domain."""

    status = 400


class InvalidSignature(OAuthError):
    """The query's HMAC is missing, wrong, or its timestamp is out of tolerance."""

    status = 403


class InvalidState(OAuthError):
    """The ``state`` nonce is missing, unknown, expired or was issued for another shop."""

    status = 403


class GrantRefused(OAuthError):
    """The platform refused the code or the session token (used, expired, wrong app)."""

    status = 400


class PlatformUnavailable(OAuthError):
    """The platform could not be reached, or failed, while granting the token."""

    status = 502


@dataclass(frozen=True)
class AccessGrant:
    access_token: str
    scope: str

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        return f"AccessGrant(scope={self.scope!r})"


# --- addresses --------------------------------------------------------------------------


def app_url() -> str:
    """The app's public base URL (no trailing slash)."""
    url = settings.SHOPIFY_APP_URL
    if not url:
        raise ImproperlyConfigured(
            "SHOPIFY_APP_URL is not set: the app's public https URL, used for OAuth's "
            "redirect_uri and the webhook callbacks."
        )
    return str(url).rstrip("/")


def redirect_uri() -> str:
    return f"{app_url()}/shopify/callback"


def shop_origin(domain: str) -> str:
    """Where the shop's admin lives: ``https://<shop>`` on Shopify, or the simulator."""
    return admin_origin(domain) or f"https://{domain}"


def authorize_url(*, shop: str, state: str) -> str:
    query = urlencode(
        {
            "client_id": settings.SHOPIFY_API_KEY,
            "scope": ",".join(settings.SHOPIFY_SCOPES),
            "redirect_uri": redirect_uri(),
            "state": state,
        }
    )
    return f"{shop_origin(shop)}/admin/oauth/authorize?{query}"


def embedded_admin_url(shop: str) -> str:
    """The app inside the shop's admin (Shopify forwards to admin.shopify.com)."""
    return f"{shop_origin(shop)}/admin/apps/{settings.SHOPIFY_API_KEY}"


def shop_domain_clean(value: str | None) -> str:
    """The shop's ``<name>.myshopify.com`` domain, or ``InvalidShop``.

    The ShopifyAPI package's rule (``sanitize_shop_domain``): lower-cased, a bare name
    gets ``.myshopify.com``, the host must be one label under ``myshopify.com`` with no
    port or credentials. The domain decides where the client secret is sent.
    """
    raw = (value or "").strip()
    domain = sanitize_shop_domain(raw) if raw and len(raw) <= 255 else None
    if not domain:
        raise InvalidShop(
            f"{raw[:100]!r} is not a Shopify store address: expected <store>.myshopify.com."
        )
    return str(domain)


# --- the signed query ---------------------------------------------------------------------


def query_params(query: Any) -> dict[str, Any]:
    """A request's query as the signature covers it: ``k[]`` keys keep their list, the
    parameters read by the install appear at most once."""
    params: dict[str, Any] = {}
    for key in query:
        values = query.getlist(key)
        if key.endswith("[]"):
            params[key] = values
            continue
        if len(values) > 1 and key in _SINGLE_PARAMS:
            raise InvalidSignature(f"The parameter {key!r} appears more than once.")
        params[key] = values[-1]
    return params


def _signer() -> type[shopify.Session]:
    # The package's HMAC helpers are classmethods reading the class attribute ``secret``;
    # a subclass per call carries the current setting without touching the shared class.
    return type("_AppSession", (shopify.Session,), {"secret": settings.SHOPIFY_API_SECRET})


def query_signature(params: Mapping[str, Any]) -> str:
    """The hex HMAC-SHA256 the platform puts in ``hmac`` (sorted ``k=v`` pairs)."""
    return str(_signer().calculate_hmac(dict(params)))


def query_signature_check(params: Mapping[str, Any], *, now: float | None = None) -> None:
    """Raise ``InvalidSignature`` unless ``hmac`` signs the query with the app secret and
    ``timestamp`` is within the tolerance of this clock."""
    if not params.get("hmac"):
        raise InvalidSignature("The request is not signed (no hmac parameter).", status=400)
    try:
        stamp = int(str(params.get("timestamp", "")))
    except ValueError:
        raise InvalidSignature("The request carries no valid timestamp.", status=400) from None
    moment = time.time() if now is None else now
    if abs(moment - stamp) > HMAC_TIMESTAMP_TOLERANCE_SECONDS:
        raise InvalidSignature(
            "The request's signature has expired. Start the install again from the store."
        )
    if not _signer().validate_hmac(dict(params)):
        raise InvalidSignature("The request's signature is not valid.")


# --- the state nonce ----------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedState:
    nonce: str
    cookie_value: str


def oauth_state_issue(*, shop: str) -> IssuedState:
    """A fresh nonce for the ``state`` parameter, and the cookie value that binds it to
    the shop (signed with SECRET_KEY: it cannot be forged or moved to another shop)."""
    nonce = secrets.token_urlsafe(24)
    value = signing.dumps({"shop": shop, "nonce": nonce}, salt=_STATE_SALT, compress=False)
    return IssuedState(nonce=nonce, cookie_value=value)


def oauth_state_check(*, cookie_value: str | None, state: str | None, shop: str) -> None:
    """Raise ``InvalidState`` unless the cookie holds this ``state`` for this ``shop``."""
    if not cookie_value:
        raise InvalidState(
            "This install was not started from this browser, or it took too long. "
            "Start the install again."
        )
    try:
        kept = signing.loads(cookie_value, salt=_STATE_SALT, max_age=STATE_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise InvalidState("The install took too long. Start it again.") from None
    except signing.BadSignature:
        raise InvalidState("The install's state cookie is not valid. Start again.") from None
    if not isinstance(kept, dict) or not state:
        raise InvalidState("The install's state does not match. Start the install again.")
    if not secrets.compare_digest(str(kept.get("nonce", "")), str(state)):
        raise InvalidState("The install's state does not match. Start the install again.")
    if kept.get("shop") != shop:
        raise InvalidState("This install was started for another store. Start it again.")


# --- talking to the platform --------------------------------------------------------------


def _token_endpoint(shop: str) -> str:
    return f"{shop_origin(shop)}/admin/oauth/access_token"


def _grant_from(response: requests.Response, *, shop: str, what: str) -> AccessGrant:
    if response.status_code >= 500 or response.status_code == 429:
        raise PlatformUnavailable(
            f"{shop} could not grant access right now (HTTP {response.status_code}). "
            "Try again in a moment."
        )
    if response.status_code != 200:
        reason = ""
        try:
            body = response.json()
            if isinstance(body, dict):
                reason = str(body.get("error_description") or body.get("error") or "")[:200]
        except ValueError:
            pass
        raise GrantRefused(
            f"{shop} refused the {what} (HTTP {response.status_code}"
            f"{': ' + reason if reason else ''})."
        )
    try:
        body = response.json()
        token = body["access_token"]
        scope = body.get("scope", "")
    except (ValueError, KeyError, TypeError):
        raise PlatformUnavailable(f"{shop} answered the {what} without a token.") from None
    if not isinstance(token, str) or not token:
        raise PlatformUnavailable(f"{shop} answered the {what} without a token.")
    return AccessGrant(access_token=token, scope=str(scope or ""))


def _post(shop: str, **kwargs: Any) -> requests.Response:
    # ShopifyAPI's ``Session.request_token`` posts to https://<name>.myshopify.com only and
    # without a timeout; the simulator lives elsewhere and a stalled platform must not
    # hold a web worker, so the POST is made here (same form fields as the package's).
    try:
        return requests.post(
            _token_endpoint(shop),
            timeout=settings.SHOPIFY_ADMIN_API_TIMEOUT_SECONDS,
            allow_redirects=False,
            headers={"Accept": "application/json"},
            **kwargs,
        )
    except requests.RequestException as exc:
        raise PlatformUnavailable(
            f"{shop} could not be reached to grant access ({type(exc).__name__})."
        ) from None


def access_token_request(*, shop: str, code: str) -> AccessGrant:
    """Swap an authorization code for the shop's offline access token."""
    response = _post(
        shop,
        data={
            "client_id": settings.SHOPIFY_API_KEY,
            "client_secret": settings.SHOPIFY_API_SECRET,
            "code": code,
        },
    )
    return _grant_from(response, shop=shop, what="authorization code")


def access_token_exchange_request(*, shop: str, session_token: str) -> AccessGrant:
    """Swap a (verified) session token for an offline access token (token exchange)."""
    response = _post(
        shop,
        json={
            "client_id": settings.SHOPIFY_API_KEY,
            "client_secret": settings.SHOPIFY_API_SECRET,
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": session_token,
            "subject_token_type": ID_TOKEN_TYPE,
            "requested_token_type": OFFLINE_TOKEN_TYPE,
        },
    )
    return _grant_from(response, shop=shop, what="session token")


# --- the whole install ---------------------------------------------------------------------


@dataclass(frozen=True)
class InstallOutcome:
    shop: Shop
    created: bool
    webhooks_created: tuple[str, ...]
    webhooks_error: str = ""


SHOP_FACTS_QUERY = "query ShopFacts { shop { name currencyCode ianaTimezone } }"


def _shop_facts_read(record: Shop) -> None:
    """The shop's name, currency and time zone as the platform has them: the program's
    money and calendar (campaigns, birthdays, tier years) follow them. Slow I/O after
    the install's transaction; a failure keeps what was stored and is read again at the
    next install."""
    try:
        result = admin_graphql(shop=record, query=SHOP_FACTS_QUERY)
    except AdminApiError as exc:
        logger.warning(
            "could not read the shop's currency and time zone for %s: %s",
            record.domain,
            exc,
            extra={"shop": record.domain},
        )
        return
    facts = result.data.get("shop") or {}
    shop_profile_update(
        shop=record,
        name=str(facts.get("name") or ""),
        currency=str(facts.get("currencyCode") or ""),
        timezone=str(facts.get("ianaTimezone") or ""),
    )
    record.refresh_from_db()


def _install(*, shop: str, grant: AccessGrant) -> InstallOutcome:
    # Imported here: webhook_subscriptions imports this module for app_url().
    from .webhook_subscriptions import webhook_subscriptions_register

    record, created = shop_install(domain=shop, access_token=grant.access_token, scopes=grant.scope)
    _shop_facts_read(record)
    # Slow I/O after the install's transaction: the shop is installed whatever happens
    # next, and a failed registration is retried by a re-install or
    # ``manage.py shopify_webhooks_register --shop <domain>``.
    try:
        result = webhook_subscriptions_register(shop=record)
    except AdminApiError as exc:
        logger.error(
            "webhook registration failed for %s: %s",
            record.domain,
            exc,
            extra={"shop": record.domain},
        )
        return InstallOutcome(
            shop=record, created=created, webhooks_created=(), webhooks_error=str(exc)
        )
    logger.info(
        "installed on %s (%s), webhooks created: %s",
        record.domain,
        "new shop" if created else "re-install",
        ",".join(result.created) or "none",
        extra={"shop": record.domain},
    )
    return InstallOutcome(shop=record, created=created, webhooks_created=result.created)


def oauth_install_complete(
    *, params: Mapping[str, Any], state_cookie: str | None
) -> InstallOutcome:
    """The callback's work, in the order that leaves nothing half-done: every check before
    anything is stored; the token before the install; the install before the webhooks."""
    shop = shop_domain_clean(params.get("shop"))
    query_signature_check(params)
    oauth_state_check(cookie_value=state_cookie, state=params.get("state"), shop=shop)
    code = params.get("code")
    if not code:
        raise GrantRefused("The store sent no authorization code. Start the install again.")
    grant = access_token_request(shop=shop, code=str(code))
    return _install(shop=shop, grant=grant)


def access_token_exchange(*, session_token: str) -> Shop:
    """Install from an embedded page's session token: verify it, exchange it for an
    offline access token, store it, register the webhooks. Returns the shop.

    Raises ``SessionTokenInvalid`` (from ``embedded``) for a token that does not verify,
    ``GrantRefused`` when the platform refuses the exchange, ``PlatformUnavailable`` when
    it cannot be reached. A failed webhook registration is logged and leaves the shop
    installed (see ``_install``).
    """
    claims = session_token_decode(session_token)
    shop = shop_domain_clean(claims.shop_domain)
    grant = access_token_exchange_request(shop=shop, session_token=session_token)
    return _install(shop=shop, grant=grant).shop
