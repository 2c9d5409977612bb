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
- ``tagsAdd`` / ``tagsRemove(id:, tags:)`` on a customer, order or product (tags are
  case-insensitive and comma-separated strings are split, as Shopify does).
- ``metafieldsSet(metafields: [...])``: at most 25, all or nothing, values checked
  against their type.
- ``storeCreditAccountCredit(id:, creditInput:)`` / ``storeCreditAccountDebit(id:,
  debitInput:)``: one account per customer and currency (a credit to a customer id opens
  it), a debit beyond the balance is refused (``INSUFFICIENT_FUNDS``).
- ``discountCodeBasicCreate`` / ``discountCodeFreeShippingCreate``: a code taken in the
  store, whatever its case, is refused (``TAKEN``).
- ``appUsageRecordCreate``: charges up to the store's capped amount; the same idempotency
  key again returns the first record and charges nothing.

The simulator keeps no customer list: any customer id names a customer.

Queries over that state: ``customer(id:) { id tags metafield(namespace:, key:)
metafields(first:) storeCreditAccounts(first:) }``, ``codeDiscountNodeByCode(code:)``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import Upper
from django.utils.dateparse import parse_datetime

from loyalty_app.common.time import now

from .graphql import GraphQLError, connection
from .models import (
    DevStore,
    DevStoreAppUsageRecord,
    DevStoreDiscountCode,
    DevStoreMetafield,
    DevStoreMutation,
    DevStoreProduct,
    DevStoreStoreCreditAccount,
    DevStoreStoreCreditTransaction,
    DevStoreTags,
    DevStoreWebhookSubscription,
)

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


# --- scalars ------------------------------------------------------------------------------


def _money_amount(value: Any, argument: str) -> Decimal:
    """A ``Decimal`` scalar (Shopify takes a string or a number); anything else is the
    coercion error GraphQL gives before the mutation runs."""
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidOperation
        amount = Decimal(str(value))
        if not amount.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise GraphQLError(
            f"Argument '{argument}' has an invalid value ({value}). Expected type 'Decimal!'.",
            code="argumentLiteralsIncompatible",
        ) from None
    return amount


def _currency(value: Any, argument: str) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Z]{3}$", value):
        raise GraphQLError(
            f"Argument '{argument}' has an invalid value ({value}). Expected type 'CurrencyCode!'.",
            code="argumentLiteralsIncompatible",
        )
    return value


def _datetime(value: Any, argument: str) -> datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise GraphQLError(
            f"Argument '{argument}' has an invalid value ({value}). Expected type 'DateTime'.",
            code="argumentLiteralsIncompatible",
        )
    return parsed


def _required(arguments: Mapping[str, Any], name: str, field: str) -> Any:
    value = arguments.get(name)
    if value is None:
        raise GraphQLError(
            f"Field '{field}' is missing required arguments: {name}",
            code="missingRequiredArguments",
        )
    return value


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"__typename": "MoneyV2", "amount": str(amount), "currencyCode": currency}


# --- tags ---------------------------------------------------------------------------------

_TAGGABLE = ("Customer", "Order", "Product", "DraftOrder", "Article")
MAX_TAG_LENGTH = 255
MAX_TAGS = 250


def _tag_list(value: Any) -> list[str]:
    """Tags as Shopify reads them: a list of strings, each possibly comma-separated."""
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise GraphQLError(
            "Argument 'tags' has an invalid value. Expected type '[String!]!'.",
            code="argumentLiteralsIncompatible",
        )
    return [tag.strip() for item in items for tag in item.split(",") if tag.strip()]


def _tags_change(store: DevStore, arguments: dict[str, Any], *, add: bool) -> dict[str, Any]:
    typename = "TagsAddPayload" if add else "TagsRemovePayload"
    gid = _required(arguments, "id", "tagsAdd" if add else "tagsRemove")
    kind, number = _gid_parts(gid)
    if kind not in _TAGGABLE:
        raise GraphQLError(
            f"Invalid id for argument 'id': {kind} cannot be tagged",
            code="argumentLiteralsIncompatible",
        )
    wanted = _tag_list(_required(arguments, "tags", "tagsAdd" if add else "tagsRemove"))
    too_long = [tag for tag in wanted if len(tag) > MAX_TAG_LENGTH]
    if too_long:
        return {
            "__typename": typename,
            "node": None,
            "userErrors": [
                _user_error(["tags"], f"Tags is too long (maximum is {MAX_TAG_LENGTH} characters)")
            ],
        }
    product = None
    if kind == "Product":
        product = DevStoreProduct.objects.filter(store=store, product_id=number).first()
        if product is None:
            return {
                "__typename": typename,
                "node": None,
                "userErrors": [_user_error(["id"], "Product does not exist")],
            }
        current = list(product.tags)
    else:
        row, _ = DevStoreTags.objects.get_or_create(store=store, owner_id=gid)
        current = list(row.tags)
    # Tags are unique whatever their case; the first spelling stays.
    if add:
        known = {tag.lower() for tag in current}
        for tag in wanted:
            if tag.lower() not in known:
                known.add(tag.lower())
                current.append(tag)
    else:
        gone = {tag.lower() for tag in wanted}
        current = [tag for tag in current if tag.lower() not in gone]
    if len(current) > MAX_TAGS:
        return {
            "__typename": typename,
            "node": None,
            "userErrors": [_user_error(["tags"], f"Tags cannot exceed {MAX_TAGS} tags")],
        }
    if product is not None:
        product.tags = current
        product.save(update_fields=["tags", "updated_at"])
    else:
        DevStoreTags.objects.filter(store=store, owner_id=gid).update(tags=current)
    node = {"__typename": kind, "__interfaces": ("Node",), "id": gid, "tags": current}
    return {"__typename": typename, "node": node, "userErrors": []}


# --- metafields ---------------------------------------------------------------------------

MAX_METAFIELDS_PER_CALL = 25
_KEY = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
_NAMESPACE = re.compile(r"^(\$app(:[A-Za-z0-9_-]+)?|[A-Za-z0-9_-]{3,255})$")
_OWNER_TYPES = {
    "Customer": "CUSTOMER",
    "Order": "ORDER",
    "Product": "PRODUCT",
    "Shop": "SHOP",
    "ProductVariant": "PRODUCTVARIANT",
    "Collection": "COLLECTION",
}


def _metafield_value_ok(kind: str, value: str) -> bool | None:
    """Whether ``value`` is valid for the metafield type ``kind`` (None: unknown type)."""
    try:
        if kind == "number_integer":
            return bool(re.match(r"^-?[0-9]+$", value)) and abs(int(value)) < 2**63
        if kind == "number_decimal":
            return Decimal(value).is_finite()
        if kind == "boolean":
            return value in ("true", "false")
        if kind in ("json", "money", "rating", "dimension", "volume", "weight"):
            json.loads(value)
            return True
        if kind == "date":
            date.fromisoformat(value)
            return True
        if kind == "date_time":
            return parse_datetime(value) is not None
        if kind == "single_line_text_field":
            return "\n" not in value
        if kind in ("multi_line_text_field", "url", "color"):
            return True
    except (ValueError, InvalidOperation):
        return False
    return None


def _metafield(row: DevStoreMetafield) -> dict[str, Any]:
    kind, _ = _gid_parts(row.owner_id)
    return {
        "__typename": "Metafield",
        "__interfaces": ("Node",),
        "id": f"gid://shopify/Metafield/{row.pk}",
        "namespace": row.namespace,
        "key": row.key,
        "type": row.type,
        "value": row.value,
        "ownerType": _OWNER_TYPES.get(kind, kind.upper()),
        "owner": {"__typename": kind, "__interfaces": ("Node",), "id": row.owner_id},
        "compareDigest": hashlib.sha256(row.value.encode()).hexdigest(),
        "createdAt": _timestamp(row.created_at),
        "updatedAt": _timestamp(row.updated_at),
    }


def _metafield_error(index: int, name: str, message: str, code: str) -> dict[str, Any]:
    error = _user_error(["metafields", str(index), name], message, code)
    error["__typename"] = "MetafieldsSetUserError"
    error["elementIndex"] = index
    return error


def _metafields_set(store: DevStore, arguments: dict[str, Any]) -> dict[str, Any]:
    given = _required(arguments, "metafields", "metafieldsSet")
    if not isinstance(given, list) or not all(isinstance(item, dict) for item in given):
        raise GraphQLError(
            "Argument 'metafields' has an invalid value. Expected type '[MetafieldsSetInput!]!'.",
            code="argumentLiteralsIncompatible",
        )
    if len(given) > MAX_METAFIELDS_PER_CALL:
        raise GraphQLError(
            f"The input array size of {len(given)} is greater than the maximum allowed of "
            f"{MAX_METAFIELDS_PER_CALL}.",
            code="MAX_INPUT_SIZE_EXCEEDED",
        )
    errors: list[dict[str, Any]] = []
    cleaned = []
    for index, item in enumerate(given):
        owner = item.get("ownerId")
        kind, _ = _gid_parts(owner)
        namespace = item.get("namespace") or "$app"
        key, kind_name, value = item.get("key") or "", item.get("type"), item.get("value")
        if kind not in _OWNER_TYPES:
            errors.append(_metafield_error(index, "ownerId", "Owner type can't be used", "INVALID"))
        if not _NAMESPACE.match(namespace):
            errors.append(
                _metafield_error(
                    index, "namespace", "Namespace must be 3 to 255 characters", "INVALID"
                )
            )
        if not _KEY.match(key):
            code = "TOO_SHORT" if len(key) < 2 else "TOO_LONG" if len(key) > 64 else "INVALID"
            errors.append(
                _metafield_error(index, "key", "Key must be 2 to 64 letters, digits, - or _", code)
            )
        if not isinstance(value, str) or value == "":
            errors.append(_metafield_error(index, "value", "Value can't be blank", "BLANK"))
            continue
        if not isinstance(kind_name, str) or not kind_name:
            errors.append(_metafield_error(index, "type", "Type can't be blank", "BLANK"))
            continue
        valid = _metafield_value_ok(kind_name, value)
        if valid is None:
            errors.append(_metafield_error(index, "type", "Type is invalid", "INVALID_TYPE"))
        elif not valid:
            errors.append(
                _metafield_error(
                    index, "value", f"Value is invalid for the type {kind_name}", "INVALID_VALUE"
                )
            )
        cleaned.append((owner, namespace, key, kind_name, value))
    if errors:
        # All or nothing, as Shopify's metafieldsSet is.
        return {"__typename": "MetafieldsSetPayload", "metafields": [], "userErrors": errors}
    rows = []
    for owner, namespace, key, kind_name, value in cleaned:
        row, _ = DevStoreMetafield.objects.update_or_create(
            store=store,
            owner_id=owner,
            namespace=namespace,
            key=key,
            defaults={"type": kind_name, "value": value},
        )
        rows.append(row)
    return {
        "__typename": "MetafieldsSetPayload",
        "metafields": [_metafield(row) for row in rows],
        "userErrors": [],
    }


# --- store credit -------------------------------------------------------------------------


def _store_credit_account(row: DevStoreStoreCreditAccount) -> dict[str, Any]:
    return {
        "__typename": "StoreCreditAccount",
        "__interfaces": ("Node",),
        "id": f"gid://shopify/StoreCreditAccount/{row.pk}",
        "balance": _money(row.balance, row.currency),
        "owner": {
            "__typename": "Customer",
            "__interfaces": ("Node", "HasStoreCreditAccounts"),
            "id": f"gid://shopify/Customer/{row.customer_id}",
        },
    }


def _store_credit_transaction(
    row: DevStoreStoreCreditTransaction, account: DevStoreStoreCreditAccount, typename: str
) -> dict[str, Any]:
    return {
        "__typename": typename,
        "__interfaces": ("StoreCreditAccountTransaction", "Node"),
        "id": f"gid://shopify/{typename}/{row.pk}",
        "amount": _money(row.amount, account.currency),
        "balanceAfterTransaction": _money(row.balance_after, account.currency),
        "createdAt": _timestamp(row.created_at),
        "expiresAt": _timestamp(row.expires_at),
        "account": _store_credit_account(account),
    }


def _store_credit_change(store: DevStore, arguments: dict[str, Any], *, credit: bool) -> dict:
    name = "storeCreditAccountCredit" if credit else "storeCreditAccountDebit"
    input_name, amount_name = (
        ("creditInput", "creditAmount") if credit else ("debitInput", "debitAmount")
    )
    typename = "StoreCreditAccountCreditPayload" if credit else "StoreCreditAccountDebitPayload"
    error_typename = (
        "StoreCreditAccountCreditUserError" if credit else "StoreCreditAccountDebitUserError"
    )
    gid = _required(arguments, "id", name)
    kind, number = _gid_parts(gid)
    if kind not in ("Customer", "StoreCreditAccount"):
        raise GraphQLError(
            f"Invalid id for argument 'id': expected a StoreCreditAccount or Customer id, "
            f"got '{gid}'",
            code="argumentLiteralsIncompatible",
        )
    given = _required(arguments, input_name, name)
    money = given.get(amount_name) if isinstance(given, dict) else None
    if not isinstance(money, dict):
        raise GraphQLError(
            f"Argument '{input_name}.{amount_name}' is required", code="missingRequiredArguments"
        )
    amount = _money_amount(money.get("amount"), f"{amount_name}.amount")
    currency = _currency(money.get("currencyCode"), f"{amount_name}.currencyCode")
    expires_at = _datetime(given.get("expiresAt"), "expiresAt") if credit else None

    def refused(field: list[str], message: str, code: str) -> dict[str, Any]:
        error = _user_error(field, message, code)
        error["__typename"] = error_typename
        return {
            "__typename": typename,
            "storeCreditAccountTransaction": None,
            "userErrors": [error],
        }

    amount_field = [input_name, amount_name, "amount"]
    if amount <= 0:
        verb = "credit" if credit else "debit"
        return refused(
            amount_field,
            f"A positive amount must be used to {verb} a store credit account.",
            "NEGATIVE_OR_ZERO_AMOUNT",
        )
    if expires_at is not None and expires_at <= now():
        return refused(
            [input_name, "expiresAt"],
            "The expiry date must be in the future.",
            "EXPIRES_AT_IN_PAST",
        )
    accounts = DevStoreStoreCreditAccount.objects.select_for_update()
    if kind == "StoreCreditAccount":
        account = accounts.filter(store=store, pk=number).first()
        if account is None:
            return refused(["id"], "Store credit account does not exist.", "ACCOUNT_NOT_FOUND")
        if account.currency != currency:
            return refused(
                [input_name, amount_name, "currencyCode"],
                "The currency provided does not match the currency of the store credit account.",
                "MISMATCHING_CURRENCY",
            )
    elif credit:
        # A customer id opens the customer's account in that currency if there is none.
        account, _ = accounts.get_or_create(store=store, customer_id=number, currency=currency)
    else:
        account = accounts.filter(store=store, customer_id=number, currency=currency).first()
        if account is None:
            return refused(["id"], "Store credit account does not exist.", "ACCOUNT_NOT_FOUND")
    if not credit and amount > account.balance:
        return refused(
            amount_field,
            "The store credit account does not have sufficient funds to satisfy the request.",
            "INSUFFICIENT_FUNDS",
        )
    account.balance = account.balance + amount if credit else account.balance - amount
    account.save(update_fields=["balance"])
    row = DevStoreStoreCreditTransaction.objects.create(
        account=account,
        amount=amount if credit else -amount,
        balance_after=account.balance,
        expires_at=expires_at,
    )
    kind_name = (
        "StoreCreditAccountCreditTransaction" if credit else "StoreCreditAccountDebitTransaction"
    )
    return {
        "__typename": typename,
        "storeCreditAccountTransaction": _store_credit_transaction(row, account, kind_name),
        "userErrors": [],
    }


# --- discount codes -----------------------------------------------------------------------

MAX_CODE_LENGTH = 255


def _discount_node(row: DevStoreDiscountCode) -> dict[str, Any]:
    moment = now()
    if row.ends_at is not None and row.ends_at <= moment:
        status = "EXPIRED"
    elif row.starts_at is not None and row.starts_at > moment:
        status = "SCHEDULED"
    else:
        status = "ACTIVE"
    code = {
        "__typename": "DiscountRedeemCode",
        "id": f"gid://shopify/DiscountRedeemCode/{row.pk}",
        "code": row.code,
    }
    definition = row.definition
    discount = {
        "__typename": "DiscountCodeBasic"
        if row.kind == DevStoreDiscountCode.Kind.BASIC
        else "DiscountCodeFreeShipping",
        "title": row.title,
        "status": status,
        "startsAt": _timestamp(row.starts_at),
        "endsAt": _timestamp(row.ends_at),
        "usageLimit": row.usage_limit,
        "appliesOncePerCustomer": bool(definition.get("appliesOncePerCustomer")),
        "asyncUsageCount": 0,
        "createdAt": _timestamp(row.created_at),
        "codes": lambda args: connection([code], args),
        "codesCount": {"__typename": "Count", "count": 1, "precision": "EXACT"},
    }
    return {
        "__typename": "DiscountCodeNode",
        "__interfaces": ("Node",),
        "id": f"gid://shopify/DiscountCodeNode/{row.pk}",
        "codeDiscount": discount,
    }


def _discount_errors(given: Mapping[str, Any], input_name: str, *, basic: bool) -> list[dict]:
    errors = []

    def error(field: str | list[str], message: str, code: str) -> None:
        path = [input_name, *([field] if isinstance(field, str) else field)]
        entry = _user_error(path, message, code)
        entry["__typename"] = "DiscountUserError"
        entry["extraInfo"] = None
        errors.append(entry)

    code = given.get("code")
    if not isinstance(code, str) or not code.strip():
        error("code", "Code can't be blank", "BLANK")
    elif len(code) > MAX_CODE_LENGTH:
        error("code", f"Code is too long (maximum is {MAX_CODE_LENGTH} characters)", "TOO_LONG")
    elif "\n" in code or "\r" in code:
        error("code", "Code cannot contain newline characters.", "INVALID")
    if not isinstance(given.get("title"), str) or not given["title"].strip():
        error("title", "Title can't be blank", "BLANK")
    if given.get("startsAt") is None:
        error("startsAt", "Starts at can't be blank", "BLANK")
    if given.get("context") is None and given.get("customerSelection") is None:
        error("context", "Context can't be blank", "BLANK")
    starts_at = _datetime(given.get("startsAt"), "startsAt")
    ends_at = _datetime(given.get("endsAt"), "endsAt")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        error("endsAt", "Ends at needs to be after starts_at", "INVALID")
    limit = given.get("usageLimit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        error("usageLimit", "Usage limit must be greater than 0", "GREATER_THAN")
    if basic:
        gets = given.get("customerGets")
        value = gets.get("value") if isinstance(gets, dict) else None
        if not isinstance(value, dict):
            error("customerGets", "Customer gets can't be blank", "BLANK")
        else:
            percentage = value.get("percentage")
            amount = (value.get("discountAmount") or {}).get("amount")
            if percentage is not None:
                if not isinstance(percentage, (int, float)) or not 0 < percentage <= 1:
                    error(
                        ["customerGets", "value", "percentage"],
                        "Value must be between 0.0 and 1.0",
                        "VALUE_OUTSIDE_RANGE",
                    )
            elif amount is not None:
                if _money_amount(amount, "discountAmount.amount") <= 0:
                    error(
                        ["customerGets", "value", "discountAmount", "amount"],
                        "Value must be greater than 0",
                        "GREATER_THAN",
                    )
            else:
                error(["customerGets", "value"], "Value can't be blank", "BLANK")
            if not isinstance(gets.get("items"), dict):
                error(["customerGets", "items"], "Items can't be blank", "BLANK")
    return errors


def _discount_code_create(store: DevStore, arguments: dict[str, Any], *, basic: bool) -> dict:
    input_name = "basicCodeDiscount" if basic else "freeShippingCodeDiscount"
    name = "discountCodeBasicCreate" if basic else "discountCodeFreeShippingCreate"
    typename = (
        "DiscountCodeBasicCreatePayload" if basic else "DiscountCodeFreeShippingCreatePayload"
    )
    given = _required(arguments, input_name, name)
    if not isinstance(given, dict):
        raise GraphQLError(
            f"Argument '{input_name}' has an invalid value.", code="argumentLiteralsIncompatible"
        )
    errors = _discount_errors(given, input_name, basic=basic)
    if not errors:
        try:
            with transaction.atomic():  # a savepoint: the view's transaction goes on
                row = DevStoreDiscountCode.objects.create(
                    store=store,
                    kind=DevStoreDiscountCode.Kind.BASIC
                    if basic
                    else DevStoreDiscountCode.Kind.FREE_SHIPPING,
                    code=given["code"].strip(),
                    title=given["title"].strip(),
                    starts_at=_datetime(given.get("startsAt"), "startsAt"),
                    ends_at=_datetime(given.get("endsAt"), "endsAt"),
                    usage_limit=given.get("usageLimit"),
                    definition=given,
                )
        except IntegrityError:
            entry = _user_error(
                [input_name, "code"], "Code must be unique. Please try a different code.", "TAKEN"
            )
            entry["__typename"] = "DiscountUserError"
            entry["extraInfo"] = None
            errors.append(entry)
        else:
            return {
                "__typename": typename,
                "codeDiscountNode": _discount_node(row),
                "userErrors": [],
            }
    return {"__typename": typename, "codeDiscountNode": None, "userErrors": errors}


def _discount_by_code(store: DevStore, arguments: dict[str, Any]) -> dict[str, Any] | None:
    code = _required(arguments, "code", "codeDiscountNodeByCode")
    row = (
        DevStoreDiscountCode.objects.annotate(upper=Upper("code"))
        .filter(store=store, upper=str(code).strip().upper())
        .first()
    )
    return _discount_node(row) if row is not None else None


# --- app usage records --------------------------------------------------------------------

_LINE_ITEM = re.compile(r"^gid://shopify/AppSubscriptionLineItem/[0-9]+(\?[^\s]*)?$")


def _usage_record(row: DevStoreAppUsageRecord) -> dict[str, Any]:
    return {
        "__typename": "AppUsageRecord",
        "__interfaces": ("Node",),
        "id": f"gid://shopify/AppUsageRecord/{row.pk}",
        "description": row.description,
        "idempotencyKey": row.idempotency_key or None,
        "price": _money(row.amount, row.currency),
        "createdAt": _timestamp(row.created_at),
        "subscriptionLineItem": {
            "__typename": "AppSubscriptionLineItem",
            "id": row.line_item_id,
        },
    }


def _app_usage_record_create(store: DevStore, arguments: dict[str, Any]) -> dict[str, Any]:
    name = "appUsageRecordCreate"
    line_item = _required(arguments, "subscriptionLineItemId", name)
    if not isinstance(line_item, str) or not _LINE_ITEM.match(line_item):
        raise GraphQLError(f"Invalid global id '{line_item}'", code="argumentLiteralsIncompatible")
    price = _required(arguments, "price", name)
    if not isinstance(price, dict):
        raise GraphQLError(
            "Argument 'price' has an invalid value.", code="argumentLiteralsIncompatible"
        )
    amount = _money_amount(price.get("amount"), "price.amount")
    currency = _currency(price.get("currencyCode"), "price.currencyCode")
    description = _required(arguments, "description", name)
    key = arguments.get("idempotencyKey") or ""

    def refused(field: list[str] | None, message: str) -> dict[str, Any]:
        return {
            "__typename": "AppUsageRecordCreatePayload",
            "appUsageRecord": None,
            "userErrors": [_user_error(field, message)],
        }

    if not isinstance(description, str) or not description.strip():
        return refused(["description"], "Description can't be blank")
    if len(key) > 255:
        return refused(
            ["idempotencyKey"], "Idempotency key is too long (maximum is 255 characters)"
        )
    if amount <= 0:
        return refused(["price"], "Price must be greater than 0")
    if key:
        # The same request sent again charges nothing more: the first record answers.
        first = DevStoreAppUsageRecord.objects.filter(
            store=store, line_item_id=line_item, idempotency_key=key
        ).first()
        if first is not None:
            return {
                "__typename": "AppUsageRecordCreatePayload",
                "appUsageRecord": _usage_record(first),
                "userErrors": [],
            }
    charged = DevStoreAppUsageRecord.objects.filter(store=store, line_item_id=line_item).aggregate(
        total=Sum("amount")
    )["total"] or Decimal(0)
    if charged + amount > store.usage_capped_amount:
        return refused(None, "Total price exceeds balance remaining")
    row = DevStoreAppUsageRecord.objects.create(
        store=store,
        line_item_id=line_item,
        amount=amount,
        currency=currency,
        description=description.strip()[:255],
        idempotency_key=key,
    )
    return {
        "__typename": "AppUsageRecordCreatePayload",
        "appUsageRecord": _usage_record(row),
        "userErrors": [],
    }


# --- customers ----------------------------------------------------------------------------


def _customer(store: DevStore, arguments: dict[str, Any]) -> dict[str, Any]:
    gid = _required(arguments, "id", "customer")
    number = _global_id(gid, "Customer", argument="id")
    tags = DevStoreTags.objects.filter(store=store, owner_id=gid).values_list("tags", flat=True)
    metafields = DevStoreMetafield.objects.filter(store=store, owner_id=gid).order_by("pk")

    def metafield(args: dict[str, Any]) -> dict[str, Any] | None:
        row = metafields.filter(
            namespace=args.get("namespace") or "$app", key=args.get("key")
        ).first()
        return _metafield(row) if row is not None else None

    def accounts(args: dict[str, Any]) -> dict[str, Any]:
        rows = DevStoreStoreCreditAccount.objects.filter(store=store, customer_id=number).order_by(
            "pk"
        )
        return connection([_store_credit_account(row) for row in rows], args)

    return {
        "__typename": "Customer",
        "__interfaces": ("Node", "HasMetafields", "HasStoreCreditAccounts"),
        "id": gid,
        "tags": next(iter(tags), []),
        "metafield": metafield,
        "metafields": lambda args: connection([_metafield(row) for row in metafields], args),
        "storeCreditAccounts": accounts,
    }


# --- roots --------------------------------------------------------------------------------


def query_root(store: DevStore) -> dict[str, Any]:
    return {
        "__typename": "QueryRoot",
        "nodes": lambda args: _nodes(store, args.get("ids")),
        "node": lambda args: _nodes(store, [args.get("id")])[0],
        "shop": {
            "__typename": "Shop",
            "name": store.name or store.domain.split(".")[0].replace("-", " ").title(),
            "myshopifyDomain": store.domain,
            "currencyCode": store.currency,
            "ianaTimezone": store.iana_timezone,
        },
        "webhookSubscriptions": lambda args: _webhook_subscriptions(store, args),
        "webhookSubscription": lambda args: _webhook_subscription_get(store, args),
        "customer": lambda args: _customer(store, args),
        "codeDiscountNodeByCode": lambda args: _discount_by_code(store, args),
    }


def mutation_root(store: DevStore) -> dict[str, Any]:
    mutations: dict[str, Callable[[DevStore, dict[str, Any]], dict[str, Any]]] = {
        "webhookSubscriptionCreate": _webhook_subscription_create,
        "webhookSubscriptionDelete": _webhook_subscription_delete,
        "tagsAdd": lambda store, args: _tags_change(store, args, add=True),
        "tagsRemove": lambda store, args: _tags_change(store, args, add=False),
        "metafieldsSet": _metafields_set,
        "storeCreditAccountCredit": lambda store, args: _store_credit_change(
            store, args, credit=True
        ),
        "storeCreditAccountDebit": lambda store, args: _store_credit_change(
            store, args, credit=False
        ),
        "discountCodeBasicCreate": lambda store, args: _discount_code_create(
            store, args, basic=True
        ),
        "discountCodeFreeShippingCreate": lambda store, args: _discount_code_create(
            store, args, basic=False
        ),
        "appUsageRecordCreate": _app_usage_record_create,
    }
    root: dict[str, Any] = {"__typename": "Mutation"}
    for name, run in mutations.items():
        root[name] = _mutation(store, name, lambda args, run=run: run(store, args))
    return root
