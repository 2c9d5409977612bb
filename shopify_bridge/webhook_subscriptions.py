"""The shop's webhook subscriptions: the topics the app listens to, registered through the
Admin GraphQL API (``webhookSubscriptionCreate``) after each install.

Registration is idempotent: the shop's existing subscriptions are listed first and only the
missing (topic, address) pairs are created, so a re-install, a retry or the
``shopify_webhooks_register`` command never duplicates one (a duplicate would mean two
deliveries of every event). Two registrations racing each other are settled by the platform
itself, which refuses a second subscription to the same address ("Address for this topic
has already been taken"): that answer counts as "already there".

The compliance topics (customers/data_request, customers/redact, shop/redact) cannot be
subscribed through the API; shopify.app.toml declares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loyalty_app.shops.models import Shop

from .admin_api import AdminApiPermanentError, admin_graphql, user_errors_raise
from .oauth import app_url

# Every topic the receiver handles (shopify_bridge.handlers), app/uninstalled included.
WEBHOOK_TOPICS: tuple[str, ...] = (
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "refunds/create",
    "customers/create",
    "customers/update",
    "customers/enable",
    "products/update",
    "products/delete",
    "app/uninstalled",
)

# The platform's answer to a second subscription for one topic and address.
_TAKEN = "already been taken"

SUBSCRIPTIONS_QUERY = """
query WebhookSubscriptions($first: Int!, $after: String, $topics: [WebhookSubscriptionTopic!]) {
  webhookSubscriptions(first: $first, after: $after, topics: $topics) {
    edges { node { id topic uri } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate(
  $topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""


def topic_enum(topic: str) -> str:
    """``orders/create`` -> ``ORDERS_CREATE`` (GraphQL's WebhookSubscriptionTopic)."""
    return topic.replace("/", "_").upper()


def webhook_callback_url() -> str:
    return f"{app_url()}/shopify/webhooks"


@dataclass(frozen=True)
class RegisterResult:
    created: tuple[str, ...]
    existing: tuple[str, ...]


def webhook_subscriptions_list(*, shop: Shop) -> list[dict[str, Any]]:
    """The shop's subscriptions to the app's topics: ``{"id", "topic", "uri"}`` each."""
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        result = admin_graphql(
            shop=shop,
            query=SUBSCRIPTIONS_QUERY,
            variables={
                "first": 100,
                "after": after,
                "topics": [topic_enum(t) for t in WEBHOOK_TOPICS],
            },
        )
        page = result.data.get("webhookSubscriptions") or {}
        nodes.extend(edge["node"] for edge in page.get("edges") or [] if edge.get("node"))
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage") or not info.get("endCursor"):
            return nodes
        after = str(info["endCursor"])


def webhook_subscriptions_register(*, shop: Shop) -> RegisterResult:
    """Subscribe the shop to every topic in ``WEBHOOK_TOPICS`` at the app's webhook
    address, creating only what is missing. Slow I/O: call it outside any transaction.

    Raises the Admin API client's errors (``AdminApiTransientError``: try again later;
    ``AdminApiPermanentError``: the token or a scope is wrong). Subscriptions created
    before a failure stay; the next run creates only the rest.
    """
    address = webhook_callback_url()
    subscriptions = webhook_subscriptions_list(shop=shop)
    present = {str(node.get("topic")) for node in subscriptions if node.get("uri") == address}
    created: list[str] = []
    existing: list[str] = []
    for topic in WEBHOOK_TOPICS:
        if topic_enum(topic) in present:
            existing.append(topic)
            continue
        result = admin_graphql(
            shop=shop,
            query=SUBSCRIPTION_CREATE,
            variables={
                "topic": topic_enum(topic),
                "webhookSubscription": {"uri": address, "format": "JSON"},
            },
        )
        payload = result.data.get("webhookSubscriptionCreate") or {}
        errors = payload.get("userErrors") or []
        if errors and all(_TAKEN in str(e.get("message", "")) for e in errors):
            existing.append(topic)  # registered meanwhile by a concurrent install
            continue
        user_errors_raise(payload, mutation=f"webhookSubscriptionCreate({topic})")
        if not payload.get("webhookSubscription"):
            raise AdminApiPermanentError(
                f"webhookSubscriptionCreate({topic}) for {shop.domain} returned no subscription"
            )
        created.append(topic)
    return RegisterResult(created=tuple(created), existing=tuple(existing))
