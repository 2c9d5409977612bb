"""After a redemption: codes that expire unused, experience requests fulfilled or declined,
donations reported, rewards granted without points. The platform port is this module
(deliveries and usage charges are recorded here); the Shopify paths are tested in
tests/rewards/test_lifecycle_webhooks.py and tests/shopify_bridge/test_billing.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.rewards.lifecycle import (
    RequestNotOpen,
    redemption_decline,
    redemption_fulfil,
    redemptions_expire_due,
    redemptions_mark_used,
    reward_grant,
)
from loyalty_app.rewards.models import Redemption, Reward, UsageCharge
from loyalty_app.rewards.redemption import reward_redeem
from loyalty_app.shops.models import Shop
from tests.rewards.seeds import balance, member_with, reward

pytestmark = pytest.mark.django_db

DELIVERED: list[int] = []
CHARGES_SENT: list[int] = []


def redemption_deliver(*, shop: Any, redemption: Redemption) -> None:
    """The platform port's delivery: a code kind stays pending until delivered."""
    DELIVERED.append(redemption.pk)


def usage_charge_send(*, shop: Any, charge_id: int, **_: Any) -> bool:
    """The platform port's billing: not set up (the development mode)."""
    return False


@pytest.fixture(autouse=True)
def _this_module_is_the_platform(settings: Any) -> None:
    settings.LOYALTY_PLATFORM_PORT = __name__
    DELIVERED.clear()


def issued_code(shop: Shop, member: Member, five_off: Reward, key: str = "k-1") -> Redemption:
    redemption, _ = reward_redeem(
        shop=shop, member=member, reward_id=five_off.pk, idempotency_key=key, actor="test"
    )
    Redemption.objects.filter(pk=redemption.pk).update(
        status=Redemption.Status.ISSUED, issued_at=redemption.created_at
    )
    redemption.refresh_from_db()
    return redemption


def five_off(shop: Shop, **extra: Any) -> Reward:
    return reward(
        shop,
        kind="fixed_amount",
        title="5 off",
        points_cost=500,
        value="5",
        code_valid_days=10,
        **extra,
    )


# --- expiry -------------------------------------------------------------------------------


def test_an_unused_code_expires_and_its_points_come_back_when_the_reward_says_so(shop, clock):
    # given a code of a reward that returns unused points, valid for 10 days
    member = member_with(shop.shop, 800)
    code = issued_code(shop.shop, member, five_off(shop.shop, return_points_if_unused=True))
    assert balance(member) == 300

    # when the job runs 10 days and 2 hours later
    clock.advance(days=10, hours=2)
    expired = redemptions_expire_due()

    # then the code is expired and the points are back, saying why
    assert expired == 1
    code.refresh_from_db()
    assert (code.status, code.points_returned) == (Redemption.Status.EXPIRED, 500)
    assert balance(member) == 800
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REDEMPTION_RETURN)
    assert entry.reason == f"Code {code.code} expired unused"
    assert entry.idempotency_key == f"redemption:{code.pk}:expired"


def test_a_second_run_of_the_expiry_job_returns_nothing_more(shop, clock):
    member = member_with(shop.shop, 800)
    issued_code(shop.shop, member, five_off(shop.shop, return_points_if_unused=True))
    clock.advance(days=11)

    first, second = redemptions_expire_due(), redemptions_expire_due()

    assert (first, second) == (1, 0)
    assert balance(member) == 800
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEMPTION_RETURN).count() == 1


def test_an_expired_code_keeps_its_points_spent_when_the_reward_does_not_return_them(shop, clock):
    member = member_with(shop.shop, 800)
    code = issued_code(shop.shop, member, five_off(shop.shop))
    clock.advance(days=11)

    redemptions_expire_due()

    code.refresh_from_db()
    assert code.status == Redemption.Status.EXPIRED
    assert balance(member) == 300


def test_a_code_is_not_expired_within_the_hour_after_its_end(shop, clock):
    # an order placed a moment before the end may still be on its way
    member = member_with(shop.shop, 800)
    code = issued_code(shop.shop, member, five_off(shop.shop, return_points_if_unused=True))
    clock.advance(days=10, minutes=30)

    assert redemptions_expire_due() == 0
    code.refresh_from_db()
    assert code.status == Redemption.Status.ISSUED


def test_used_and_pending_codes_never_expire(shop, clock):
    member = member_with(shop.shop, 2000)
    reward_ = five_off(shop.shop, return_points_if_unused=True)
    used = issued_code(shop.shop, member, reward_, key="used")
    redemptions_mark_used(shop=shop.shop, order_id="9001", codes=[used.code])
    pending, _ = reward_redeem(
        shop=shop.shop, member=member, reward_id=reward_.pk, idempotency_key="p", actor="t"
    )
    clock.advance(days=30)

    assert redemptions_expire_due() == 0
    assert balance(member) == 1000
    pending.refresh_from_db()
    assert pending.status == Redemption.Status.PENDING


def test_an_uninstalled_shops_codes_wait(shop, clock):
    member = member_with(shop.shop, 800)
    code = issued_code(shop.shop, member, five_off(shop.shop, return_points_if_unused=True))
    Shop.objects.filter(pk=shop.shop.pk).update(state=Shop.State.UNINSTALLED)
    clock.advance(days=11)

    assert redemptions_expire_due() == 0
    code.refresh_from_db()
    assert code.status == Redemption.Status.ISSUED


def test_the_expiry_job_works_through_batches(shop, clock):
    member = member_with(shop.shop, 5000)
    reward_ = five_off(shop.shop, return_points_if_unused=True)
    for i in range(5):
        issued_code(shop.shop, member, reward_, key=f"k{i}")
    clock.advance(days=11)

    from loyalty_app.rewards import lifecycle

    assert lifecycle.redemptions_expire_due(batch_size=2) == 5
    assert balance(member) == 5000


# --- code use (service level; the webhook path is in test_lifecycle_webhooks.py) -----------


def test_a_code_is_matched_without_regard_to_case_and_only_in_its_shop(shop, other_shop):
    member = member_with(shop.shop, 800)
    code = issued_code(shop.shop, member, five_off(shop.shop))

    theirs = redemptions_mark_used(shop=other_shop.shop, order_id="1", codes=[code.code])
    mine = redemptions_mark_used(
        shop=shop.shop,
        order_id="2",
        codes=[f"  {code.code.lower()} "],
        used_at=datetime(2025, 1, 20, tzinfo=UTC),
    )

    assert (theirs, mine) == ([], [code.pk])
    code.refresh_from_db()
    assert (code.status, code.used_order_id) == (Redemption.Status.USED, "2")
    assert code.used_at == datetime(2025, 1, 20, tzinfo=UTC)


def test_a_used_code_keeps_its_first_order(shop):
    member = member_with(shop.shop, 800)
    code = issued_code(shop.shop, member, five_off(shop.shop))
    redemptions_mark_used(shop=shop.shop, order_id="first", codes=[code.code])

    again = redemptions_mark_used(shop=shop.shop, order_id="second", codes=[code.code])

    assert again == []
    code.refresh_from_db()
    assert code.used_order_id == "first"


# --- experiences and donations ------------------------------------------------------------


def post(api: Client, path: str, body: object | None = None):
    return api.post(path, data=json.dumps(body or {}), content_type="application/json")


def experience(shop: Shop, member: Member, key: str = "x-1") -> Redemption:
    tasting = Reward.objects.filter(shop=shop, kind="experience").first() or reward(
        shop, kind="experience", title="Private tasting", points_cost=1000
    )
    redemption, _ = reward_redeem(
        shop=shop, member=member, reward_id=tasting.pk, idempotency_key=key, actor="t"
    )
    return redemption


def test_experience_requests_are_listed_until_fulfilled_and_then_billed(shop, api):
    # given two experience requests and a donation
    member = member_with(shop.shop, 5000)
    first = experience(shop.shop, member, "x-1")
    second = experience(shop.shop, member, "x-2")
    trees = reward(shop.shop, kind="donation", title="Tree", points_cost=100, value="1", cause="T")
    reward_redeem(shop=shop.shop, member=member, reward_id=trees.pk, idempotency_key="d", actor="t")

    # when the merchant lists the requests, then fulfils the first
    listed = api.get("/api/v1/redemptions?kind=experience&status=requested").json()["results"]
    done = post(api, f"/api/v1/redemptions/{first.pk}/fulfil")
    after = api.get("/api/v1/redemptions?kind=experience&status=requested").json()["results"]

    # then the open requests are listed newest first, and the fulfilled one leaves the list
    assert [r["id"] for r in listed] == [second.pk, first.pk]
    assert listed[0]["fulfilment_status"] == "requested"
    assert done.status_code == 200, done.content
    assert done.json()["fulfilment_status"] == "fulfilled"
    assert done.json()["fulfilment_by"]
    assert [r["id"] for r in after] == [second.pk]
    # and only the fulfilled request is billed
    charge = UsageCharge.objects.get(redemption=first)
    assert (charge.kind, charge.rule) == ("experience", "flat_fee")
    assert not UsageCharge.objects.filter(redemption=second).exists()


def test_fulfilling_twice_changes_nothing_and_a_fulfilled_request_cannot_be_declined(shop, api):
    member = member_with(shop.shop, 1000)
    request = experience(shop.shop, member)
    post(api, f"/api/v1/redemptions/{request.pk}/fulfil")

    again = post(api, f"/api/v1/redemptions/{request.pk}/fulfil")
    declined = post(api, f"/api/v1/redemptions/{request.pk}/decline", {"reason": "Full"})

    assert again.status_code == 200
    assert declined.status_code == 409
    assert UsageCharge.objects.count() == 1
    assert balance(member) == 0


def test_a_declined_request_gives_the_points_back_with_the_reason_once(shop, api):
    member = member_with(shop.shop, 1500)
    request = experience(shop.shop, member)

    first = post(api, f"/api/v1/redemptions/{request.pk}/decline", {"reason": "Event cancelled"})
    second = post(api, f"/api/v1/redemptions/{request.pk}/decline", {"reason": "Again"})

    assert first.status_code == 200, first.content
    body = first.json()
    assert (body["fulfilment_status"], body["fulfilment_reason"]) == (
        "declined",
        "Event cancelled",
    )
    assert body["points_returned"] == 1000
    assert second.status_code == 200
    assert balance(member) == 1500
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REDEMPTION_RETURN)
    assert entry.reason == "Request declined: Private tasting: Event cancelled"
    assert not UsageCharge.objects.exists()
    with pytest.raises(RequestNotOpen):
        redemption_fulfil(shop=shop.shop, redemption_id=request.pk, actor="merchant")


def test_a_decline_needs_a_reason(shop, api):
    member = member_with(shop.shop, 1000)
    request = experience(shop.shop, member)

    response = post(api, f"/api/v1/redemptions/{request.pk}/decline", {"reason": ""})

    assert response.status_code == 400
    with pytest.raises(ValueError, match="reason"):
        redemption_decline(shop=shop.shop, redemption_id=request.pk, reason="  ", actor="m")


def test_another_shop_can_neither_list_fulfil_nor_decline_a_request(shop, other_shop, api):
    member = member_with(shop.shop, 1000)
    request = experience(shop.shop, member)
    theirs = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    listed = theirs.get("/api/v1/redemptions?kind=experience").json()["results"]
    fulfil = post(theirs, f"/api/v1/redemptions/{request.pk}/fulfil")
    decline = post(theirs, f"/api/v1/redemptions/{request.pk}/decline", {"reason": "x"})

    assert (listed, fulfil.status_code, decline.status_code) == ([], 404, 404)
    request.refresh_from_db()
    assert request.fulfilled_at is None and request.declined_at is None
    assert balance(member) == 0


def test_a_code_redemption_is_not_an_experience_request(shop, api):
    member = member_with(shop.shop, 800)
    code = issued_code(shop.shop, member, five_off(shop.shop))

    assert post(api, f"/api/v1/redemptions/{code.pk}/fulfil").status_code == 404


def test_an_unknown_filter_is_a_400(api):
    assert api.get("/api/v1/redemptions?status=lost").status_code == 400
    assert api.get("/api/v1/redemptions?kind=voucher").status_code == 400


def test_donations_are_summed_per_cause_between_two_days(shop, api, clock):
    # given donations to two causes on 15 and 16 January, and one on 20 January
    member = member_with(shop.shop, 10_000)
    trees = reward(
        shop.shop, kind="donation", title="Tree", points_cost=100, value="1", cause="Trees"
    )
    sea = reward(shop.shop, kind="donation", title="Sea", points_cost=300, value="2.5", cause="Sea")
    for key, reward_, day in [("a", trees, 15), ("b", trees, 16), ("c", sea, 16), ("d", sea, 20)]:
        clock.set(datetime(2025, 1, day, 12, tzinfo=UTC))
        reward_redeem(
            shop=shop.shop, member=member, reward_id=reward_.pk, idempotency_key=key, actor="t"
        )

    # when the merchant asks for 15 to 16 January
    response = api.get("/api/v1/donations/summary?from=2025-01-15&to=2025-01-16")

    # then each cause has its count and total
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    assert body["causes"] == [
        {"cause": "Sea", "currency": "USD", "count": 1, "total": "2.50"},
        {"cause": "Trees", "currency": "USD", "count": 2, "total": "2.00"},
    ]
    assert api.get("/api/v1/donations/summary").json()["count"] == 4
    assert api.get("/api/v1/donations/summary?from=2025-01-17&to=2025-01-16").status_code == 400
    assert api.get("/api/v1/donations/summary?from=January").status_code == 400


def test_another_shops_donations_are_not_in_the_summary(shop, other_shop):
    member = member_with(shop.shop, 1000)
    trees = reward(shop.shop, kind="donation", title="Tree", points_cost=100, value="1", cause="T")
    reward_redeem(shop=shop.shop, member=member, reward_id=trees.pk, idempotency_key="a", actor="t")
    theirs = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    assert theirs.get("/api/v1/donations/summary").json() == {
        "from": None,
        "to": None,
        "count": 0,
        "causes": [],
    }


# --- grants -------------------------------------------------------------------------------


def test_a_grant_costs_no_points_is_delivered_and_is_given_once_per_key(shop):
    member = member_with(shop.shop, 100)
    mug = reward(
        shop.shop, kind="free_product", title="Free mug", grant_only=True, variant_id="7003"
    )

    first = reward_grant(shop=shop.shop, member=member, reward_id=mug.pk, reason="r", key="g-1")
    again = reward_grant(shop=shop.shop, member=member, reward_id=mug.pk, reason="r", key="g-1")

    assert (first.created, again.created) == (True, False)
    assert again.redemption.pk == first.redemption.pk
    granted = first.redemption
    assert (granted.points, granted.status, granted.kind) == (0, "pending", "free_product")
    assert granted.code.startswith("LOYAL-")
    assert granted.expires_at is not None
    assert DELIVERED == [granted.pk]
    assert balance(member) == 100


def test_a_grant_of_another_shops_reward_is_refused(shop, other_shop):
    member = member_with(shop.shop, 1)
    theirs = reward(other_shop.shop, kind="store_credit", title="C", grant_only=True, value="5")

    with pytest.raises(Reward.DoesNotExist):
        reward_grant(shop=shop.shop, member=member, reward_id=theirs.pk, reason="r", key="g")
    assert not Redemption.objects.exists()


def test_the_return_option_is_read_and_written_through_the_api(api):
    created = api.post(
        "/api/v1/rewards",
        data=json.dumps(
            {
                "kind": "percentage",
                "title": "10%",
                "points_cost": 100,
                "value": "10",
                "return_points_if_unused": True,
            }
        ),
        content_type="application/json",
    )
    refused = api.post(
        "/api/v1/rewards",
        data=json.dumps(
            {
                "kind": "store_credit",
                "title": "C",
                "points_cost": 100,
                "value": "1",
                "return_points_if_unused": True,
            }
        ),
        content_type="application/json",
    )

    assert created.status_code == 201, created.content
    assert created.json()["return_points_if_unused"] is True
    assert Reward.objects.get().return_points_if_unused is True
    assert refused.status_code == 400
    assert "return_points_if_unused" in refused.json()["fields"]


def test_value_is_copied_from_the_reward_when_granted(shop):
    member = member_with(shop.shop, 1)
    credit = reward(shop.shop, kind="store_credit", title="C", grant_only=True, value="7.50")

    grant = reward_grant(shop=shop.shop, member=member, reward_id=credit.pk, reason="r", key="g")

    assert grant.redemption.value == Decimal("7.5")
    assert grant.redemption.currency == "USD"
    assert grant.redemption.expires_at is None


def test_the_admin_form_sends_the_return_option_only_for_a_code_reward():
    from loyalty_app.merchant_admin.forms import RewardForm
    from loyalty_app.rewards.policies import COMMON_FIELDS, KIND_FIELDS

    posted = {"title": "x", "points_cost": "100", "value": "5", "return_points_if_unused": "on"}
    code = RewardForm.from_post(
        {**posted, "kind": "fixed_amount"}, common=COMMON_FIELDS, kind_fields=KIND_FIELDS
    )
    credit = RewardForm.from_post(
        {**posted, "kind": "store_credit"}, common=COMMON_FIELDS, kind_fields=KIND_FIELDS
    )

    assert code.data["return_points_if_unused"] is True
    assert "return_points_if_unused" not in credit.data
