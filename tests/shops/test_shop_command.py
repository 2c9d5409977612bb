"""`manage.py shop create --domain D` prints one JSON object with the shop and an API token."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.members.services import member_upsert
from loyalty_app.shops.models import ApiToken, Shop


def shop_command(*args: str) -> str:
    out = io.StringIO()
    call_command("shop", *args, stdout=out)
    return out.getvalue()


def create(domain: str, *extra: str) -> dict[str, Any]:
    output = shop_command("create", "--domain", domain, *extra)
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return json.loads(lines[0])


def customer_status(token: str, shop_domain: str) -> int:
    shop = Shop.objects.get(domain=shop_domain)
    member_upsert(shop=shop, customer=CustomerRef(external_id="42"))
    client = Client(headers={"Authorization": f"Bearer {token}"})
    return client.get("/api/v1/customers/42").status_code


@pytest.mark.django_db
def test_create_prints_one_json_object_with_the_shop_and_an_api_token():
    result = create("gamma-store.myshopify.com")

    assert result["shop"] == "gamma-store.myshopify.com"
    assert result["api_token"].startswith("lyl_")
    assert len(result["api_token"]) > 40
    assert result["created"] is True
    assert result["currency"] == "USD"
    shop = Shop.objects.get(domain="gamma-store.myshopify.com")
    assert result["shop_id"] == shop.pk
    assert (shop.name, shop.state) == ("gamma-store", "installed")


@pytest.mark.django_db
def test_the_printed_token_works_on_the_api():
    result = create("gamma-store.myshopify.com")

    assert customer_status(result["api_token"], result["shop"]) == 200


@pytest.mark.django_db
def test_the_token_is_stored_only_as_a_digest():
    result = create("gamma-store.myshopify.com")

    stored = ApiToken.objects.get()
    assert stored.digest != result["api_token"]
    assert result["api_token"] not in stored.digest
    assert len(stored.digest) == 64


@pytest.mark.django_db
def test_creating_a_shop_twice_gives_one_shop_and_two_valid_tokens():
    first = create("gamma-store.myshopify.com")

    second = create("gamma-store.myshopify.com")

    assert Shop.objects.count() == 1
    assert first["shop_id"] == second["shop_id"]
    assert (first["created"], second["created"]) == (True, False)
    assert first["api_token"] != second["api_token"]
    assert customer_status(first["api_token"], first["shop"]) == 200
    assert customer_status(second["api_token"], second["shop"]) == 200


@pytest.mark.django_db
def test_the_domain_is_normalised():
    result = create("  HTTPS://Gamma-Store.MyShopify.com/  ")

    assert result["shop"] == "gamma-store.myshopify.com"
    assert create("gamma-store.myshopify.com")["created"] is False


@pytest.mark.django_db
def test_name_and_currency_are_taken():
    result = create("gamma-store.myshopify.com", "--name", "Gamma", "--currency", "eur")

    assert result["currency"] == "EUR"
    assert Shop.objects.get().name == "Gamma"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "domain",
    ["not a domain", "", "localhost", "-bad.myshopify.com", "a..b.com", "shop.myshopify.com/admin"],
)
def test_an_invalid_domain_is_a_command_error(domain):
    with pytest.raises(CommandError, match="invalid shop: .*domain.*is not a valid shop host name"):
        shop_command("create", f"--domain={domain}")

    assert Shop.objects.count() == 0
    assert ApiToken.objects.count() == 0


@pytest.mark.django_db
def test_an_invalid_currency_is_a_command_error():
    with pytest.raises(CommandError, match="currency"):
        shop_command("create", "--domain", "gamma-store.myshopify.com", "--currency", "dollars")

    assert Shop.objects.count() == 0


@pytest.mark.django_db
def test_list_prints_one_json_line_per_shop():
    create("gamma-store.myshopify.com")
    create("delta-store.myshopify.com")

    lines = [json.loads(x) for x in shop_command("list").strip().splitlines()]

    assert [(x["shop"], x["state"]) for x in lines] == [
        ("gamma-store.myshopify.com", "installed"),
        ("delta-store.myshopify.com", "installed"),
    ]
