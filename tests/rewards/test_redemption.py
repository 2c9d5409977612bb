"""reward_redeem's rules, replays and bookkeeping, and the engine's side of a delivery's
outcome (redemption_issued, redemption_fail). The platform is this module: the settings
point LOYALTY_PLATFORM_PORT at it, so deliveries are recorded here instead of sent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from loyalty_app.common.time import now
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Redemption, Reward
from loyalty_app.rewards.redemption import (
    RedemptionConflict,
    RedemptionRefused,
    redemption_code_new,
    redemption_fail,
    redemption_issued,
    reward_redeem,
)
from loyalty_app.rewards.services import reward_archive
from loyalty_app.tiers.services import tier_program_update
from tests.rewards.seeds import balance, member_with, reward

DELIVERED: list[int] = []
FAIL_DELIVERY: list[bool] = []


def redemption_deliver(*, shop: Any, redemption: Redemption) -> None:
    """The platform port's function, as reward_redeem calls it inside its transaction."""
    if FAIL_DELIVERY:
        raise RuntimeError("the outbox table is away")
    DELIVERED.append(redemption.pk)


@pytest.fixture(autouse=True)
def _this_module_is_the_platform(settings: Any) -> None:
    settings.LOYALTY_PLATFORM_PORT = __name__
    DELIVERED.clear()
    FAIL_DELIVERY.clear()


FIVE_OFF = {"kind": "fixed_amount", "title": "5 off", "points_cost": 500, "value": "5"}


def redeem(shop: Any, member: Member, reward_id: int, key: str = "k-1", **kw: Any):
    return reward_redeem(
        shop=shop, member=member, reward_id=reward_id, idempotency_key=key, actor="api:t", **kw
    )


def refusal(shop: Any, member: Member, reward_id: int, **kw: Any) -> str:
    with pytest.raises(RedemptionRefused) as refused:
        redeem(shop, member, reward_id, **kw)
    return refused.value.code


# --- the normal path ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_redemption_debits_the_points_takes_stock_and_hands_over_the_delivery(shop):
    # given a member with 800 points and a reward with 2 in stock
    member = member_with(shop.shop, 800)
    five_off = reward(shop.shop, **FIVE_OFF, stock_total=2, code_valid_days=7)

    # when they redeem it
    redemption, created = redeem(shop.shop, member, five_off.pk)

    # then it is pending delivery, paid for, counted, and handed to the platform once
    assert created is True
    assert redemption.status == Redemption.Status.PENDING
    assert (redemption.points, redemption.value, redemption.currency) == (500, 5, "USD")
    assert redemption.kind == "fixed_amount" and redemption.title == "5 off"
    assert redemption.expires_at - redemption.created_at < timedelta(days=7, seconds=1)
    assert redemption.expires_at - now() > timedelta(days=6, hours=23)
    assert member.points_balance == 300
    assert balance(member) == 300
    five_off.refresh_from_db()
    assert five_off.stock_remaining == 1
    assert DELIVERED == [redemption.pk]
    debit = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REDEMPTION)
    assert (debit.source_type, debit.source_id, debit.actor) == (
        "redemption",
        str(redemption.pk),
        "api:t",
    )


@pytest.mark.django_db
def test_codes_are_readable_and_never_repeat():
    codes = {redemption_code_new() for _ in range(2000)}

    assert len(codes) == 2000
    for code in codes:
        prefix, first, second = code.split("-")
        assert prefix == "LOYAL" and len(first) == len(second) == 4
        assert not set(first + second) & set("01OI")


@pytest.mark.django_db
def test_a_delivery_that_cannot_be_recorded_undoes_the_debit(shop):
    # given a platform that fails while the redemption's transaction is open
    member = member_with(shop.shop, 800)
    five_off = reward(shop.shop, **FIVE_OFF, stock_total=2)
    FAIL_DELIVERY.append(True)

    # when the member redeems
    with pytest.raises(RuntimeError):
        redeem(shop.shop, member, five_off.pk)

    # then nothing was spent, taken or recorded
    assert balance(member) == 800
    assert Reward.objects.get(pk=five_off.pk).stock_remaining == 2
    assert not Redemption.objects.exists()


@pytest.mark.django_db
def test_donations_and_experiences_are_issued_at_once_without_a_code(shop):
    member = member_with(shop.shop, 1000)
    trees = reward(
        shop.shop, kind="donation", title="Trees", points_cost=200, value="2", cause="Trees"
    )
    tasting = reward(shop.shop, kind="experience", title="Tasting", points_cost=300)

    donation, _ = redeem(shop.shop, member, trees.pk, key="a")
    experience, _ = redeem(shop.shop, member, tasting.pk, key="b")

    assert (donation.status, donation.code, donation.value) == ("issued", "", 2)
    assert (experience.status, experience.code, experience.value) == ("issued", "", None)
    assert donation.issued_at is not None and donation.expires_at is None
    assert balance(member) == 500


@pytest.mark.django_db
def test_a_variable_credit_is_worth_its_steps(shop):
    member = member_with(shop.shop, 1000)
    variable = reward(
        shop.shop,
        kind="variable_credit",
        title="Credit",
        points_per_step=50,
        value_per_step="0.75",
        min_points=100,
        max_points=500,
    )

    redemption, _ = redeem(shop.shop, member, variable.pk, points=300)

    assert (redemption.points, redemption.value) == (300, 4.5)
    assert balance(member) == 700


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reward_data", "member_points", "points", "code"),
    [
        (FIVE_OFF, 499, None, "insufficient_points"),
        ({**FIVE_OFF, "active": False}, 900, None, "reward_inactive"),
        ({**FIVE_OFF, "stock_total": 0}, 900, None, "out_of_stock"),
        ({**FIVE_OFF, "grant_only": True, "points_cost": None}, 900, None, "grant_only"),
        (FIVE_OFF, 900, 400, "points_invalid"),
    ]
    + [
        (
            {
                "kind": "variable_credit",
                "title": "Credit",
                "points_per_step": 100,
                "value_per_step": "1",
                "min_points": 200,
                "max_points": 500,
            },
            900,
            points,
            "points_invalid",
        )
        for points in (None, 100, 250, 600)
    ],
)
def test_a_redemption_the_rules_refuse_writes_nothing(
    shop, reward_data, member_points, points, code
):
    member = member_with(shop.shop, member_points)
    refused = reward(shop.shop, **reward_data)

    assert refusal(shop.shop, member, refused.pk, points=points) == code
    assert balance(member) == member_points
    assert not Redemption.objects.exists()
    assert DELIVERED == []


@pytest.mark.django_db
def test_an_archived_reward_cannot_be_redeemed(shop):
    member = member_with(shop.shop, 900)
    five_off = reward(shop.shop, **FIVE_OFF)
    reward_archive(shop=shop.shop, reward_id=five_off.pk, actor="t")

    assert refusal(shop.shop, member, five_off.pk) == "reward_inactive"


@pytest.mark.django_db
def test_a_reward_is_redeemable_only_between_its_dates_in_the_shops_time_zone(shop, clock):
    # given a shop in New York and a reward from 1 March 09:00 to 2 March 00:00 there
    shop.shop.timezone = "America/New_York"
    shop.shop.save(update_fields=["timezone"])
    member = member_with(shop.shop, 2000)
    spring = reward(
        shop.shop,
        **FIVE_OFF,
        active_from="2025-03-01T09:00:00",
        active_until="2025-03-02T00:00:00",
    )

    # then at 08:59 New York time (13:59 UTC) it is not yet on, at 09:00 it is,
    # and at midnight New York time (05:00 UTC on 2 March) it is over
    clock.set(clock.current.replace(year=2025, month=3, day=1, hour=13, minute=59))
    assert refusal(shop.shop, member, spring.pk, key="a") == "reward_inactive"
    clock.set(clock.current.replace(hour=14, minute=0))
    assert redeem(shop.shop, member, spring.pk, key="b")[1] is True
    clock.set(clock.current.replace(day=2, hour=5, minute=0))
    assert refusal(shop.shop, member, spring.pk, key="c") == "reward_inactive"


@pytest.mark.django_db
def test_a_tier_reward_needs_that_tier_or_a_higher_one(shop):
    # given tiers Bronze (everyone), Silver and Gold, and rewards for Bronze and Gold
    tier_program_update(
        shop=shop.shop,
        data={
            "metric": "points_earned",
            "tiers": [
                {"name": "Bronze", "threshold": 0},
                {"name": "Silver", "threshold": 1000},
                {"name": "Gold", "threshold": 5000},
            ],
        },
        actor="t",
    )
    member = member_with(shop.shop, 900)
    for_bronze = reward(shop.shop, **{**FIVE_OFF, "title": "Bronze"}, min_tier="bronze")
    for_gold = reward(shop.shop, **{**FIVE_OFF, "title": "Gold"}, min_tier="Gold")

    # then a Bronze member gets the first and not the second
    assert refusal(shop.shop, member, for_gold.pk) == "tier_required"
    assert redeem(shop.shop, member, for_bronze.pk, key="b")[1] is True


@pytest.mark.django_db
def test_a_member_who_reaches_no_tier_cannot_redeem_a_tier_reward(shop):
    # given tiers from 1,000 points earned, and a member who never earned any (their tier
    # from another app does not count once the shop defines its own)
    tier_program_update(
        shop=shop.shop,
        data={
            "metric": "points_earned",
            "tiers": [{"name": "Silver", "threshold": 1000}, {"name": "Gold", "threshold": 5000}],
        },
        actor="t",
    )
    member = member_with(shop.shop, 900, imported_tier="Gold")
    for_silver = reward(shop.shop, **FIVE_OFF, min_tier="Silver")

    assert refusal(shop.shop, member, for_silver.pk) == "tier_required"


@pytest.mark.django_db
def test_the_per_customer_limit_counts_every_redemption_but_the_failed(shop):
    # given a reward once per customer, redeemed once and then failed in delivery
    member = member_with(shop.shop, 2000)
    once = reward(shop.shop, **FIVE_OFF, per_customer_limit=1)
    first, _ = redeem(shop.shop, member, once.pk, key="a")
    redemption_fail(shop=shop.shop, redemption_id=first.pk, reason="the shop refused", actor="t")

    # when they redeem it again, it goes through; a third time it is refused
    second, created = redeem(shop.shop, member, once.pk, key="b")

    assert created is True
    assert refusal(shop.shop, member, once.pk, key="c") == "limit_reached"
    assert balance(member) == 1500
    other = member_with(shop.shop, 600, customer_id="502")
    assert redeem(shop.shop, other, once.pk, key="d")[1] is True


@pytest.mark.django_db
def test_a_punch_card_is_filled_by_buying_not_redeemed(shop):
    member = member_with(shop.shop, 900)
    mug = reward(shop.shop, kind="free_product", title="Mug", variant_id="7", grant_only=True)
    card = reward(
        shop.shop,
        kind="punch_card",
        title="Buy 5",
        punch_target="product",
        punch_target_id="6001",
        punch_count=5,
        punch_reward_id=mug.pk,
    )

    assert refusal(shop.shop, member, card.pk) == "grant_only"
    assert refusal(shop.shop, member, mug.pk) == "grant_only"


@pytest.mark.django_db
def test_a_member_without_a_customer_id_may_still_donate(shop):
    guest = member_with(shop.shop, 900, customer_id=None)
    trees = reward(shop.shop, kind="donation", title="T", points_cost=100, value="1", cause="T")
    credit = reward(shop.shop, kind="store_credit", title="C", points_cost=100, value="1")
    tagged = reward(
        shop.shop, kind="experience", title="E", points_cost=100, customer_tag="vip-event"
    )

    assert redeem(shop.shop, guest, trees.pk, key="a")[1] is True
    assert refusal(shop.shop, guest, credit.pk, key="b") == "customer_unknown"
    assert refusal(shop.shop, guest, tagged.pk, key="c") == "customer_unknown"


# --- replays and tenancy ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_key_returns_the_first_redemption_and_another_request_with_it_conflicts(shop):
    member = member_with(shop.shop, 2000)
    five_off = reward(shop.shop, **FIVE_OFF)
    variable = reward(
        shop.shop,
        kind="variable_credit",
        title="Credit",
        points_per_step=100,
        value_per_step="1",
        max_points=1000,
    )
    first, _ = redeem(shop.shop, member, five_off.pk, key="tap-1")
    credit, _ = redeem(shop.shop, member, variable.pk, key="tap-2", points=300)

    again, created = redeem(shop.shop, member, five_off.pk, key="tap-1")
    same_points, _ = redeem(shop.shop, member, variable.pk, key="tap-2", points=300)
    with pytest.raises(RedemptionConflict):
        redeem(shop.shop, member, variable.pk, key="tap-1")
    with pytest.raises(RedemptionConflict):
        redeem(shop.shop, member, variable.pk, key="tap-2", points=400)

    assert (again.pk, created) == (first.pk, False)
    assert same_points.pk == credit.pk
    assert balance(member) == 1200
    assert DELIVERED == [first.pk, credit.pk]


@pytest.mark.django_db
def test_a_key_must_be_short_and_printable(shop):
    member = member_with(shop.shop, 900)
    five_off = reward(shop.shop, **FIVE_OFF)

    for key in ("", "   ", "x" * 151, "a\nb"):
        with pytest.raises(ValueError):
            redeem(shop.shop, member, five_off.pk, key=key)


@pytest.mark.django_db
def test_another_shops_reward_or_member_cannot_be_used(shop, other_shop):
    mine = member_with(shop.shop, 900)
    theirs = member_with(other_shop.shop, 900)
    their_reward = reward(other_shop.shop, **FIVE_OFF)
    my_reward = reward(shop.shop, **FIVE_OFF)

    with pytest.raises(Reward.DoesNotExist):
        redeem(shop.shop, mine, their_reward.pk)
    with pytest.raises(Member.DoesNotExist):
        redeem(shop.shop, theirs, my_reward.pk)
    assert balance(mine) == balance(theirs) == 900


@pytest.mark.django_db
def test_the_same_key_in_two_shops_makes_two_redemptions(shop, other_shop):
    mine = member_with(shop.shop, 900)
    theirs = member_with(other_shop.shop, 900)

    first, _ = redeem(shop.shop, mine, reward(shop.shop, **FIVE_OFF).pk, key="k")
    second, created = redeem(
        other_shop.shop, theirs, reward(other_shop.shop, **FIVE_OFF).pk, key="k"
    )

    assert created is True and first.pk != second.pk


# --- the delivery's outcome ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_failed_delivery_returns_the_points_and_the_stock_once(shop):
    member = member_with(shop.shop, 800)
    five_off = reward(shop.shop, **FIVE_OFF, stock_total=1)
    redemption, _ = redeem(shop.shop, member, five_off.pk)

    for _ in range(2):
        failed = redemption_fail(
            shop=shop.shop,
            redemption_id=redemption.pk,
            reason="the shop refused the discount (Code is already taken)",
            actor="shopify:admin-api",
        )

    assert failed.status == Redemption.Status.FAILED
    assert failed.points_returned == 500
    assert balance(member) == 800
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REDEMPTION_RETURN)
    assert entry.reason == (
        "Reward not delivered: the shop refused the discount (Code is already taken)"
    )
    assert Reward.objects.get(pk=five_off.pk).stock_remaining == 1


@pytest.mark.django_db
def test_an_issued_redemption_stays_issued_whatever_comes_later(shop):
    member = member_with(shop.shop, 800)
    redemption, _ = redeem(shop.shop, member, reward(shop.shop, **FIVE_OFF).pk)

    issued = redemption_issued(shop=shop.shop, redemption_id=redemption.pk, actor="t")
    first_issued_at = issued.issued_at
    again = redemption_issued(shop=shop.shop, redemption_id=redemption.pk, actor="t")
    late_failure = redemption_fail(
        shop=shop.shop, redemption_id=redemption.pk, reason="late", actor="t"
    )

    assert again.issued_at == first_issued_at
    assert late_failure.status == Redemption.Status.ISSUED
    assert balance(member) == 300


@pytest.mark.django_db
def test_another_shop_cannot_settle_a_redemption(shop, other_shop):
    member = member_with(shop.shop, 800)
    redemption, _ = redeem(shop.shop, member, reward(shop.shop, **FIVE_OFF).pk)

    with pytest.raises(Redemption.DoesNotExist):
        redemption_fail(shop=other_shop.shop, redemption_id=redemption.pk, reason="x", actor="t")
    with pytest.raises(Redemption.DoesNotExist):
        redemption_issued(shop=other_shop.shop, redemption_id=redemption.pk, actor="t")
    assert Redemption.objects.get().status == Redemption.Status.PENDING
