"""What only a browser shows about the embedded admin's defences: the page opened outside
the store admin, a form sent with a forged session token through the page's own script,
and another site framing the app with a stolen token. The request-level checks (expired
tokens, other shops, foreign origins) are in tests/merchant_admin/test_auth.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import points_adjust
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_upsert
from loyalty_app.shops.models import Shop
from shopify_bridge.embedded import session_token_mint

from .conftest import SHOP, app_frame, app_frame_handle, screenshot, store_admin_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "ada.secret@example.com"


@pytest.fixture
def member(installed_shop: Shop) -> Member:
    member = member_upsert(
        shop=installed_shop,
        customer=CustomerRef(external_id="8800001", email=EMAIL, first_name="Ada"),
    )
    points_adjust(member=member, points=75, reason="welcome", idempotency_key="w-1", actor="t")
    return member


def test_the_app_opened_outside_the_store_admin_shows_the_way_back_and_no_data(
    page, embedded_app, member
):
    # When someone opens a member's page at the app's address, without a session token
    response = page.goto(f"{embedded_app}/app/customers/{member.pk}/?shop={SHOP}")

    # Then the answer is the bounce page, which finds no store admin to ask for a token
    assert response.status == 401
    expect(page.get_by_role("heading", level=1)).to_have_text("Open the app from your store admin")
    # And nothing of the member reaches the page
    assert EMAIL not in page.content()
    assert "75" not in page.locator("body").inner_text()
    screenshot(page, "security-01-bounce-outside-admin")


def test_a_form_sent_with_a_forged_session_token_is_refused_and_changes_nothing(
    page, embedded_app, member
):
    # Given the member's page open in the store admin
    page.goto(store_admin_url(embedded_app, f"customers/{member.pk}/"))
    app = app_frame(page)
    expect(app.get_by_test_id("member-balance")).to_have_text("75")
    # And the page's token source replaced by one minting tokens with another secret
    forged = session_token_mint(shop_domain=SHOP, secret="not-the-app-secret-" * 3)
    app_frame_handle(page).evaluate(
        "(token) => { window.shopify.idToken = () => Promise.resolve(token); }", forged
    )

    # When the adjustment form is sent
    app.get_by_test_id("adjust-points").fill("5000")
    app.get_by_test_id("adjust-reason").fill("forged")
    app.get_by_test_id("adjust-submit").click()

    # Then the app refuses it
    expect(app.locator("body")).to_contain_text("Nothing was saved")
    screenshot(page, "security-02-forged-token-refused")
    # And the member's points are untouched: the welcome points are the only entry
    assert LedgerEntry.objects.filter(member=member).count() == 1
    assert Member.objects.get(pk=member.pk).points_balance == 75


@pytest.fixture
def other_site() -> Iterator[Callable[[str], str]]:
    """A web server of another origin (127.0.0.1 on its own port) serving one page; a real
    server, so the browser treats it as a local site like the app's own."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(html: str) -> str:
        pages["/prize"] = html.encode()
        return f"http://127.0.0.1:{server.server_address[1]}/prize"

    yield serve
    server.shutdown()
    server.server_close()


def test_another_site_framing_the_app_gets_nothing_even_with_a_valid_token(
    page, embedded_app, member, other_site
):
    # Given a page of another site that frames the app with a token it got hold of
    token = session_token_mint(shop_domain=SHOP)
    framed = f"{embedded_app}/app/customers/{member.pk}/?shop={SHOP}&id_token={token}"
    attacker = other_site(
        f'<!doctype html><h1>Win a prize</h1><iframe id="app-frame" src="{framed}"></iframe>'
    )

    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    # When a merchant's browser opens it
    with page.expect_response(lambda r: "/app/customers/" in r.url) as answer:
        page.goto(attacker)

    # Then the app did answer (the token is valid) but only the shop's admin may frame it
    assert answer.value.status == 200
    policy = answer.value.headers["content-security-policy"]
    assert policy.startswith("frame-ancestors ") and "127.0.0.1" not in policy
    # And so the browser shows an error in the frame, not the member's page
    frame = app_frame_handle(page)
    assert frame.url.startswith("chrome-error://")
    assert any("frame-ancestors" in line and "blocked" in line for line in console)
    assert EMAIL not in frame.content()
    screenshot(page, "security-03-framed-by-another-site")
