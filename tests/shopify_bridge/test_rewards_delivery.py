"""Redeeming every kind of reward through the merchant API, with the dev-store simulator
over real HTTP: the points are debited, the code or credit exists in the shop and the
redemption is issued (eager Celery performs the outbox call on commit); when the shop
fails, the call is retried, and when it is given up the points come back with the reason.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from loyalty_app.common.time import now
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.rewards import redemption as redemption_module
from loyalty_app.rewards.models import Redemption
from loyalty_app.shops.models import Shop
from shopify_bridge.admin_api import admin_graphql
from shopify_bridge.devstore.models import (
    DevStore,
    DevStoreDiscountCode,
    DevStoreMutation,
    DevStoreStoreCreditAccount,
    DevStoreTags,
)
from shopify_bridge.models import AdminApiCall
from shopify_bridge.outbox import admin_call_perform, admin_call_retry
from shopify_bridge.rewards_delivery import delivery_result
from tests.rewards.seeds import balance, member_with, reward

pytestmark = pytest.mark.django_db(transaction=True)

CODE_BY_CODE = """
query Code($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount { ... on DiscountCodeBasic { title usageLimit appliesOncePerCustomer } }
  }
}
"""


def redeem(api: Client, customer_id: str, body: dict[str, Any], key: str | None = "key-1"):
    return api.post(
        f"/api/v1/customers/{customer_id}/redemptions",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Idempotency-Key": key} if key else {},
    )


@pytest.fixture(autouse=True)
def _installed(shop: Any, simulator: Any) -> None:
    """Every test's shop has installed the app in the dev-store simulator."""
    simulator.install(shop.shop)


FIVE_OFF = {"kind": "fixed_amount", "title": "5 off", "points_cost": 500, "value": "5"}


def mutations(shop: Shop, name: str) -> list[DevStoreMutation]:
    return list(DevStoreMutation.objects.filter(store__domain=shop.domain, name=name))


def sent(shop: Shop, name: str) -> dict[str, Any]:
    """The arguments of the one mutation ``name`` the shop ran, without userErrors."""
    rows = mutations(shop, name)
    assert len(rows) == 1, rows
    assert rows[0].user_errors == []
    return rows[0].arguments


def call_for(redemption_id: int) -> AdminApiCall:
    return AdminApiCall.objects.get(idempotency_key=f"redemption:{redemption_id}")


def due_now(call: AdminApiCall) -> None:
    AdminApiCall.objects.filter(pk=call.pk).update(next_attempt_at=now())


# --- every kind ---------------------------------------------------------------------------


def test_an_amount_off_becomes_a_single_use_code_for_that_customer_only(shop, api, simulator):
    # given a member with 800 points and a reward of 5.00 off for 500 points
    member = member_with(shop.shop, 800)
    five_off = reward(
        shop.shop,
        kind="fixed_amount",
        title="5.00 off",
        points_cost=500,
        value="5.00",
        min_order_amount="20",
        code_valid_days=10,
    )

    # when the merchant redeems it for the customer
    response = redeem(api, "501", {"reward_id": five_off.pk})

    # then the points are debited, the code exists in the shop and the redemption is issued
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "issued"
    assert (body["points"], body["value"], body["currency"]) == (500, "5", "USD")
    assert body["code"].startswith("LOYAL-") and len(body["code"]) == len("LOYAL-7KQ2-XM4P")
    assert balance(member) == 300
    found = admin_graphql(shop=shop.shop, query=CODE_BY_CODE, variables={"code": body["code"]})
    node = found.data["codeDiscountNodeByCode"]
    assert node["codeDiscount"]["usageLimit"] == 1
    assert node["codeDiscount"]["appliesOncePerCustomer"] is True
    code = sent(shop.shop, "discountCodeBasicCreate")["basicCodeDiscount"]
    assert code["code"] == body["code"]
    assert code["context"] == {"customers": {"add": ["gid://shopify/Customer/501"]}}
    assert code["customerGets"] == {
        "value": {"discountAmount": {"amount": "5", "appliesOnEachItem": False}},
        "items": {"all": True},
    }
    assert code["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": "20"}}
    stored = Redemption.objects.get()
    assert code["endsAt"] == stored.expires_at.isoformat()
    assert abs(stored.expires_at - stored.created_at - timedelta(days=10)) < timedelta(seconds=1)
    assert stored.issued_at is not None
    # and the ledger says what the points bought
    debit = LedgerEntry.objects.get(member=member, kind=LedgerEntry.Kind.REDEMPTION)
    assert (debit.points, debit.idempotency_key) == (-500, f"redemption:{stored.pk}")
    assert debit.reason == "Redeemed: 5.00 off"


def test_a_percentage_off_on_collections_sends_a_fraction_and_the_collections(shop, api, simulator):
    member_with(shop.shop, 1000)
    percent = reward(
        shop.shop,
        kind="percentage",
        title="15% off coffee",
        points_cost=700,
        value="15",
        collection_ids=[450001, "gid://shopify/Collection/450002"],
    )

    response = redeem(api, "501", {"reward_id": percent.pk})

    assert response.status_code == 201, response.content
    assert response.json()["value"] == "15"
    assert response.json()["status"] == "issued"
    gets = sent(shop.shop, "discountCodeBasicCreate")["basicCodeDiscount"]["customerGets"]
    assert gets == {
        "value": {"percentage": 0.15},
        "items": {
            "collections": {
                "add": ["gid://shopify/Collection/450001", "gid://shopify/Collection/450002"]
            }
        },
    }


def test_free_shipping_becomes_a_free_shipping_code_capped_by_its_value(shop, api, simulator):
    member_with(shop.shop, 400)
    shipping = reward(
        shop.shop, kind="free_shipping", title="Free shipping", points_cost=300, value="12.50"
    )

    response = redeem(api, "501", {"reward_id": shipping.pk})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["value"]) == ("issued", None)
    code = sent(shop.shop, "discountCodeFreeShippingCreate")["freeShippingCodeDiscount"]
    assert code["code"] == body["code"]
    assert code["destination"] == {"all": True}
    assert code["maximumShippingPrice"] == "12.5"
    assert DevStoreDiscountCode.objects.get().kind == DevStoreDiscountCode.Kind.FREE_SHIPPING


def test_a_free_product_is_a_full_discount_on_its_variant(shop, api, simulator):
    member_with(shop.shop, 900)
    mug = reward(
        shop.shop, kind="free_product", title="A free mug", points_cost=900, variant_id="7003"
    )

    response = redeem(api, "501", {"reward_id": mug.pk})

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "issued"
    code = sent(shop.shop, "discountCodeBasicCreate")["basicCodeDiscount"]
    assert code["customerGets"] == {
        "value": {"percentage": 1.0},
        "items": {"products": {"productVariantsToAdd": ["gid://shopify/ProductVariant/7003"]}},
    }
    assert code["usageLimit"] == 1


def test_store_credit_is_credited_to_the_customer_in_the_shops_currency(shop, api, simulator):
    member = member_with(shop.shop, 1200)
    credit = reward(
        shop.shop, kind="store_credit", title="10.00 credit", points_cost=1000, value="10"
    )

    response = redeem(api, "501", {"reward_id": credit.pk})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["code"], body["value"]) == ("issued", "", "10")
    assert balance(member) == 200
    account = DevStoreStoreCreditAccount.objects.get(store__domain=shop.shop.domain)
    assert (account.customer_id, account.currency, account.balance) == (501, "USD", Decimal(10))


def test_variable_credit_spends_the_chosen_points_in_steps(shop, api, simulator):
    # given 100 points = 1.00, from 200 to 1000 points
    member = member_with(shop.shop, 1000)
    variable = reward(
        shop.shop,
        kind="variable_credit",
        title="Points for credit",
        points_per_step=100,
        value_per_step="1.00",
        min_points=200,
        max_points=1000,
    )

    # when the customer spends 300 points, then 250 (not a whole step)
    spent = redeem(api, "501", {"reward_id": variable.pk, "points": 300})
    refused = redeem(api, "501", {"reward_id": variable.pk, "points": 250}, key="key-2")

    # then 3.00 is credited; the odd amount is bad input, naming the field
    assert spent.status_code == 201, spent.content
    assert (spent.json()["points"], spent.json()["value"]) == (300, "3")
    assert balance(member) == 700
    credit = sent(shop.shop, "storeCreditAccountCredit")
    assert credit["creditInput"] == {"creditAmount": {"amount": "3", "currencyCode": "USD"}}
    assert refused.status_code == 400
    assert refused.json()["code"] == "points_invalid"
    assert "points" in refused.json()["fields"]


def test_a_donation_is_recorded_at_once_without_asking_the_shop(shop, api, simulator):
    member = member_with(shop.shop, 600)
    trees = reward(
        shop.shop, kind="donation", title="Plant a tree", points_cost=500, value="5", cause="Trees"
    )

    response = redeem(api, "501", {"reward_id": trees.pk})

    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["value"]) == ("issued", "5")
    assert balance(member) == 100
    assert not DevStoreMutation.objects.exists()
    assert not AdminApiCall.objects.exists()


def test_an_experience_is_issued_at_once_and_tags_the_customer(shop, api, simulator):
    member_with(shop.shop, 3000)
    tasting = reward(
        shop.shop,
        kind="experience",
        title="Private tasting",
        points_cost=2500,
        customer_tag="vip-tasting",
        fulfilment_note="Call to book",
    )

    response = redeem(api, "501", {"reward_id": tasting.pk})

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "issued"
    assert sent(shop.shop, "tagsAdd") == {
        "id": "gid://shopify/Customer/501",
        "tags": ["vip-tasting"],
    }
    assert DevStoreTags.objects.get(owner_id="gid://shopify/Customer/501").tags == ["vip-tasting"]


def test_a_customer_known_only_by_email_cannot_get_a_code(shop, api, simulator):
    # given a member who joined with an email only (no Shopify customer id)
    guest = member_with(shop.shop, 900, customer_id=None)
    five_off = reward(shop.shop, **FIVE_OFF)

    # when a code is redeemed for them through the service (the API finds customers by id)
    with pytest.raises(redemption_module.RedemptionRefused) as refused:
        redemption_module.reward_redeem(
            shop=shop.shop, member=guest, reward_id=five_off.pk, idempotency_key="k", actor="t"
        )

    # then it is refused, and nothing is spent or sent
    assert refused.value.code == "customer_unknown"
    assert balance(guest) == 900
    assert not Redemption.objects.exists()
    assert not AdminApiCall.objects.exists()


# --- retries and replays ------------------------------------------------------------------


def test_a_retried_request_returns_the_first_redemption_and_spends_nothing_more(
    shop, api, simulator
):
    member = member_with(shop.shop, 1500)
    five_off = reward(shop.shop, **FIVE_OFF)
    first = redeem(api, "501", {"reward_id": five_off.pk}, key="order-page-42")

    again = redeem(api, "501", {"reward_id": five_off.pk}, key="order-page-42")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert balance(member) == 1000
    assert len(mutations(shop.shop, "discountCodeBasicCreate")) == 1


def test_the_same_key_for_another_reward_is_a_conflict(shop, api, simulator):
    member = member_with(shop.shop, 1500)
    five_off = reward(shop.shop, **FIVE_OFF)
    trees = reward(shop.shop, kind="donation", title="Tree", points_cost=100, value="1", cause="T")
    redeem(api, "501", {"reward_id": five_off.pk}, key="k-7")

    response = redeem(api, "501", {"reward_id": trees.pk}, key="k-7")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert balance(member) == 1000


def test_without_a_key_each_request_is_a_new_redemption(shop, api, simulator):
    member = member_with(shop.shop, 1500)
    trees = reward(shop.shop, kind="donation", title="Tree", points_cost=100, value="1", cause="T")

    first = redeem(api, "501", {"reward_id": trees.pk}, key=None)
    second = redeem(api, "501", {"reward_id": trees.pk}, key=None)

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["idempotency_key"].startswith("auto:")
    assert first.json()["id"] != second.json()["id"]
    assert balance(member) == 1300


def test_a_503_is_retried_and_the_code_is_created_once(shop, api, simulator):
    # given a shop whose Admin API answers 503 once
    member = member_with(shop.shop, 600)
    five_off = reward(shop.shop, **FIVE_OFF)
    simulator.fail(shop.shop, "http_503", count=1)

    # when the customer redeems: the first try fails, the points stay debited
    response = redeem(api, "501", {"reward_id": five_off.pk})
    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    redemption_id = response.json()["id"]
    assert balance(member) == 100
    call = call_for(redemption_id)
    assert call.status == AdminApiCall.Status.PENDING and "503" in call.last_error

    # and the retry is due (a worker's countdown; in eager mode, the sweep)
    due_now(call)
    assert admin_call_perform(call_id=call.pk) == "done"

    # then the code exists once and the redemption is issued, nothing returned
    assert api.get(f"/api/v1/redemptions/{redemption_id}").json()["status"] == "issued"
    assert len(mutations(shop.shop, "discountCodeBasicCreate")) == 1
    assert DevStoreDiscountCode.objects.count() == 1
    assert balance(member) == 100


def test_an_answer_that_is_not_json_is_retried_and_the_code_is_created_once(shop, api, simulator):
    # given a shop whose Admin API answers an HTML page (200) once
    member = member_with(shop.shop, 600)
    five_off = reward(shop.shop, **FIVE_OFF)
    simulator.fail(shop.shop, "invalid", count=1)

    # when the customer redeems, the answer can't be read: the call waits for a retry
    redemption_id = redeem(api, "501", {"reward_id": five_off.pk}).json()["id"]
    call = call_for(redemption_id)
    assert call.status == AdminApiCall.Status.PENDING and "not JSON" in call.last_error

    # then the retry creates the code once, and the points stay spent
    due_now(call)
    assert admin_call_perform(call_id=call.pk) == "done"
    assert api.get(f"/api/v1/redemptions/{redemption_id}").json()["status"] == "issued"
    assert DevStoreDiscountCode.objects.count() == 1
    assert balance(member) == 100


def test_a_throttled_call_waits_for_the_bucket_and_then_issues_the_code(shop, api, simulator):
    member_with(shop.shop, 600)
    five_off = reward(shop.shop, **FIVE_OFF)
    simulator.fail(shop.shop, "throttled", count=1)

    response = redeem(api, "501", {"reward_id": five_off.pk})

    redemption_id = response.json()["id"]
    call = call_for(redemption_id)
    assert response.json()["status"] == "pending"
    assert call.attempts == 0  # a throttled answer is not an attempt
    due_now(call)
    assert admin_call_perform(call_id=call.pk) == "done"
    assert Redemption.objects.get(pk=redemption_id).status == Redemption.Status.ISSUED
    assert DevStoreDiscountCode.objects.count() == 1


def test_a_timeout_after_the_shop_acted_still_ends_with_one_code(shop, api, simulator, settings):
    # given a shop that answers after 2.5 s while the app waits 1 s: the code is created
    # but the answer is lost
    settings.SHOPIFY_ADMIN_API_TIMEOUT_SECONDS = 1
    member = member_with(shop.shop, 600)
    five_off = reward(shop.shop, **FIVE_OFF)
    simulator.fail(shop.shop, "slow", count=1, slow_ms=2500)

    response = redeem(api, "501", {"reward_id": five_off.pk})
    redemption_id = response.json()["id"]
    call = call_for(redemption_id)
    assert call.status == AdminApiCall.Status.PENDING
    assert "timed out" in call.last_error or "timeout" in call.last_error.lower()

    # when the retry meets the code its lost answer created (TAKEN on a retry)
    time.sleep(2)  # the slow answer has finished its work in the shop by now
    due_now(call)
    assert admin_call_perform(call_id=call.pk) == "done"

    # then it counts as delivered: one code, issued, the points spent once
    assert Redemption.objects.get(pk=redemption_id).status == Redemption.Status.ISSUED
    assert DevStoreDiscountCode.objects.count() == 1
    assert balance(member) == 100


def test_a_code_the_shop_refuses_fails_and_gives_the_points_back_with_the_reason(
    shop, api, simulator, monkeypatch
):
    # given a code the merchant already created by hand in the shop, and a reward of 3 in stock
    member = member_with(shop.shop, 600)
    five_off = reward(
        shop.shop, kind="fixed_amount", title="5 off", points_cost=500, value="5", stock_total=3
    )
    DevStoreDiscountCode.objects.create(
        store=DevStore.objects.get(domain=shop.shop.domain),
        kind=DevStoreDiscountCode.Kind.BASIC,
        code="loyal-take-n123",
        title="The merchant's own",
    )
    monkeypatch.setattr(redemption_module, "redemption_code_new", lambda: "LOYAL-TAKE-N123")

    # when the customer redeems and the shop answers TAKEN at the first try
    response = redeem(api, "501", {"reward_id": five_off.pk})

    # then the redemption failed, the points are back with the shop's words, stock returned
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "failed"
    assert body["points_returned"] == 500
    assert balance(member) == 600
    returned = LedgerEntry.objects.get(member=member, kind=LedgerEntry.Kind.REDEMPTION_RETURN)
    assert returned.points == 500
    assert returned.reason == (
        "Reward not delivered: the shop refused the discount "
        "(Code must be unique. Please try a different code.)"
    )
    assert body["delivery_error"] == returned.reason
    five_off.refresh_from_db()
    assert five_off.stock_remaining == 3
    # and the customer's ledger, as the API shows it, tells them why
    ledger = api.get("/api/v1/customers/501/ledger").json()["results"]
    assert [(e["kind"], e["points"]) for e in ledger[:2]] == [
        ("redemption_return", 500),
        ("redemption", -500),
    ]
    assert ledger[0]["reason"].startswith("Reward not delivered: the shop refused the discount")


def test_a_shop_that_never_answers_gives_the_points_back_after_the_last_attempt(
    shop, api, simulator, settings
):
    settings.ADMIN_CALL_MAX_ATTEMPTS = 2
    member = member_with(shop.shop, 600)
    credit = reward(shop.shop, kind="store_credit", title="Credit", points_cost=500, value="5")
    simulator.fail(shop.shop, "http_500")

    response = redeem(api, "501", {"reward_id": credit.pk})
    call = call_for(response.json()["id"])
    due_now(call)
    assert admin_call_perform(call_id=call.pk) == "failed"

    redemption = Redemption.objects.get(pk=response.json()["id"])
    assert redemption.status == Redemption.Status.FAILED
    assert (
        redemption.delivery_error == "Reward not delivered: the shop did not answer after 2 tries"
    )
    assert balance(member) == 600
    assert not DevStoreStoreCreditAccount.objects.exists()


def test_the_result_hook_run_twice_returns_the_points_once(shop, api, simulator):
    member = member_with(shop.shop, 600)
    five_off = reward(shop.shop, **FIVE_OFF)
    simulator.fail(shop.shop, "http_503", count=1)
    redemption_id = redeem(api, "501", {"reward_id": five_off.pk}).json()["id"]
    outcome = {
        "shop": shop.shop,
        "kind": "discount_code_create",
        "key": f"redemption:{redemption_id}",
        "ok": False,
        "data": None,
        "reason": "gave up after 8 attempts: AdminApiTransientError: HTTP 503",
    }

    delivery_result(**outcome)
    delivery_result(**outcome)

    assert balance(member) == 600
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEMPTION_RETURN).count() == 1


def test_a_failed_delivery_retried_by_the_merchant_takes_the_points_again(
    shop, api, simulator, settings
):
    # given a code given up while the shop answered 500 (points returned)
    settings.ADMIN_CALL_MAX_ATTEMPTS = 1
    member = member_with(shop.shop, 600)
    five_off = reward(shop.shop, **FIVE_OFF)
    simulator.fail(shop.shop, "http_500")
    redemption_id = redeem(api, "501", {"reward_id": five_off.pk}).json()["id"]
    assert balance(member) == 600

    # when the shop is healthy again and the merchant presses retry
    simulator.heal(shop.shop)
    admin_call_retry(shop=shop.shop, call_id=call_for(redemption_id).pk, actor="merchant:owner")

    # then the code exists, the redemption is issued and its points are spent again
    redemption = Redemption.objects.get(pk=redemption_id)
    assert redemption.status == Redemption.Status.ISSUED
    assert redemption.points_returned == 0
    assert DevStoreDiscountCode.objects.count() == 1
    assert balance(member) == 100


# --- tenancy ------------------------------------------------------------------------------


def test_another_shop_can_neither_redeem_for_nor_read_a_customers_redemptions(
    shop, other_shop, api, simulator
):
    member = member_with(shop.shop, 900)
    five_off = reward(shop.shop, **FIVE_OFF)
    mine = redeem(api, "501", {"reward_id": five_off.pk}).json()
    theirs = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})
    member_with(other_shop.shop, 900)  # their own customer 501

    assert redeem(theirs, "501", {"reward_id": five_off.pk}).status_code == 404
    assert theirs.get(f"/api/v1/redemptions/{mine['id']}").status_code == 404
    assert theirs.get("/api/v1/customers/501/redemptions").json()["results"] == []
    assert redeem(api, "777", {"reward_id": five_off.pk}).status_code == 404
    assert balance(member) == 400


def test_a_customers_redemptions_are_listed_newest_first(shop, api, simulator):
    member_with(shop.shop, 900)
    trees = reward(shop.shop, kind="donation", title="Tree", points_cost=100, value="1", cause="T")
    ids = [redeem(api, "501", {"reward_id": trees.pk}, key=f"k{i}").json()["id"] for i in range(3)]

    listed = api.get("/api/v1/customers/501/redemptions").json()["results"]

    assert [r["id"] for r in listed] == ids[::-1]
    assert api.get(f"/api/v1/redemptions/{ids[0]}").json()["title"] == "Tree"
