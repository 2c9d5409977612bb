"""The three mandatory compliance webhooks, signed and delivered through the real receiver."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client

from loyalty_app.earning.models import ActionEvent, Order
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import points_adjust
from loyalty_app.members.models import Member, MemberEvent
from loyalty_app.members.services import member_birthday_set, member_event_add
from loyalty_app.privacy.models import CustomerRedaction, DataRequest, ShopErasure
from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import shop_install
from shopify_bridge.devstore.payloads import LineSpec, customer_payload, order_payload
from shopify_bridge.models import WebhookEvent
from tests.conftest import sample

ALPHA = "alpha-store.myshopify.com"
BETA = "beta-store.myshopify.com"
BAG = LineSpec(price=Decimal("100.00"), title="Bag", sku="BAG")
COMPLIANCE = {
    "customers/data_request": "customers_data_request.json",
    "customers/redact": "customers_redact.json",
    "shop/redact": "shop_redact.json",
}


def compliance_payload(topic: str, domain: str = ALPHA, **changes: Any) -> dict[str, Any]:
    payload = sample(COMPLIANCE[topic])
    payload["shop_domain"] = domain
    payload.update(changes)
    return payload


def customer(customer_id: int = 191167, email: str = "john@example.com") -> dict[str, Any]:
    return {"id": customer_id, "email": email, "phone": "555-625-1199"}


def shopper_buys(post_webhook, domain: str = ALPHA, order_id: int = 299938) -> None:
    """Customer 191167 (john@example.com) signs up and buys a 100.00 bag."""
    created = customer_payload(
        customer_id=191167, email="john@example.com", first_name="John", last_name="Smith"
    )
    assert post_webhook("customers/create", created, shop_domain=domain).status_code == 200
    order = order_payload(
        order_id=order_id,
        lines=[BAG],
        customer_id=191167,
        email="john@example.com",
        first_name="John",
        last_name="Smith",
    )
    order["billing_address"] = {"name": "John Smith", "address1": "1 Main St", "zip": "10001"}
    assert post_webhook("orders/create", order, shop_domain=domain).status_code == 200


def john(domain: str = ALPHA) -> Member:
    return Member.objects.get(shop__domain=domain, external_id="191167")


def mentions_john(payload: Any) -> bool:
    text = json.dumps(payload).lower()
    return any(word in text for word in ("john", "smith", "555-625", "1 main st"))


# --- signatures -------------------------------------------------------------------------


@pytest.mark.parametrize("topic", sorted(COMPLIANCE))
def test_a_compliance_webhook_with_a_bad_signature_gets_401_and_stores_nothing(
    shop, post_webhook, topic
):
    # When a compliance webhook arrives signed with another secret, or unsigned
    forged = post_webhook(topic, compliance_payload(topic), secret="not-the-app-secret")
    unsigned = post_webhook(topic, compliance_payload(topic), headers={"X-Shopify-Hmac-Sha256": ""})

    # Then both are refused with 401 and nothing is stored or done
    assert (forged.status_code, unsigned.status_code) == (401, 401)
    assert not WebhookEvent.objects.exists()
    assert not DataRequest.objects.exists()
    assert not ShopErasure.objects.exists()


# --- customers/data_request -------------------------------------------------------------


def test_a_data_request_assembles_the_customers_loyalty_data_for_the_merchant(
    shop, post_webhook, api
):
    # Given a customer with an order, a birthday, an adjustment and a member event
    shopper_buys(post_webhook)
    member_birthday_set(member=john(), month=5, day=17)
    points_adjust(member=john(), points=25, reason="goodwill", idempotency_key="g1", actor="t")
    member_event_add(member=john(), kind="points_expiring", key="e1", data={"points": 125})

    # When the platform sends customers/data_request
    payload = compliance_payload("customers/data_request", customer=customer())
    assert post_webhook("customers/data_request", payload).status_code == 200

    # Then a done data request holds their profile, balance, ledger, orders and events
    request = DataRequest.objects.get()
    assert (request.request_id, request.customer_id, request.email) == (
        "9999",
        "191167",
        "john@example.com",
    )
    assert request.status == "done" and request.completed_at is not None
    [member] = request.data["members"]
    assert (member["first_name"], member["last_name"]) == ("John", "Smith")
    assert member["birthday"] == {"month": 5, "day": 17}
    assert member["points_balance"] == 125
    assert [e["points"] for e in member["ledger"]] == [100, 25]
    assert [(o["order_id"], o["points"]) for o in member["orders"]] == [("299938", 100)]
    assert member["events"][0]["kind"] == "points_expiring"
    assert [o["order_id"] for o in request.data["orders_requested"]] == ["299938"]

    # And the merchant reads it through the API
    listed = api.get("/api/v1/data-requests").json()["results"]
    assert [r["request_id"] for r in listed] == ["9999"]
    detail = api.get(f"/api/v1/data-requests/{request.pk}").json()
    assert detail["data"]["members"][0]["points_balance"] == 125


def test_a_redelivered_data_request_is_the_same_row(shop, post_webhook):
    # Given a data request answered once
    shopper_buys(post_webhook)
    payload = compliance_payload("customers/data_request", customer=customer())
    post_webhook("customers/data_request", payload, webhook_id="dr-1")
    first = DataRequest.objects.get()

    # When the platform delivers it again, with the same and with a new webhook id
    post_webhook("customers/data_request", payload, webhook_id="dr-1")
    post_webhook("customers/data_request", payload, webhook_id="dr-2")

    # Then there is still one request, with the first answer
    again = DataRequest.objects.get()
    assert (again.pk, again.data, again.completed_at) == (first.pk, first.data, first.completed_at)


def test_a_data_request_reads_only_its_own_shops_data(shop, other_shop, post_webhook):
    # Given the same customer id with orders in both shops
    shopper_buys(post_webhook, ALPHA, order_id=1)
    shopper_buys(post_webhook, BETA, order_id=2)

    # When the second shop's data request arrives
    payload = compliance_payload("customers/data_request", BETA, customer=customer())
    post_webhook("customers/data_request", payload, shop_domain=BETA)

    # Then its answer holds only its own order, and the first shop has no request
    request = DataRequest.objects.get()
    assert request.shop == other_shop.shop
    assert [o["order_id"] for o in request.data["members"][0]["orders"]] == ["2"]


def test_a_compliance_payload_naming_another_shop_than_its_delivery_is_refused(
    shop, other_shop, post_webhook
):
    # Given a customer of the first shop
    shopper_buys(post_webhook, ALPHA)

    # When a redaction delivered for the second shop names the first shop in its body
    payload = compliance_payload("customers/redact", ALPHA, customer=customer())
    assert post_webhook("customers/redact", payload, shop_domain=BETA).status_code == 200

    # Then the event fails and nobody is redacted in either shop
    event = WebhookEvent.objects.get(topic="customers/redact")
    assert event.status == "failed" and "names shop" in event.last_error
    assert john().email == "john@example.com"
    assert not CustomerRedaction.objects.exists()


# --- customers/redact -------------------------------------------------------------------


def test_a_redaction_anonymizes_the_member_and_keeps_the_ledger_totals(
    shop, other_shop, post_webhook
):
    # Given the customer in both shops, with a birthday, an action and an event in the first
    shopper_buys(post_webhook, ALPHA)
    shopper_buys(post_webhook, BETA)
    member = john()
    member_birthday_set(member=member, month=5, day=17)
    member_event_add(
        member=member, kind="tier_changed", key="t1", data={"tier": "Gold", "email": "j@e.com"}
    )
    ActionEvent.objects.create(
        shop=shop.shop,
        member=member,
        action="review",
        event_key="r1",
        occurred_at=member.created_at,
        status="awarded",
        data={"review": "Great bag, John"},
    )
    ledger_before = LedgerEntry.objects.filter(shop=shop.shop).aggregate(s=Sum("points"))["s"]

    # When the first shop sends customers/redact
    payload = compliance_payload("customers/redact", customer=customer())
    assert post_webhook("customers/redact", payload).status_code == 200

    # Then the member has no personal data left
    member.refresh_from_db()
    assert (member.email, member.first_name, member.last_name) == ("", "", "")
    assert (member.birthday_month, member.birthday_day) == (None, None)
    assert member.external_id == f"redacted-{member.pk}"
    assert MemberEvent.objects.get(key="t1").data == {"tier": "Gold", "email": None}
    assert ActionEvent.objects.get(event_key="r1").data == {}
    # And the ledger, the balance and the order stay for the merchant's accounts
    assert member.points_balance == 100
    ledger_after = LedgerEntry.objects.filter(shop=shop.shop).aggregate(s=Sum("points"))["s"]
    assert ledger_after == ledger_before
    assert Order.objects.get(shop=shop.shop).member_id == member.pk
    # And no stored webhook of the first shop names the customer any more
    stored = WebhookEvent.objects.filter(shop=shop.shop)
    assert not any(mentions_john(e.payload) for e in stored)
    assert stored.get(topic="orders/create").payload["line_items"][0]["price"] == "100.00"
    # And the record keeps counts, not the customer
    record = CustomerRedaction.objects.get()
    assert record.summary["members"] == 1 and record.member_id == member.pk
    assert "191167" not in json.dumps(record.summary) and "john" not in str(record.__dict__)
    # And the second shop's customer of the same id is untouched
    assert john(BETA).email == "john@example.com"
    assert all(
        mentions_john(e.payload)
        for e in WebhookEvent.objects.filter(shop=other_shop.shop, topic="customers/create")
    )


def test_a_redelivered_redaction_changes_nothing_more(shop, post_webhook):
    # Given a customer redacted once
    shopper_buys(post_webhook)
    payload = compliance_payload("customers/redact", customer=customer())
    post_webhook("customers/redact", payload)
    member = Member.objects.get(shop=shop.shop)

    # When the platform delivers the redaction again (a new webhook id)
    post_webhook("customers/redact", payload)

    # Then there is one record, the member is as anonymized as before, the balance kept
    assert CustomerRedaction.objects.count() == 1
    assert Member.objects.get(pk=member.pk).points_balance == 100
    events = WebhookEvent.objects.filter(topic="customers/redact")
    assert [e.status for e in events] == ["done", "done"]
    assert not any(mentions_john(e.payload) for e in events)


def test_a_redaction_with_only_an_email_finds_the_member_by_email(shop, post_webhook):
    # Given a customer known by id and email
    shopper_buys(post_webhook)

    # When the redaction names only the email (in other letter case)
    payload = compliance_payload(
        "customers/redact", customer={"email": "John@Example.com"}, orders_to_redact=[]
    )
    post_webhook("customers/redact", payload)

    # Then the member is anonymized
    member = Member.objects.get(shop=shop.shop)
    assert (member.email, member.first_name) == ("", "")
    assert member.external_id.startswith("redacted-")


def test_a_later_order_webhook_does_not_reidentify_the_redacted_member(shop, post_webhook):
    # Given a redacted customer
    shopper_buys(post_webhook)
    post_webhook("customers/redact", compliance_payload("customers/redact", customer=customer()))
    member = Member.objects.get(shop=shop.shop)

    # When a late order webhook and a customers/update still name them
    shopper_buys(post_webhook, order_id=299939)

    # Then no member carries their id or email again
    assert Member.objects.filter(shop=shop.shop).count() == 1
    member.refresh_from_db()
    assert (member.email, member.first_name, member.external_id) == (
        "",
        "",
        f"redacted-{member.pk}",
    )
    # And the order's points stay in the accounts, on the anonymized member
    assert Order.objects.get(external_id="299939").member_id == member.pk
    assert member.points_balance == 200
    # And what was stored of those deliveries is scrubbed
    assert not any(mentions_john(e.payload) for e in WebhookEvent.objects.all())


def test_a_redaction_of_a_customer_who_was_never_a_member_keeps_later_orders_guest_orders(
    shop, post_webhook
):
    # Given a redaction of a customer the program never knew
    post_webhook("customers/redact", compliance_payload("customers/redact", customer=customer()))

    # When an order naming them arrives
    shopper_buys(post_webhook, order_id=5)

    # Then no member is created, and the order earns nothing for anyone
    assert not Member.objects.filter(shop=shop.shop).exists()
    assert Order.objects.get(external_id="5").member_id is None


# --- shop/redact --------------------------------------------------------------------------


def test_shop_redact_erases_an_uninstalled_shop_and_leaves_the_other_shop_alone(
    shop, other_shop, post_webhook
):
    # Given two shops with members, orders and ledgers; the first one uninstalled
    shopper_buys(post_webhook, ALPHA)
    shopper_buys(post_webhook, BETA)
    post_webhook("app/uninstalled", {"myshopify_domain": ALPHA})
    beta_rows = (
        Member.objects.filter(shop=other_shop.shop).count(),
        LedgerEntry.objects.filter(shop=other_shop.shop).count(),
        WebhookEvent.objects.filter(shop=other_shop.shop).count(),
    )

    # When the platform sends shop/redact for the first shop
    assert post_webhook("shop/redact", compliance_payload("shop/redact")).status_code == 200

    # Then the first shop and all its rows are gone, with a record of the erasure
    assert not Shop.objects.filter(domain=ALPHA).exists()
    assert not Member.objects.filter(shop_id=shop.shop.pk).exists()
    assert not LedgerEntry.objects.filter(shop_id=shop.shop.pk).exists()
    assert not WebhookEvent.objects.filter(shop_id=shop.shop.pk).exists()
    erasure = ShopErasure.objects.get()
    assert (erasure.domain, erasure.outcome) == (ALPHA, "erased")
    assert erasure.deleted["ledger.LedgerEntry"] == 1
    # And the second shop is untouched
    assert beta_rows == (
        Member.objects.filter(shop=other_shop.shop).count(),
        LedgerEntry.objects.filter(shop=other_shop.shop).count(),
        WebhookEvent.objects.filter(shop=other_shop.shop).count(),
    )
    # And a redelivery finds nothing to do and is answered 200, so it is not retried
    again = post_webhook("shop/redact", compliance_payload("shop/redact"))
    assert (again.status_code, again.json()) == (200, {"status": "no data held"})


def test_shop_redact_for_a_shop_installed_again_is_recorded_and_skipped(shop, post_webhook):
    # Given a shop that was uninstalled, then installed again
    shopper_buys(post_webhook)
    post_webhook("app/uninstalled", {"myshopify_domain": ALPHA})
    shop_install(domain=ALPHA, access_token="shpat_back")

    # When the shop/redact of the first uninstall arrives
    post_webhook("shop/redact", compliance_payload("shop/redact"))

    # Then nothing is deleted and the skip is recorded
    assert john().points_balance == 100
    erasure = ShopErasure.objects.get()
    assert (erasure.outcome, erasure.deleted) == ("skipped_installed", {})


def test_the_data_request_api_answers_404_for_another_shops_request(shop, other_shop, post_webhook):
    # Given a data request of the second shop
    payload = compliance_payload("customers/data_request", BETA, customer=customer())
    post_webhook("customers/data_request", payload, shop_domain=BETA)
    request = DataRequest.objects.get()

    # When the first shop's token asks for it, or lists its own
    alpha = Client(headers={"Authorization": f"Bearer {shop.api_token}"})
    detail = alpha.get(f"/api/v1/data-requests/{request.pk}")
    listed = alpha.get("/api/v1/data-requests")

    # Then it is not found, and not listed
    assert detail.status_code == 404
    assert listed.json()["results"] == []
    # And without a token there is no answer at all
    assert Client().get("/api/v1/data-requests").status_code in (401, 403)
