"""Browser tests: Playwright (Python) driving Debian's headless Chromium.

No browser is downloaded: Playwright launches the system's ``chromium`` (or
``CHROMIUM_PATH``). Pages are served by pytest-django's live server; screenshots go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings

from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import shop_create
from shopify_bridge.devstore.client import webhook_headers
from shopify_bridge.devstore.services import devstore_install

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SHOP = "delta-store.myshopify.com"

# Playwright's sync API runs an event loop in the test thread; the tests still use the
# ORM synchronously between browser steps, which Django allows only when told so.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not path:
        pytest.fail("Chromium is not installed: run scripts/browser-up (./dev test does)")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request) -> Iterator[object]:
    """A fresh browser page at 1280x800; a failed test leaves a screenshot behind."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        screenshot(page, f"FAILED-{request.node.name}")
    context.close()


@pytest.fixture
def phone_page(browser, request) -> Iterator[object]:
    """A fresh page as a phone shows it: 390x844, touch, the page's meta viewport honoured."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        screenshot(page, f"FAILED-{request.node.name}")
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def embedded_app(live_server: Any, settings: Any) -> str:
    """The app and the simulated store on one live server: OAuth's redirect URL, the
    store admin's frame and the Admin API all point at it. Returns its base URL."""
    settings.SHOPIFY_APP_URL = live_server.url
    settings.SHOPIFY_ADMIN_API_ORIGIN = live_server.url + "/devstore/{shop}"
    settings.SHOPIFY_ADMIN_API_TIMEOUT_SECONDS = 5
    return str(live_server.url)


@pytest.fixture
def installed_shop(embedded_app: str) -> Shop:
    """A shop that installed the app earlier (the store holds its token): the tests that
    are not about the install start here rather than going through OAuth again."""
    shop = shop_create(domain=SHOP).shop
    devstore_install(shop=shop)
    return shop


def store_admin_url(app_url: str, path: str = "", *, shop: str = SHOP) -> str:
    """The app's page ``path`` inside the simulated store admin, as a merchant opens it."""
    return f"{app_url}/devstore/{shop}/admin/apps/{settings.SHOPIFY_API_KEY}/{path}"


def app_frame(page: Any) -> Any:
    """The embedded app inside the simulated store admin's page."""
    return page.frame_locator("#app-frame")


def app_frame_handle(page: Any) -> Any:
    """The embedded app's frame as a Playwright ``Frame`` (to run script inside it)."""
    return page.locator("#app-frame").element_handle().content_frame()


def send_webhook(app_url: str, topic: str, payload: dict[str, Any], *, shop: str = SHOP) -> Any:
    """A webhook signed with the app's secret, posted over HTTP as the store sends it."""
    body = json.dumps(payload).encode()
    headers = webhook_headers(
        body=body, secret=settings.SHOPIFY_API_SECRET, topic=topic, shop_domain=shop
    )
    return requests.post(f"{app_url}/shopify/webhooks", data=body, headers=headers, timeout=10)
