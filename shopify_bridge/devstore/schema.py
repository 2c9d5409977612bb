"""The part of Shopify's Admin GraphQL schema the simulator serves, over its own tables.

Query root: ``nodes(ids:)`` and ``node(id:)`` for products (``id title productType vendor
tags updatedAt collections(first/after)``), ``shop { name myshopifyDomain }``, and
``webhookSubscriptions(first/after, topics, callbackUrl)`` / ``webhookSubscription(id:)``.

Mutation root: each mutation is a resolver taking its arguments and returning its payload
object, with ``userErrors`` worded as Shopify words them. It runs inside the GraphQL view's
transaction, which holds the store's row lock, so two calls to one store change its state
in turn. Every mutation run is recorded (``DevStoreMutation``), userErrors included.

- ``webhookSubscriptionCreate(topic:, webhookSubscription: {callbackUrl, format,
  includeFields})``: a second subscription to the same topic and address is refused
  ("Address for this topic has already been taken"); ``webhookSubscriptionDelete(id:)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.db import IntegrityError, transaction

from .graphql import GraphQLError, connection
from .models import DevStore, DevStoreMutation, DevStoreProduct, DevStoreWebhookSubscription

MAX_INPUT_SIZE = 250  # Shopify refuses larger input arrays
_GID = re.compile(r"^gid://shopify/([A-Za-z]+)/([0-9]{1,19})$")


def _gid_parts(value: Any) -> tuple[str, int]:
    match = _GID.match(value) if isinstance(value, str) else None
    if match is None:
        raise GraphQLError(f"Invalid global id '{value}'", code="argumentLiteralsIncompatible")
    return match.group(1), int(match.group(2))


def _collection(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "Collection",
        "__interfaces": ("Node",),
        "id": f"gid://shopify/Collection/{data['id']}",
        "handle": data["handle"],
        "title": data["title"],
    }


def _product(row: DevStoreProduct) -> dict[str, Any]:
    collections = [_collection(c) for c in row.collections]
    return {
        "__typename": "Product",
        "__interfaces": ("Node",),
        "id": f"gid://shopify/Product/{row.product_id}",
        "title": row.title,
        "productType": row.product_type,
        "vendor": row.vendor,
        "tags": sorted(row.tags, key=str.lower),  # Shopify lists tags alphabetically
        "updatedAt": row.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "collections": lambda args: connection(collections, args),
    }


def _nodes(store: DevStore, ids: Any) -> list[dict[str, Any] | None]:
    if not isinstance(ids, list):
        raise GraphQLError("ids must be a list of IDs", code="argumentLiteralsIncompatible")
    if len(ids) > MAX_INPUT_SIZE:
        raise GraphQLError(
            f"The input array size of {len(ids)} is greater than the maximum allowed of "
            f"{MAX_INPUT_SIZE}.",
            code="MAX_INPUT_SIZE_EXCEEDED",
        )
    parts = [_gid_parts(value) for value in ids]
    wanted = [number for kind, number in parts if kind == "Product"]
    rows = {
        row.product_id: row
        for row in DevStoreProduct.objects.filter(store=store, product_id__in=wanted)
    }
    return [
        _product(rows[number]) if kind == "Product" and number in rows else None
        for kind, number in parts
    ]


def _timestamp(moment: Any) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def _user_error(field: list[str] | None, message: str, code: str | None = None) -> dict:
    error: dict[str, Any] = {"__typename": "UserError", "field": field, "message": message}
    if code is not None:
        error["code"] = code
    return error


def _mutation(
    store: DevStore, name: str, run: Callable[[dict[str, Any]], dict[str, Any]]
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A mutation field: runs ``run`` and records what was asked and what was refused."""

    def resolve(arguments: dict[str, Any]) -> dict[str, Any]:
        payload = run(arguments)
        DevStoreMutation.objects.create(
            store=store,
            name=name,
            arguments=arguments,
            user_errors=[
                {key: e.get(key) for key in ("field", "message", "code") if key in e}
                for e in payload.get("userErrors") or []
            ],
        )
        return payload

    return resolve


def _global_id(value: Any, kind: str, *, argument: str) -> int:
    """The number in a gid of the expected kind; another kind or a malformed id is the
    GraphQL error Shopify gives for an invalid id argument."""
    found, number = _gid_parts(value)
    if found != kind:
        raise GraphQLError(
            f"Invalid id for argument '{argument}': expected a {kind} id, got '{value}'",
            code="argumentLiteralsIncompatible",
        )
    return number


# --- webhook subscriptions ----------------------------------------------------------------

_TOPIC = re.compile(r"^[A-Z][A-Z0-9_]*$")
_FORMATS = ("JSON", "XML")


def _webhook_subscription(row: DevStoreWebhookSubscription) -> dict[str, Any]:
    return {
        "__typename": "WebhookSubscription",
        "__interfaces": ("Node", "LegacyInteroperability"),
        "id": f"gid://shopify/WebhookSubscription/{row.pk}",
        "legacyResourceId": str(row.pk),
        "topic": row.topic,
        "format": row.format,
        "includeFields": list(row.include_fields),
        "callbackUrl": row.callback_url,
        "uri": row.callback_url,
        "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": row.callback_url},
        "createdAt": _timestamp(row.created_at),
        "updatedAt": _timestamp(row.updated_at),
    }


def _topic(value: Any) -> str:
    if not isinstance(value, str) or not _TOPIC.match(value):
        raise GraphQLError(
            f"Argument 'topic' has an invalid value ({value}). Expected type "
            "'WebhookSubscriptionTopic!'.",
            code="argumentLiteralsIncompatible",
        )
    return value


def _webhook_subscription_create(store: DevStore, arguments: dict[str, Any]) -> dict[str, Any]:
    topic = _topic(arguments.get("topic"))
    given = arguments.get("webhookSubscription")
    if not isinstance(given, dict):
        raise GraphQLError(
            "Argument 'webhookSubscription' on Field 'webhookSubscriptionCreate' is required",
            code="missingRequiredArguments",
        )
    callback_url = given.get("callbackUrl") or given.get("uri") or ""
    fmt = given.get("format") or "JSON"
    field = ["webhookSubscription", "callbackUrl"]
    errors = []
    if not isinstance(callback_url, str) or not re.match(r"^https?://[^\s/]+", callback_url):
        errors.append(_user_error(field, "Address is invalid"))
    if fmt not in _FORMATS:
        errors.append(_user_error(["webhookSubscription", "format"], "Format is invalid"))
    if not errors:
        try:
            with transaction.atomic():  # a savepoint: the view's transaction goes on
                row = DevStoreWebhookSubscription.objects.create(
                    store=store,
                    topic=topic,
                    callback_url=callback_url,
                    format=fmt,
                    include_fields=list(given.get("includeFields") or []),
                )
        except IntegrityError:
            errors.append(_user_error(field, "Address for this topic has already been taken"))
        else:
            return {
                "__typename": "WebhookSubscriptionCreatePayload",
                "webhookSubscription": _webhook_subscription(row),
                "userErrors": [],
            }
    return {
        "__typename": "WebhookSubscriptionCreatePayload",
        "webhookSubscription": None,
        "userErrors": errors,
    }


def _webhook_subscription_delete(store: DevStore, arguments: dict[str, Any]) -> dict[str, Any]:
    gid = arguments.get("id")
    number = _global_id(gid, "WebhookSubscription", argument="id")
    deleted, _ = DevStoreWebhookSubscription.objects.filter(store=store, pk=number).delete()
    if not deleted:
        return {
            "__typename": "WebhookSubscriptionDeletePayload",
            "deletedWebhookSubscriptionId": None,
            "userErrors": [_user_error(["id"], "Webhook subscription does not exist")],
        }
    return {
        "__typename": "WebhookSubscriptionDeletePayload",
        "deletedWebhookSubscriptionId": gid,
        "userErrors": [],
    }


def _webhook_subscriptions(store: DevStore, arguments: dict[str, Any]) -> dict[str, Any]:
    rows = DevStoreWebhookSubscription.objects.filter(store=store).order_by("pk")
    topics = arguments.get("topics")
    if topics is not None:
        rows = rows.filter(topic__in=[_topic(t) for t in topics])
    if arguments.get("callbackUrl"):
        rows = rows.filter(callback_url=arguments["callbackUrl"])
    if arguments.get("format"):
        rows = rows.filter(format=arguments["format"])
    return connection([_webhook_subscription(row) for row in rows], arguments, limit=250)


def _webhook_subscription_get(store: DevStore, arguments: dict[str, Any]) -> dict | None:
    number = _global_id(arguments.get("id"), "WebhookSubscription", argument="id")
    row = DevStoreWebhookSubscription.objects.filter(store=store, pk=number).first()
    return _webhook_subscription(row) if row is not None else None


# --- roots --------------------------------------------------------------------------------


def query_root(store: DevStore) -> dict[str, Any]:
    return {
        "__typename": "QueryRoot",
        "nodes": lambda args: _nodes(store, args.get("ids")),
        "node": lambda args: _nodes(store, [args.get("id")])[0],
        "shop": {
            "__typename": "Shop",
            "name": store.domain.split(".")[0],
            "myshopifyDomain": store.domain,
        },
        "webhookSubscriptions": lambda args: _webhook_subscriptions(store, args),
        "webhookSubscription": lambda args: _webhook_subscription_get(store, args),
    }


def mutation_root(store: DevStore) -> dict[str, Any]:
    mutations: dict[str, Callable[[DevStore, dict[str, Any]], dict[str, Any]]] = {
        "webhookSubscriptionCreate": _webhook_subscription_create,
        "webhookSubscriptionDelete": _webhook_subscription_delete,
    }
    root: dict[str, Any] = {"__typename": "Mutation"}
    for name, run in mutations.items():
        root[name] = _mutation(store, name, lambda args, run=run: run(store, args))
    return root
