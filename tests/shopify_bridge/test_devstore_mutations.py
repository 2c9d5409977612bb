"""The simulator's Admin API mutations, called the way the app calls them: through the
app's client (the ShopifyAPI package) over real HTTP, answered with Shopify's shapes and
userErrors, with the simulated shop's state changed as Shopify's would be."""

from __future__ import annotations

from typing import Any

import pytest

from shopify_bridge.admin_api import AdminApiPermanentError, admin_graphql
from shopify_bridge.devstore.models import DevStoreMutation, DevStoreWebhookSubscription

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK = "https://loyalty.example.com/shopify/webhooks"

SUBSCRIBE = """
mutation Subscribe($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription {
      id
      topic
      endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } }
    }
    userErrors { field message }
  }
}
"""

SUBSCRIPTIONS = """
query Subscriptions($topics: [WebhookSubscriptionTopic!]) {
  webhookSubscriptions(first: 50, topics: $topics) {
    edges { node { id topic endpoint { __typename ...Http } } }
    pageInfo { hasNextPage }
  }
}
fragment Http on WebhookHttpEndpoint { callbackUrl }
"""


def call(shop: Any, query: str, **variables: Any) -> dict[str, Any]:
    return admin_graphql(shop=shop, query=query, variables=variables).data


def subscribe(shop: Any, topic: str, url: str = CALLBACK) -> dict[str, Any]:
    payload = call(shop, SUBSCRIBE, topic=topic, sub={"callbackUrl": url, "format": "JSON"})
    return payload["webhookSubscriptionCreate"]


# --- webhook subscriptions ------------------------------------------------------------------


def test_a_webhook_subscription_is_created_and_listed(shop, simulator):
    # given the app installed on a simulated shop
    simulator.install(shop.shop)

    # when it subscribes to two topics
    created = subscribe(shop.shop, "ORDERS_CREATE")
    subscribe(shop.shop, "APP_UNINSTALLED")

    # then the answer carries the subscription with its HTTP endpoint
    subscription = created["webhookSubscription"]
    assert created["userErrors"] == []
    assert subscription["id"].startswith("gid://shopify/WebhookSubscription/")
    assert subscription["topic"] == "ORDERS_CREATE"
    assert subscription["endpoint"] == {
        "__typename": "WebhookHttpEndpoint",
        "callbackUrl": CALLBACK,
    }
    # and the list, filtered by topic, shows it as a connection
    listed = call(shop.shop, SUBSCRIPTIONS, topics=["ORDERS_CREATE"])["webhookSubscriptions"]
    assert listed == {
        "edges": [
            {
                "node": {
                    "id": subscription["id"],
                    "topic": "ORDERS_CREATE",
                    "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": CALLBACK},
                }
            }
        ],
        "pageInfo": {"hasNextPage": False},
    }
    everything = call(shop.shop, SUBSCRIPTIONS)["webhookSubscriptions"]["edges"]
    assert [edge["node"]["topic"] for edge in everything] == ["ORDERS_CREATE", "APP_UNINSTALLED"]


def test_the_same_topic_and_address_twice_is_a_user_error(shop, simulator):
    # given a subscription to orders/create
    simulator.install(shop.shop)
    subscribe(shop.shop, "ORDERS_CREATE")

    # when the app subscribes again (a re-install)
    again = subscribe(shop.shop, "ORDERS_CREATE")

    # then Shopify's userError comes back and there is still one subscription
    assert again == {
        "webhookSubscription": None,
        "userErrors": [
            {
                "field": ["webhookSubscription", "callbackUrl"],
                "message": "Address for this topic has already been taken",
            }
        ],
    }
    assert DevStoreWebhookSubscription.objects.filter(topic="ORDERS_CREATE").count() == 1
    # and another address for the same topic is a second subscription
    assert (
        subscribe(shop.shop, "ORDERS_CREATE", "https://other.example.com/hooks")["userErrors"] == []
    )


def test_an_invalid_address_is_a_user_error_and_an_unknown_topic_a_graphql_error(shop, simulator):
    simulator.install(shop.shop)

    refused = subscribe(shop.shop, "ORDERS_CREATE", "ftp://nowhere")

    assert refused["userErrors"] == [
        {"field": ["webhookSubscription", "callbackUrl"], "message": "Address is invalid"}
    ]
    with pytest.raises(AdminApiPermanentError, match="WebhookSubscriptionTopic"):
        subscribe(shop.shop, "orders/create")


def test_a_subscription_can_be_deleted_once(shop, simulator):
    simulator.install(shop.shop)
    gid = subscribe(shop.shop, "ORDERS_PAID")["webhookSubscription"]["id"]
    delete = """
    mutation ($id: ID!) {
      webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
    }
    """

    first = call(shop.shop, delete, id=gid)["webhookSubscriptionDelete"]
    second = call(shop.shop, delete, id=gid)["webhookSubscriptionDelete"]

    assert first == {"deletedWebhookSubscriptionId": gid, "userErrors": []}
    assert second["userErrors"] == [
        {"field": ["id"], "message": "Webhook subscription does not exist"}
    ]


def test_each_shop_sees_only_its_own_subscriptions(shop, other_shop, simulator):
    # given both shops installed and only the first subscribed
    simulator.install(shop.shop)
    simulator.install(other_shop.shop)
    subscribe(shop.shop, "ORDERS_CREATE")

    # when the second lists its subscriptions and subscribes to the same topic and address
    listed = call(other_shop.shop, SUBSCRIPTIONS)["webhookSubscriptions"]["edges"]
    created = subscribe(other_shop.shop, "ORDERS_CREATE")

    # then it sees none, and its own subscription is no duplicate
    assert listed == []
    assert created["userErrors"] == []


def test_every_mutation_is_recorded_with_its_user_errors(shop, simulator):
    simulator.install(shop.shop)
    subscribe(shop.shop, "ORDERS_CREATE")
    subscribe(shop.shop, "ORDERS_CREATE")

    recorded = list(
        DevStoreMutation.objects.filter(name="webhookSubscriptionCreate")
        .order_by("pk")
        .values_list("arguments", "user_errors")
    )

    assert [arguments["topic"] for arguments, _ in recorded] == ["ORDERS_CREATE", "ORDERS_CREATE"]
    assert [len(errors) for _, errors in recorded] == [0, 1]
