"""The simulator's Admin API mutations, called the way the app calls them: through the
app's client (the ShopifyAPI package) over real HTTP, answered with Shopify's shapes and
userErrors, with the simulated shop's state changed as Shopify's would be."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shopify_bridge.admin_api import AdminApiPermanentError, admin_graphql
from shopify_bridge.devstore.models import (
    DevStore,
    DevStoreAppUsageRecord,
    DevStoreMutation,
    DevStoreWebhookSubscription,
)

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


# --- tags -----------------------------------------------------------------------------------

CUSTOMER = "gid://shopify/Customer/7001"

TAGS_ADD = """
mutation ($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}
"""
TAGS_REMOVE = """
mutation ($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) { node { id } userErrors { field message } }
}
"""
CUSTOMER_QUERY = """
query ($id: ID!) {
  customer(id: $id) {
    tags
    metafield(namespace: "loyalty", key: "points") { value type }
    storeCreditAccounts(first: 5) { nodes { id balance { amount currencyCode } } }
  }
}
"""


def test_tags_are_added_once_whatever_their_case_and_removed(shop, simulator):
    simulator.install(shop.shop)

    added = call(shop.shop, TAGS_ADD, id=CUSTOMER, tags=["vip-gold", "Loyalty, early-access"])
    call(shop.shop, TAGS_ADD, id=CUSTOMER, tags=["VIP-GOLD"])
    removed = call(shop.shop, TAGS_REMOVE, id=CUSTOMER, tags=["early-access"])

    assert added["tagsAdd"] == {"node": {"id": CUSTOMER}, "userErrors": []}
    assert removed["tagsRemove"]["userErrors"] == []
    tags = call(shop.shop, CUSTOMER_QUERY, id=CUSTOMER)["customer"]["tags"]
    assert tags == ["vip-gold", "Loyalty"]


def test_tagging_a_product_changes_its_tags_and_an_unknown_product_is_a_user_error(shop, simulator):
    simulator.install(shop.shop)

    call(shop.shop, TAGS_ADD, id="gid://shopify/Product/6002", tags=["reward"])
    missing = call(shop.shop, TAGS_ADD, id="gid://shopify/Product/1", tags=["reward"])

    product = call(
        shop.shop, '{ node(id: "gid://shopify/Product/6002") { ... on Product { tags } } }'
    )
    assert product["node"]["tags"] == ["gear", "reward"]
    assert missing["tagsAdd"] == {
        "node": None,
        "userErrors": [{"field": ["id"], "message": "Product does not exist"}],
    }


def test_a_tag_longer_than_255_characters_is_a_user_error(shop, simulator):
    simulator.install(shop.shop)

    refused = call(shop.shop, TAGS_ADD, id=CUSTOMER, tags=["x" * 256])

    assert refused["tagsAdd"]["userErrors"] == [
        {"field": ["tags"], "message": "Tags is too long (maximum is 255 characters)"}
    ]


# --- metafields -----------------------------------------------------------------------------

METAFIELDS_SET = """
mutation ($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { key namespace value type ownerType }
    userErrors { field message code elementIndex }
  }
}
"""


def points_metafield(value: str, key: str = "points", kind: str = "number_integer") -> dict:
    return {"ownerId": CUSTOMER, "namespace": "loyalty", "key": key, "type": kind, "value": value}


def test_metafields_are_created_then_replaced(shop, simulator):
    simulator.install(shop.shop)

    first = call(
        shop.shop,
        METAFIELDS_SET,
        metafields=[
            points_metafield("120"),
            points_metafield("Gold", key="tier", kind="single_line_text_field"),
        ],
    )
    call(shop.shop, METAFIELDS_SET, metafields=[points_metafield("80")])

    assert first["metafieldsSet"]["userErrors"] == []
    assert first["metafieldsSet"]["metafields"][0] == {
        "key": "points",
        "namespace": "loyalty",
        "value": "120",
        "type": "number_integer",
        "ownerType": "CUSTOMER",
    }
    metafield = call(shop.shop, CUSTOMER_QUERY, id=CUSTOMER)["customer"]["metafield"]
    assert metafield == {"value": "80", "type": "number_integer"}


def test_a_value_that_does_not_fit_its_type_refuses_the_whole_call(shop, simulator):
    simulator.install(shop.shop)

    refused = call(
        shop.shop,
        METAFIELDS_SET,
        metafields=[points_metafield("120"), points_metafield("12.5", key="balance")],
    )

    assert refused["metafieldsSet"] == {
        "metafields": [],
        "userErrors": [
            {
                "field": ["metafields", "1", "value"],
                "message": "Value is invalid for the type number_integer",
                "code": "INVALID_VALUE",
                "elementIndex": 1,
            }
        ],
    }
    assert call(shop.shop, CUSTOMER_QUERY, id=CUSTOMER)["customer"]["metafield"] is None


def test_more_than_25_metafields_in_one_call_is_refused(shop, simulator):
    simulator.install(shop.shop)
    many = [points_metafield(str(i), key=f"key{i}") for i in range(26)]

    with pytest.raises(AdminApiPermanentError, match="maximum allowed of 25"):
        call(shop.shop, METAFIELDS_SET, metafields=many)


# --- store credit ---------------------------------------------------------------------------

CREDIT = """
mutation ($id: ID!, $creditInput: StoreCreditAccountCreditInput!) {
  storeCreditAccountCredit(id: $id, creditInput: $creditInput) {
    storeCreditAccountTransaction {
      amount { amount currencyCode }
      balanceAfterTransaction { amount currencyCode }
      account { id balance { amount currencyCode } }
    }
    userErrors { field message code }
  }
}
"""
DEBIT = """
mutation ($id: ID!, $debitInput: StoreCreditAccountDebitInput!) {
  storeCreditAccountDebit(id: $id, debitInput: $debitInput) {
    storeCreditAccountTransaction { balanceAfterTransaction { amount currencyCode } }
    userErrors { field message code }
  }
}
"""


def credit(shop: Any, amount: str, currency: str = "USD", **extra: Any) -> dict[str, Any]:
    given = {"creditAmount": {"amount": amount, "currencyCode": currency}, **extra}
    return call(shop, CREDIT, id=CUSTOMER, creditInput=given)["storeCreditAccountCredit"]


def debit(shop: Any, amount: str, currency: str = "USD", target: str = CUSTOMER) -> dict:
    given = {"debitAmount": {"amount": amount, "currencyCode": currency}}
    return call(shop, DEBIT, id=target, debitInput=given)["storeCreditAccountDebit"]


def test_store_credit_is_kept_per_customer_and_currency(shop, simulator):
    simulator.install(shop.shop)

    first = credit(shop.shop, "5.00", expiresAt="2099-01-01T00:00:00Z")
    credit(shop.shop, "2.50")
    credit(shop.shop, "4.00", currency="EUR")
    spent = debit(shop.shop, "1.50")

    assert first["userErrors"] == []
    assert first["storeCreditAccountTransaction"]["amount"] == {
        "amount": "5.00",
        "currencyCode": "USD",
    }
    assert spent["storeCreditAccountTransaction"]["balanceAfterTransaction"] == {
        "amount": "6.00",
        "currencyCode": "USD",
    }
    accounts = call(shop.shop, CUSTOMER_QUERY, id=CUSTOMER)["customer"]["storeCreditAccounts"]
    assert [a["balance"] for a in accounts["nodes"]] == [
        {"amount": "6.00", "currencyCode": "USD"},
        {"amount": "4.00", "currencyCode": "EUR"},
    ]


def test_a_debit_beyond_the_balance_is_refused_and_changes_nothing(shop, simulator):
    simulator.install(shop.shop)
    account = credit(shop.shop, "3.00")["storeCreditAccountTransaction"]["account"]["id"]

    refused = debit(shop.shop, "3.01", target=account)

    assert refused == {
        "storeCreditAccountTransaction": None,
        "userErrors": [
            {
                "field": ["debitInput", "debitAmount", "amount"],
                "message": "The store credit account does not have sufficient funds to "
                "satisfy the request.",
                "code": "INSUFFICIENT_FUNDS",
            }
        ],
    }
    assert debit(shop.shop, "3.00", target=account)["userErrors"] == []


@pytest.mark.parametrize(
    "amount, currency, extra, code",
    [
        ("0", "USD", {}, "NEGATIVE_OR_ZERO_AMOUNT"),
        ("-1.00", "USD", {}, "NEGATIVE_OR_ZERO_AMOUNT"),
        ("1.00", "USD", {"expiresAt": "2001-01-01T00:00:00Z"}, "EXPIRES_AT_IN_PAST"),
    ],
)
def test_a_credit_shopify_refuses_is_a_user_error(shop, simulator, amount, currency, extra, code):
    simulator.install(shop.shop)

    refused = credit(shop.shop, amount, currency, **extra)

    assert refused["storeCreditAccountTransaction"] is None
    assert [e["code"] for e in refused["userErrors"]] == [code]


def test_a_debit_without_an_account_or_in_another_currency_is_refused(shop, simulator):
    simulator.install(shop.shop)
    account = credit(shop.shop, "3.00")["storeCreditAccountTransaction"]["account"]["id"]

    no_account = debit(shop.shop, "1.00", currency="EUR")
    wrong_currency = debit(shop.shop, "1.00", currency="EUR", target=account)

    assert [e["code"] for e in no_account["userErrors"]] == ["ACCOUNT_NOT_FOUND"]
    assert [e["code"] for e in wrong_currency["userErrors"]] == ["MISMATCHING_CURRENCY"]


def test_one_shops_store_credit_account_is_not_found_from_another(shop, other_shop, simulator):
    simulator.install(shop.shop)
    simulator.install(other_shop.shop)
    account = credit(shop.shop, "3.00")["storeCreditAccountTransaction"]["account"]["id"]

    refused = debit(other_shop.shop, "1.00", target=account)

    assert [e["code"] for e in refused["userErrors"]] == ["ACCOUNT_NOT_FOUND"]


# --- discount codes -------------------------------------------------------------------------

BASIC = """
mutation ($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode {
      id
      codeDiscount {
        __typename
        ... on DiscountCodeBasic { title status codes(first: 1) { nodes { code } } }
      }
    }
    userErrors { field message code }
  }
}
"""
FREE_SHIPPING = """
mutation ($freeShippingCodeDiscount: DiscountCodeFreeShippingInput!) {
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $freeShippingCodeDiscount) {
    codeDiscountNode { id codeDiscount { __typename ... on DiscountCodeFreeShipping { title } } }
    userErrors { field message code }
  }
}
"""


def basic_input(code: str = "LOYAL-5OFF", **changes: Any) -> dict[str, Any]:
    return {
        "title": "5.00 off (500 points)",
        "code": code,
        "startsAt": "2024-01-01T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "context": {"customers": {"add": [CUSTOMER]}},
        "customerGets": {
            "value": {"discountAmount": {"amount": "5.00", "appliesOnEachItem": False}},
            "items": {"all": True},
        },
        **changes,
    }


def test_a_basic_code_discount_is_created_and_found_by_its_code(shop, simulator):
    simulator.install(shop.shop)

    created = call(shop.shop, BASIC, basicCodeDiscount=basic_input())["discountCodeBasicCreate"]

    assert created["userErrors"] == []
    node = created["codeDiscountNode"]
    assert node["id"].startswith("gid://shopify/DiscountCodeNode/")
    assert node["codeDiscount"] == {
        "__typename": "DiscountCodeBasic",
        "title": "5.00 off (500 points)",
        "status": "ACTIVE",
        "codes": {"nodes": [{"code": "LOYAL-5OFF"}]},
    }
    found = call(shop.shop, '{ codeDiscountNodeByCode(code: "loyal-5off") { id } }')
    assert found == {"codeDiscountNodeByCode": {"id": node["id"]}}


def test_a_code_taken_whatever_its_case_is_a_user_error(shop, simulator):
    simulator.install(shop.shop)
    call(shop.shop, BASIC, basicCodeDiscount=basic_input("LOYAL-5OFF"))

    again = call(shop.shop, FREE_SHIPPING, freeShippingCodeDiscount=basic_input("loyal-5off"))

    assert again["discountCodeFreeShippingCreate"] == {
        "codeDiscountNode": None,
        "userErrors": [
            {
                "field": ["freeShippingCodeDiscount", "code"],
                "message": "Code must be unique. Please try a different code.",
                "code": "TAKEN",
            }
        ],
    }


def test_a_free_shipping_code_is_created(shop, simulator):
    simulator.install(shop.shop)
    given = basic_input("SHIP-FREE", destination={"all": True})
    del given["customerGets"]

    created = call(shop.shop, FREE_SHIPPING, freeShippingCodeDiscount=given)

    payload = created["discountCodeFreeShippingCreate"]
    assert payload["userErrors"] == []
    assert payload["codeDiscountNode"]["codeDiscount"]["__typename"] == "DiscountCodeFreeShipping"


@pytest.mark.parametrize(
    "changes, field, code",
    [
        ({"title": ""}, "title", "BLANK"),
        ({"endsAt": "2023-01-01T00:00:00Z"}, "endsAt", "INVALID"),
        (
            {"customerGets": {"value": {"percentage": 1.5}, "items": {"all": True}}},
            "customerGets",
            "VALUE_OUTSIDE_RANGE",
        ),  # fmt: skip
        ({"context": None}, "context", "BLANK"),
    ],
)
def test_an_invalid_discount_is_a_user_error(shop, simulator, changes, field, code):
    simulator.install(shop.shop)

    refused = call(shop.shop, BASIC, basicCodeDiscount=basic_input(**changes))

    errors = refused["discountCodeBasicCreate"]["userErrors"]
    assert [(e["field"][1], e["code"]) for e in errors] == [(field, code)]


# --- app usage records ----------------------------------------------------------------------

USAGE = """
mutation ($line: ID!, $price: MoneyInput!, $description: String!, $key: String) {
  appUsageRecordCreate(
    subscriptionLineItemId: $line, price: $price, description: $description, idempotencyKey: $key
  ) {
    appUsageRecord { id price { amount currencyCode } idempotencyKey }
    userErrors { field message }
  }
}
"""
LINE_ITEM = "gid://shopify/AppSubscriptionLineItem/4019585080?v=1&index=1"


def charge(shop: Any, amount: str, key: str | None = None) -> dict[str, Any]:
    return call(
        shop,
        USAGE,
        line=LINE_ITEM,
        price={"amount": amount, "currencyCode": "USD"},
        description="Redemptions of 2024-05",
        key=key,
    )["appUsageRecordCreate"]


def test_a_usage_record_sent_twice_with_one_key_charges_once(shop, simulator):
    simulator.install(shop.shop)

    first = charge(shop.shop, "1.25", key="usage-2024-05")
    second = charge(shop.shop, "1.25", key="usage-2024-05")

    assert first["userErrors"] == []
    assert first["appUsageRecord"]["price"] == {"amount": "1.25", "currencyCode": "USD"}
    assert second["appUsageRecord"]["id"] == first["appUsageRecord"]["id"]
    assert DevStoreAppUsageRecord.objects.count() == 1


def test_a_usage_charge_beyond_the_capped_amount_is_a_user_error(shop, simulator):
    simulator.install(shop.shop)
    DevStore.objects.filter(domain=shop.shop.domain).update(usage_capped_amount=Decimal("10"))
    charge(shop.shop, "9.00", key="a")

    refused = charge(shop.shop, "1.01", key="b")

    assert refused == {
        "appUsageRecord": None,
        "userErrors": [{"field": None, "message": "Total price exceeds balance remaining"}],
    }


def test_mutations_cost_ten_points_against_the_bucket(shop, simulator):
    simulator.install(shop.shop)

    result = admin_graphql(
        shop=shop.shop, query=TAGS_ADD, variables={"id": CUSTOMER, "tags": ["vip"]}
    )

    # 10 for the mutation, 1 for each object selected: the payload, node, userErrors
    assert result.cost["requestedQueryCost"] == 13
    assert result.cost["actualQueryCost"] >= 1
