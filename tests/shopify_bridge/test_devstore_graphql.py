"""The simulator's GraphQL reader, executor and cost: pure, no database."""

from __future__ import annotations

import pytest

from shopify_bridge.devstore.graphql import (
    GraphQLError,
    connection,
    execute,
    parse,
    requested_cost,
)
from shopify_bridge.product_facts import IDS_PER_CALL, PRODUCT_FACTS_QUERY

PRODUCTS = {
    "gid://shopify/Product/1": {
        "__typename": "Product",
        "__interfaces": ("Node",),
        "id": "gid://shopify/Product/1",
        "productType": "Coffee",
        "tags": ["beans"],
        "collections": lambda args: connection([{"__typename": "Collection", "id": "c1"}], args),
    },
}
ROOT = {
    "__typename": "QueryRoot",
    "nodes": lambda args: [PRODUCTS.get(i) for i in args["ids"]],
    "shop": {"__typename": "Shop", "name": "alpha"},
}


def run(query: str, variables: dict | None = None, operation_name: str | None = None) -> dict:
    return execute(parse(query), root=ROOT, variables=variables, operation_name=operation_name)


def test_a_query_with_variables_fragments_and_aliases_is_answered():
    query = """
    # the app's shape
    query Facts($ids: [ID!]!, $n: Int = 5) {
      items: nodes(ids: $ids) {
        __typename
        ... on Product { id kind: productType ...Tagged collections(first: $n) { nodes { id } } }
      }
      shop { name }
    }
    fragment Tagged on Product { tags }
    """

    data = run(query, {"ids": ["gid://shopify/Product/1", "gid://shopify/Product/2"]})

    assert data == {
        "items": [
            {
                "__typename": "Product",
                "id": "gid://shopify/Product/1",
                "kind": "Coffee",
                "tags": ["beans"],
                "collections": {"nodes": [{"id": "c1"}]},
            },
            None,
        ],
        "shop": {"name": "alpha"},
    }


@pytest.mark.parametrize(
    "query, code",
    [
        ("{ shop { name ", "parseError"),
        ("{ shop { nope } }", "undefinedField"),
        ("subscription { shop { name } }", "parseError"),
        ("{ shop @include(if: true) { name } }", "parseError"),
        ("{ shop { ...Missing } }", "useAndDefineFragment"),
        ("query A { shop { name } } query B { shop { name } }", "operationNameRequired"),
        ("", "parseError"),
    ],
)
def test_what_the_simulator_cannot_serve_is_a_graphql_error(query, code):
    with pytest.raises(GraphQLError) as caught:
        run(query)
    assert caught.value.code == code


def test_a_named_operation_is_chosen_by_name():
    query = "query A { shop { name } } query B { s: shop { name } }"
    assert run(query, operation_name="B") == {"s": {"name": "alpha"}}


@pytest.mark.parametrize(
    "query, variables, cost",
    [
        ("{ shop { name } }", {}, 1),
        ("query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["a"] * 10}, 10),
        (
            "{ shop { c: collections(first: 10) { nodes { id } pageInfo { hasNextPage } } } }",
            {},
            1 + 2 + 10 + 1,
        ),
        ("mutation { shop { name } }", {}, 11),
    ],
)
def test_requested_cost_follows_shopifys_rules(query, variables, cost):
    assert requested_cost(parse(query), variables=variables) == cost


def test_the_apps_product_facts_query_fits_the_single_query_limit_at_its_batch_size():
    ids = [f"gid://shopify/Product/{i}" for i in range(IDS_PER_CALL)]

    cost = requested_cost(parse(PRODUCT_FACTS_QUERY), variables={"ids": ids})

    assert cost <= 1000
    assert requested_cost(parse(PRODUCT_FACTS_QUERY), variables={"ids": [*ids, "x"]}) > 1000 - 29


def test_a_connection_pages_with_cursors():
    items = list(range(5))

    first = connection(items, {"first": 2})
    second = connection(items, {"first": 2, "after": first["pageInfo"]["endCursor"]})
    last = connection(items, {"first": 2, "after": second["pageInfo"]["endCursor"]})

    assert (first["nodes"], first["pageInfo"]["hasNextPage"]) == ([0, 1], True)
    assert (second["nodes"], second["pageInfo"]["hasNextPage"]) == ([2, 3], True)
    assert (last["nodes"], last["pageInfo"]["hasNextPage"]) == ([4], False)
    with pytest.raises(GraphQLError):
        connection(items, {})
