"""Joining the program when a shopper creates an account (customers/create webhook)."""

from __future__ import annotations

import json
from decimal import Decimal

from loyalty_app.earning.models import ActionEvent
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from shopify_bridge.devstore.payloads import LineSpec, customer_payload, order_payload
from shopify_bridge.models import WebhookEvent
from tests.conftest import sample


def signup_enabled(shop, points: int = 100) -> None:
    program_update(
        shop=shop.shop, data={"actions": [{"key": "signup", "points": points}]}, actor="test"
    )


def test_a_shopper_creating_an_account_joins_the_program_and_earns_the_signup(shop, post_webhook):
    # Given a program with sign-up points
    signup_enabled(shop)

    # When the shop reports a new customer account
    response = post_webhook(
        "customers/create", customer_payload(customer_id=4242, email="lin@example.com")
    )

    # Then she is a member with the sign-up points
    assert response.status_code == 200
    member = Member.objects.get(shop=shop.shop, external_id="4242")
    assert member.points_balance == 100
    event = ActionEvent.objects.get(member=member)
    assert (event.action, event.status, event.event_key) == (
        "signup",
        "awarded",
        "signup:customer:4242",
    )
    assert event.source.startswith("webhook:customers/create:")


def test_a_redelivered_or_retried_customers_create_awards_once(shop, post_webhook):
    signup_enabled(shop)
    payload = customer_payload(customer_id=4242, email="lin@example.com")

    post_webhook("customers/create", payload, webhook_id="w-1")
    post_webhook("customers/create", payload, webhook_id="w-1")  # the same delivery
    post_webhook("customers/create", payload, webhook_id="w-2")  # a retry under a new id

    assert ActionEvent.objects.count() == 1
    assert LedgerEntry.objects.count() == 1
    assert Member.objects.get(external_id="4242").points_balance == 100


def test_a_customer_without_an_account_does_not_join(shop, post_webhook):
    # Given Shopify's own sample: a customer record with state "disabled" (a guest
    # checkout or one the merchant added), not an account the shopper created
    signup_enabled(shop)
    payload = sample("customers_create.json")
    assert payload["state"] == "disabled"

    post_webhook("customers/create", payload)

    assert Member.objects.filter(external_id=str(payload["id"])).exists()
    assert not ActionEvent.objects.exists()


def test_without_a_signup_action_a_new_account_earns_nothing(shop, post_webhook):
    post_webhook("customers/create", customer_payload(customer_id=4242, email="lin@example.com"))

    assert Member.objects.get(external_id="4242").points_balance == 0
    assert not ActionEvent.objects.exists()
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.DONE


def test_a_customer_update_is_not_a_signup(shop, post_webhook):
    signup_enabled(shop)

    post_webhook("customers/update", customer_payload(customer_id=4242, email="lin@example.com"))

    assert not ActionEvent.objects.exists()


def test_joining_by_email_then_creating_an_account_is_one_signup_on_one_member(
    shop, api, post_webhook
):
    # Given a shopper who joined by email through the API
    signup_enabled(shop)
    api.post(
        "/api/v1/events",
        data=json.dumps({"action": "signup", "email": "lin@example.com", "event_id": "form-1"}),
        content_type="application/json",
    )

    # When she then creates an account with that email, and orders
    post_webhook("customers/create", customer_payload(customer_id=4242, email="lin@example.com"))
    post_webhook(
        "orders/create",
        order_payload(
            order_id=9100,
            lines=[LineSpec(price=Decimal("20.00"))],
            customer_id=4242,
            email="lin@example.com",
        ),
    )

    # Then one member holds everything, and the sign-up was awarded once
    member = Member.objects.get(shop=shop.shop)
    assert member.external_id == "4242"
    assert member.points_balance == 120
    statuses = sorted(ActionEvent.objects.values_list("status", flat=True))
    assert statuses == ["awarded", "limit_reached"]


def test_another_shops_program_does_not_award_this_shops_new_accounts(
    shop, other_shop, post_webhook
):
    signup_enabled(other_shop)

    post_webhook("customers/create", customer_payload(customer_id=4242, email="lin@example.com"))

    assert not ActionEvent.objects.exists()


def test_a_guest_who_later_activates_an_account_joins_then_and_only_once(shop, post_webhook):
    # Given a guest customer (no account) who bought before
    signup_enabled(shop)
    guest = {**customer_payload(customer_id=4343, email="guest@example.com"), "state": "disabled"}
    post_webhook("customers/create", guest)
    assert Member.objects.get(external_id="4343").points_balance == 0

    # When she activates an account (customers/enable), twice delivered
    enabled = {**guest, "state": "enabled"}
    post_webhook("customers/enable", enabled)
    post_webhook("customers/enable", enabled)

    # Then she joined once
    assert Member.objects.get(external_id="4343").points_balance == 100
    assert ActionEvent.objects.filter(action="signup", status="awarded").count() == 1
