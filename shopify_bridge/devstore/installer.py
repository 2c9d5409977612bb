"""Install the app on a simulated shop through the real OAuth path, over HTTP.

``devstore_oauth_install(app_url=..., shop=...)`` does what a merchant's browser does: opens
the app's install URL, follows it to the simulated grant screen, presses Install, follows the
redirect to the app's callback, and stops at the store admin the callback opens. A
``requests.Session`` keeps the cookies (the app's state nonce, the grant screen's CSRF
token) as the browser would. The demo installs its shop this way, so the code path it
exercises is the one a real install takes.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests


class DevstoreInstallError(Exception):
    """A step of the install did not answer as expected; the message says which."""


class _FormReader(HTMLParser):
    """The grant screen's form: its action and its fields (hidden inputs, the button)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self._in_form = True
            self.action = values.get("action", "")
        elif self._in_form and tag in ("input", "button") and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def _expect_redirect(response: requests.Response, step: str) -> str:
    if response.status_code not in (301, 302, 303, 307, 308) or "Location" not in response.headers:
        raise DevstoreInstallError(
            f"{step}: expected a redirect, got HTTP {response.status_code}: {response.text[:300]!r}"
        )
    return urljoin(response.url, response.headers["Location"])


def devstore_oauth_install(*, app_url: str, shop: str, timeout: float = 30.0) -> dict[str, Any]:
    """Run the whole authorization-code install against a running server.

    Returns ``{"shop", "authorize_url", "callback_url" (without its query), "admin_url",
    "steps"}``, ``steps`` listing each request's method, path and status. Raises
    ``DevstoreInstallError`` naming the step that failed (with the page's message).
    """
    app_url = app_url.rstrip("/")
    steps: list[dict[str, Any]] = []
    with requests.Session() as browser:

        def go(method: str, url: str, **kwargs: Any) -> requests.Response:
            response = browser.request(
                method, url, allow_redirects=False, timeout=timeout, **kwargs
            )
            steps.append(
                {"method": method, "path": urlsplit(url).path, "status": response.status_code}
            )
            return response

        start = f"{app_url}/shopify/install?{urlencode({'shop': shop})}"
        authorize_url = _expect_redirect(go("GET", start), "install")

        screen = go("GET", authorize_url)
        if screen.status_code != 200:
            raise DevstoreInstallError(
                f"grant screen: HTTP {screen.status_code}: {screen.text[:300]!r}"
            )
        form = _FormReader()
        form.feed(screen.text)
        if form.action is None or "grant" not in form.fields:
            raise DevstoreInstallError("grant screen: no Install form on the page")
        approve_url = urljoin(authorize_url, form.action or authorize_url)
        callback_url = _expect_redirect(
            go("POST", approve_url, data=form.fields, headers={"Referer": authorize_url}),
            "approve",
        )

        callback = go("GET", callback_url)
        admin_url = _expect_redirect(callback, "callback")
        if urlsplit(admin_url).path.rstrip("/").endswith("/shopify/install"):
            raise DevstoreInstallError("callback: sent back to the install page")

    parts = urlsplit(callback_url)
    return {
        "shop": shop,
        "authorize_url": authorize_url,
        "callback_url": f"{parts.scheme}://{parts.netloc}{parts.path}",
        "admin_url": admin_url,
        "steps": steps,
    }
