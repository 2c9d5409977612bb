"""The whole authorization-code install, over real HTTP through the simulated shop: the
app's install page, the grant screen, the callback, the token, the webhook subscriptions."""

from __future__ import annotations

import json

import pytest

from loyalty_app.common.crypto import api_token_digest
from loyalty_app.earning.domain import CustomerRef
from loyalty_app.earning.models import Program
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.selectors import ledger_balance
from loyalty_app.ledger.services import points_adjust
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_upsert
from loyalty_app.shops.models import Shop
from shopify_bridge.devstore.installer import devstore_oauth_install
from shopify_bridge.devstore.models import DevStore, DevStoreWebhookSubscription
from shopify_bridge.webhook_subscriptions import WEBHOOK_TOPICS, topic_enum

DOMAIN = "gamma-store.myshopify.com"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app(simulator, settings):
    """The app and the simulated shop on one live server."""
    settings.SHOPIFY_APP_URL = simulator.url
    return simulator


def subscriptions(domain: str = DOMAIN) -> list[tuple[str, str]]:
    return sorted(
        DevStoreWebhookSubscription.objects.filter(store__domain=domain).values_list(
            "topic", "callback_url"
        )
    )


def test_a_merchant_installs_the_app_and_lands_in_the_embedded_admin(app, settings):
    # When the merchant installs through the simulated store's grant screen
    result = devstore_oauth_install(app_url=app.url, shop=DOMAIN)

    # Then the journey went install -> grant screen -> approve -> callback -> store admin
    assert [(s["method"], s["status"]) for s in result["steps"]] == [
        ("GET", 302),
        ("GET", 200),
        ("POST", 302),
        ("GET", 302),
    ]
    assert result["callback_url"] == f"{app.url}/shopify/callback"
    assert (
        result["admin_url"] == f"{app.url}/devstore/{DOMAIN}/admin/apps/{settings.SHOPIFY_API_KEY}"
    )
    # And the shop is installed with the store's token, kept encrypted
    shop = Shop.objects.get(domain=DOMAIN)
    assert shop.is_installed
    store = DevStore.objects.get(domain=DOMAIN)
    assert api_token_digest(shop.access_token) == store.access_token_digest
    assert shop.access_token not in shop.access_token_encrypted
    assert shop.access_scopes == ",".join(settings.SHOPIFY_SCOPES)
    # And every topic the app uses is subscribed once, at the app's webhook address
    assert subscriptions() == sorted(
        (topic_enum(t), f"{app.url}/shopify/webhooks") for t in WEBHOOK_TOPICS
    )


def test_installing_again_registers_nothing_new_and_keeps_one_subscription_per_topic(app):
    # Given an installed shop
    devstore_oauth_install(app_url=app.url, shop=DOMAIN)
    first_token = Shop.objects.get(domain=DOMAIN).access_token

    # When the merchant installs again
    devstore_oauth_install(app_url=app.url, shop=DOMAIN)

    # Then the shop holds the new token and no subscription was duplicated
    shop = Shop.objects.get(domain=DOMAIN)
    assert shop.access_token != first_token
    assert len(subscriptions()) == len(WEBHOOK_TOPICS)
    assert Shop.objects.filter(domain=DOMAIN).count() == 1


def test_reinstalling_after_an_uninstall_restores_the_program_and_the_balances(app, post_webhook):
    # Given an installed shop with a program and a member holding 120 points
    devstore_oauth_install(app_url=app.url, shop=DOMAIN)
    shop = Shop.objects.get(domain=DOMAIN)
    program_update(
        shop=shop,
        data={"expiry": {"mode": "per_earning", "months": 12, "reminder_days": 30}},
        actor="test",
    )
    member = member_upsert(shop=shop, customer=CustomerRef(external_id="501", email="a@x.test"))
    points_adjust(member=member, points=120, reason="welcome", idempotency_key="w", actor="t")
    # And the merchant removed the app: the store forgot the token and the subscriptions
    DevStore.objects.filter(domain=DOMAIN).update(access_token_digest="")
    DevStoreWebhookSubscription.objects.filter(store__domain=DOMAIN).delete()
    payload = {"id": 1, "domain": DOMAIN, "myshopify_domain": DOMAIN}
    assert post_webhook("app/uninstalled", payload, shop_domain=DOMAIN).status_code == 200
    shop.refresh_from_db()
    assert not shop.is_installed and shop.access_token_encrypted == ""

    # When the merchant installs the app again
    devstore_oauth_install(app_url=app.url, shop=DOMAIN)

    # Then the same shop is back, with its program and the member's balance
    shop.refresh_from_db()
    assert shop.is_installed and shop.uninstalled_at is None
    assert Program.objects.filter(shop=shop).count() == 1
    assert ledger_balance(member=Member.objects.get(pk=member.pk)) == 120
    # And its subscriptions are registered again, once each
    assert len(subscriptions()) == len(WEBHOOK_TOPICS)


def test_an_admin_api_outage_during_registration_leaves_the_shop_installed_and_a_retry_completes(
    app, capsys
):
    # Given the store's Admin API answers 503 for the next calls (the shop's profile
    # read, then the subscriptions list)
    store = DevStore.objects.create(domain=DOMAIN)
    app.fail(store, "http_503", count=2)

    # When the merchant installs
    with pytest.raises(Exception, match="callback: expected a redirect, got HTTP 502"):
        devstore_oauth_install(app_url=app.url, shop=DOMAIN)

    # Then the shop is installed with its token, but nothing is subscribed yet
    shop = Shop.objects.get(domain=DOMAIN)
    assert shop.is_installed and shop.access_token
    assert subscriptions() == []

    # When the registration is run again once the store is back
    from django.core.management import call_command

    call_command("shopify_webhooks_register", "--shop", DOMAIN)

    # Then every topic is subscribed, once
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(printed["created"]) == sorted(WEBHOOK_TOPICS)
    assert len(subscriptions()) == len(WEBHOOK_TOPICS)


def test_the_install_takes_the_shops_name_currency_and_time_zone_from_the_store(app):
    # Given a store that sells in euros from Paris
    DevStore.objects.create(
        domain=DOMAIN, name="Café Gamma", currency="EUR", iana_timezone="Europe/Paris"
    )

    # When the merchant installs the app
    devstore_oauth_install(app_url=app.url, shop=DOMAIN)

    # Then the program's money and calendar follow the store
    shop = Shop.objects.get(domain=DOMAIN)
    assert (shop.name, shop.currency, shop.timezone) == ("Café Gamma", "EUR", "Europe/Paris")
