"""POST /shopify/webhooks: verify, store once, answer fast; refuse everything else cleanly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.shops.services import shop_create
from shopify_bridge.devstore.client import webhook_headers
from shopify_bridge.devstore.payloads import LineSpec, order_payload
from shopify_bridge.models import WebhookEvent
from shopify_bridge.signing import webhook_signature

URL = "/shopify/webhooks"
DOMAIN = "alpha-store.myshopify.com"


def paid_order(order_id: int = 1001) -> dict[str, Any]:
    """A paid order worth 48 points: were it accepted, it would show in the ledger."""
    return order_payload(
        order_id=order_id,
        customer_id=501,
        email="ada@example.com",
        lines=[LineSpec(price=Decimal("24.00"), quantity=2)],
    )


def signed_headers(body: bytes, **overrides: str | None) -> dict[str, str]:
    headers = webhook_headers(
        body=body, secret=settings.SHOPIFY_API_SECRET, topic="orders/create", shop_domain=DOMAIN
    )
    del headers["Content-Type"]
    for name, value in overrides.items():
        header = name.replace("_", "-")
        if value is None:
            headers.pop(header)
        else:
            headers[header] = value
    return headers


def raw_post(client: Client, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def assert_nothing_stored() -> None:
    assert WebhookEvent.objects.count() == 0
    assert LedgerEntry.objects.count() == 0
    assert Member.objects.count() == 0


# --- accepted ----------------------------------------------------------------------------


def test_a_valid_webhook_is_accepted_and_stored_once(shop, post_webhook):
    # given a signed paid order / when it is delivered
    response = post_webhook("orders/create", paid_order(), webhook_id="wh-1")

    # then it is accepted, stored once and worth its points
    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    event = WebhookEvent.objects.get()
    assert (event.webhook_id, event.topic, event.shop_id) == ("wh-1", "orders/create", shop.shop.pk)
    assert event.payload["id"] == 1001
    assert event.api_version == "2025-10"
    assert event.triggered_at is not None
    assert Member.objects.get(external_id="501").points_balance == 48


def test_the_same_webhook_delivered_ten_times_awards_once(shop, post_webhook):
    payload = paid_order()

    responses = [post_webhook("orders/create", payload, webhook_id="wh-same") for _ in range(10)]

    assert [r.status_code for r in responses] == [200] * 10
    assert [r.json()["status"] for r in responses] == ["accepted"] + ["duplicate"] * 9
    assert WebhookEvent.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert Member.objects.get(external_id="501").points_balance == 48


def test_one_order_under_every_order_topic_awards_once(shop, post_webhook):
    # given one paid order's state / when Shopify sends create, paid, updated and fulfilled
    payload = paid_order()
    for topic in ("orders/create", "orders/paid", "orders/updated", "orders/fulfilled"):
        assert post_webhook(topic, payload).status_code == 200

    # then four events are stored but the points are given once
    assert WebhookEvent.objects.count() == 4
    assert LedgerEntry.objects.count() == 1
    assert Member.objects.get(external_id="501").points_balance == 48


def test_headers_are_read_case_insensitively_and_the_domain_lower_cased(shop, client):
    body = json.dumps(paid_order()).encode()
    headers = {k.lower(): v for k, v in signed_headers(body).items()}
    headers["x-shopify-shop-domain"] = "Alpha-Store.MyShopify.com"

    response = raw_post(client, body, headers)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().shop_id == shop.shop.pk


def test_a_body_of_exactly_the_size_limit_is_accepted(shop, client, settings):
    settings.SHOPIFY_WEBHOOK_MAX_BYTES = 4000
    payload = {"id": 1, "padding": ""}
    payload["padding"] = "x" * (4000 - len(json.dumps(payload).encode()))
    body = json.dumps(payload).encode()
    assert len(body) == 4000

    response = raw_post(client, body, signed_headers(body, X_Shopify_Topic="products/update"))

    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_text_that_merely_spells_a_nul_escape_is_accepted(shop, post_webhook):
    # given a note holding the six characters \u0000 (a backslash, not a NUL)
    body = b'{"id": 1, "note": "C:\\\\u0000"}'
    assert json.loads(body)["note"] == "C:\\u0000"

    response = post_webhook("products/update", body)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().payload["note"] == "C:\\u0000"


# --- refused -----------------------------------------------------------------------------


def test_a_bad_signature_is_refused_with_401(shop, post_webhook):
    response = post_webhook(
        "orders/create", paid_order(), headers={"X-Shopify-Hmac-Sha256": "bm90IGEgc2lnbmF0dXJl"}
    )

    assert response.status_code == 401
    assert response.json() == {"error": "invalid or missing X-Shopify-Hmac-Sha256"}
    assert_nothing_stored()


def test_a_signature_made_with_another_secret_is_refused(shop, post_webhook):
    response = post_webhook("orders/create", paid_order(), secret="someone-elses-secret")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid or missing X-Shopify-Hmac-Sha256"}
    assert_nothing_stored()


def test_a_webhook_without_a_signature_is_refused(shop, client):
    body = json.dumps(paid_order()).encode()

    response = raw_post(client, body, signed_headers(body, X_Shopify_Hmac_Sha256=None))

    assert response.status_code == 401
    assert response.json() == {"error": "invalid or missing X-Shopify-Hmac-Sha256"}
    assert_nothing_stored()


def test_a_truncated_body_no_longer_matches_its_signature(shop, client):
    # given a signature over the full body / when only part of the body arrives
    body = json.dumps(paid_order()).encode()
    headers = signed_headers(body)

    response = raw_post(client, body[:-40], headers)

    assert response.status_code == 401
    assert_nothing_stored()


def test_a_body_changed_after_signing_is_refused(shop, client):
    body = json.dumps(paid_order()).encode()
    headers = signed_headers(body)
    tampered = body.replace(b'"24.00"', b'"99.00"')
    assert tampered != body

    response = raw_post(client, tampered, headers)

    assert response.status_code == 401
    assert_nothing_stored()


@pytest.mark.parametrize(
    "missing", ["X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"]
)
def test_a_webhook_without_a_required_header_is_refused(shop, client, missing):
    body = json.dumps(paid_order()).encode()
    headers = signed_headers(body)
    del headers[missing]

    response = raw_post(client, body, headers)

    assert response.status_code == 400
    assert response.json() == {"error": f"missing headers: {missing}"}
    assert_nothing_stored()


def test_an_overlong_header_value_is_refused(shop, client):
    body = json.dumps(paid_order()).encode()

    response = raw_post(client, body, signed_headers(body, X_Shopify_Webhook_Id="w" * 101))

    assert response.status_code == 400
    assert response.json() == {"error": "header value too long"}
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"this is not json", "body is not valid UTF-8 JSON"),
        (b"", "body is not valid UTF-8 JSON"),
        (b'{"id": 1', "body is not valid UTF-8 JSON"),
        (b"\xff\xfe\xfa", "body is not valid UTF-8 JSON"),
        (b'[{"id": 1}]', "body must be a JSON object"),
        (b'"a string"', "body must be a JSON object"),
        (b"null", "body must be a JSON object"),
        (b'{"id": 1, "total": NaN}', "body is not valid UTF-8 JSON"),
        (b'{"id": 1, "total": Infinity}', "body is not valid UTF-8 JSON"),
        (b'{"id": 1, "total": -Infinity}', "body is not valid UTF-8 JSON"),
        (b'{"id": 1, "total": 1e999}', "body is not valid UTF-8 JSON"),
        (b'{"id": 1, "note": "a\\u0000b"}', "body contains NUL characters"),
        (b'{"id": 1, "a\\u0000": 1}', "body contains NUL characters"),
        (b'{"id": 1, "deep": [[{"note": "\\u0000"}]]}', "body contains NUL characters"),
        (b'{"id": 1, "note": "\\ud800"}', "body contains invalid unicode (lone surrogates)"),
        (b'{"id": 1, "\\udfff": 1}', "body contains invalid unicode (lone surrogates)"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "body is not valid UTF-8 JSON"),
    ],
    ids=[
        "not json",
        "empty",
        "cut short",
        "not utf-8",
        "array",
        "string",
        "null",
        "NaN",
        "Infinity",
        "-Infinity",
        "overflowing float",
        "NUL in a value",
        "NUL in a key",
        "NUL nested",
        "lone surrogate in a value",
        "lone surrogate in a key",
        "nested too deep",
    ],
)
def test_a_signed_body_that_cannot_be_stored_is_refused_with_400(shop, post_webhook, body, error):
    # given a correctly signed body that is not a JSON object PostgreSQL can store
    response = post_webhook("orders/create", body)

    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert_nothing_stored()


def test_a_body_over_the_size_limit_is_refused_with_413(shop, post_webhook, settings):
    settings.SHOPIFY_WEBHOOK_MAX_BYTES = 4000
    payload = paid_order()
    payload["note"] = "x" * 4000

    response = post_webhook("orders/create", payload)

    assert response.status_code == 413
    assert response.json() == {"error": "body larger than 4000 bytes"}
    assert_nothing_stored()


def test_a_body_one_byte_over_the_limit_is_refused(shop, client, settings):
    settings.SHOPIFY_WEBHOOK_MAX_BYTES = 4000
    payload = {"id": 1, "padding": ""}
    payload["padding"] = "x" * (4001 - len(json.dumps(payload).encode()))
    body = json.dumps(payload).encode()
    assert len(body) == 4001

    response = raw_post(client, body, signed_headers(body))

    assert response.status_code == 413
    assert_nothing_stored()


def test_a_webhook_for_an_unknown_shop_is_refused_with_404(shop, post_webhook):
    response = post_webhook("orders/create", paid_order(), shop_domain="nobody.myshopify.com")

    assert response.status_code == 404
    assert response.json() == {"error": "unknown shop nobody.myshopify.com"}
    assert_nothing_stored()


def test_get_is_not_allowed(shop, client):
    response = client.get(URL)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert_nothing_stored()


def test_the_signature_is_shopifys_base64_hmac_sha256_of_the_raw_body():
    # Shopify's documented construction, computed independently of the app's helper.
    body = b'{"id":1}'
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()

    assert webhook_signature(body, "s3cret") == expected


# --- concurrency ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_same_webhook_delivered_concurrently_is_stored_and_awarded_once():
    # given a shop, and one signed delivery that 8 connections send at the same moment
    shop_create(domain=DOMAIN)
    body = json.dumps(paid_order()).encode()
    headers = signed_headers(body, X_Shopify_Webhook_Id=str(uuid.uuid4()))
    barrier = threading.Barrier(8)
    statuses: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait(timeout=10)
            response = raw_post(Client(), body, headers)
            statuses.append((response.status_code, response.json()["status"]))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(8)]

    # when they all arrive
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then every delivery gets 200, one is stored, and the points are given once
    assert errors == []
    assert sorted(statuses) == [(200, "accepted")] + [(200, "duplicate")] * 7
    assert WebhookEvent.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert Member.objects.get(external_id="501").points_balance == 48


def _order(order_id: int = 3100) -> dict[str, Any]:
    return order_payload(
        order_id=order_id,
        lines=[LineSpec(price=Decimal("12.00"))],
        customer_id=31,
        email="r@example.com",
    )


def test_a_dropped_database_connection_is_retried_once_and_the_webhook_stored(
    shop, post_webhook, monkeypatch
):
    # Given the database drops the connection on the first attempt to store
    from django.db import OperationalError

    import shopify_bridge.views as views

    real = views.webhook_event_receive
    calls = []

    def flaky(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("terminating connection due to administrator command")
        return real(**kwargs)

    monkeypatch.setattr(views, "webhook_event_receive", flaky)
    monkeypatch.setattr(views.connection, "close", lambda: None)  # keep the test's transaction

    # When the webhook arrives
    response = post_webhook("orders/create", _order())

    # Then it was stored on the second try and answered 200
    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    assert len(calls) == 2
    assert WebhookEvent.objects.filter(shop=shop.shop).count() == 1


def test_a_database_that_stays_down_gets_503_with_retry_after(shop, post_webhook, monkeypatch):
    from django.db import OperationalError

    import shopify_bridge.views as views

    def down(**kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(views, "webhook_event_receive", down)
    monkeypatch.setattr(views.connection, "close", lambda: None)

    response = post_webhook("orders/create", _order(3101))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"] == "database unavailable; retry later"
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_webhook_for_a_shop_deleted_since_it_was_cached_is_404_not_a_duplicate():
    # Given the receiver has cached a shop, which is then deleted (shop redaction)
    from loyalty_app.shops.models import Shop

    created = shop_create(domain="gone-store.myshopify.com")
    client = Client()

    def send(webhook_id: str) -> Any:
        body = json.dumps(_order(3200)).encode()
        headers = webhook_headers(
            body=body,
            secret=settings.SHOPIFY_API_SECRET,
            topic="orders/create",
            shop_domain="gone-store.myshopify.com",
            webhook_id=webhook_id,
        )
        del headers["Content-Type"]
        return client.post(
            "/shopify/webhooks", data=body, content_type="application/json", headers=headers
        )

    assert send("before").status_code == 200
    Shop.objects.filter(pk=created.shop.pk).delete()

    # When another webhook for it arrives
    response = send("after")

    # Then the cached shop is not trusted: unknown shop, nothing stored
    assert response.status_code == 404
    assert WebhookEvent.objects.count() == 0
