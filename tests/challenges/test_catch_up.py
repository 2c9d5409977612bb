"""The activation's catch-up, batched: the same rows, rewards and badges as the per-member
path on a hand-checked dataset (every block, refunds, pending orders, cancelled and test
orders, the dates' edges), a crash mid-batch resumed, a rerun that writes nothing, and
one shop's catch-up never touching another's members."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from loyalty_app.challenges import services
from loyalty_app.challenges.models import Badge, Challenge, ChallengeProgress, MemberBadge
from loyalty_app.challenges.selectors import member_challenges
from loyalty_app.challenges.services import (
    challenge_activate,
    challenge_backfill_run,
    challenge_backfills_resume,
    challenge_create,
    member_challenges_evaluate,
)
from loyalty_app.common.time import now
from loyalty_app.earning.models import ActionEvent, Order, OrderRefund
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Redemption
from loyalty_app.rewards.services import reward_create
from loyalty_app.shops.models import Shop

D = Decimal
NOON = {"hour": 12, "minute": 0, "second": 0, "microsecond": 0}

# Three calendar months: the first day of the month two months back (where the challenges
# start), of last month, and of this month, at noon UTC (the test shops' zone).
M0 = now().replace(day=1, **NOON)
M1 = (M0 - timedelta(days=1)).replace(day=1)
M2 = (M1 - timedelta(days=1)).replace(day=1)
STARTS_ON = M2.date()
ENDS_ON = (now() + timedelta(days=30)).date()
ACTIONS = ["newsletter", "product_review", "birthday"]

# One challenge of each block, each with its points: (name, block fields, points).
BLOCKS: list[tuple[str, dict[str, Any], int]] = [
    ("orders", {"block": "orders_count", "orders": 3}, 10),
    ("spend", {"block": "amount_spent", "amount": "80.00"}, 20),
    ("types", {"block": "distinct_categories", "dimension": "product_type", "count": 2}, 30),
    ("streak", {"block": "monthly_streak", "months": 3}, 40),
    ("actions", {"block": "actions", "actions": ["newsletter", "product_review"]}, 50),
]

# What each member ends with, worked out by hand from ``dataset`` below:
# (value, confirmed_value, completed); a member absent from a block has no row.
EXPECTED: dict[str, dict[str, tuple[Decimal, Decimal, bool]]] = {
    "orders": {
        "ada": (D(3), D(3), True),  # three kept orders in the dates; the older one is out
        "bo": (D(1), D(1), False),  # only the partly refunded order counts
        "cy": (D(3), D(1), False),  # two of three still in the return window
        "fa": (D(1), D(1), False),  # the order at the first instant counts, at the end not
    },
    "spend": {
        "ada": (D("95.50"), D("95.50"), True),  # 30.00 + 45.50 + 20.00
        "bo": (D("20.00"), D("20.00"), False),  # 50.00 less the 30.00 tea refunded
        "cy": (D("120.00"), D("40.00"), False),
        "fa": (D("10.00"), D("10.00"), False),
    },
    "types": {
        "ada": (D(2), D(2), True),  # Coffee, Tea
        "bo": (D(1), D(1), False),  # the tea line was refunded: Coffee only
        "cy": (D(3), D(1), False),  # Coffee, Tea, Merch; only the Merch order confirmed
        "fa": (D(1), D(1), False),
    },
    "streak": {
        "ada": (D(3), D(3), True),  # M2, M1, M0
        "bo": (D(1), D(1), False),
        "cy": (D(3), D(1), False),
        "fa": (D(1), D(1), False),
    },
    "actions": {
        "ada": (D(2), D(2), True),  # newsletter and review in the dates
        "ed": (D(1), D(1), False),  # newsletter; the birthday is not listed
    },
}


def _order(
    shop: Shop,
    member: Member,
    key: str,
    amount: str,
    placed_at: Any,
    lines: list[tuple[str, str]],
    **fields: Any,
) -> Order:
    return Order.objects.create(
        shop=shop,
        external_id=key,
        member=member,
        has_snapshot=True,
        paid=fields.pop("paid", True),
        placed_at=placed_at,
        eligible_amount=D(amount),
        lines=[
            {"id": str(i), "amount": price, "quantity": 1, "gift_card": False, "product_type": kind}
            for i, (kind, price) in enumerate(lines, start=1)
        ],
        **fields,
    )


def _action(shop: Shop, member: Member, key: str, action: str, at: Any, **fields: Any) -> None:
    ActionEvent.objects.create(
        shop=shop,
        member=member,
        action=action,
        event_key=key,
        occurred_at=at,
        points=fields.pop("points", 5),
        status=fields.pop("status", ActionEvent.Status.AWARDED),
        **fields,
    )


def dataset(shop: Shop, prefix: str = "") -> dict[str, Member]:
    """Six members of ``shop`` and what they did (see ``EXPECTED``)."""
    names = ["ada", "bo", "cy", "di", "ed", "fa"]
    members = {
        n: Member.objects.create(shop=shop, external_id=f"{prefix}{n}", email=f"{n}@example.com")
        for n in names
    }
    ada, bo, cy, di, ed, fa = (members[n] for n in names)
    starts = M2.replace(hour=0)
    ends = (now() + timedelta(days=31)).replace(hour=0, minute=0, second=0, microsecond=0)
    p = f"{prefix}o"
    # ada: three orders, one a month, two product types; one older order outside the dates
    _order(shop, ada, f"{p}a1", "30.00", M2 + timedelta(days=1), [("Coffee", "30.00")])
    _order(shop, ada, f"{p}a2", "45.50", M1 + timedelta(days=3), [("Tea", "45.50")])
    _order(shop, ada, f"{p}a3", "20.00", M0, [("Coffee", "20.00")])
    _order(shop, ada, f"{p}a0", "100.00", M2 - timedelta(days=10), [("Merch", "100.00")])
    _action(shop, ada, f"{p}an", "newsletter", M1)
    _action(shop, ada, f"{p}ar", "product_review", M0)
    # bo: a tea line refunded, a full refund, a cancelled order, a test order, and an
    # order refunded to nothing; a newsletter refused by its limit, a review too early
    b1 = _order(
        shop,
        bo,
        f"{p}b1",
        "50.00",
        M1 + timedelta(days=5),
        [("Coffee", "20.00"), ("Tea", "30.00")],
        refunded_amount=D("30.00"),
    )
    OrderRefund.objects.create(
        order=b1, external_id="r1", amount=D("30.00"), lines=[{"id": "2", "amount": "30.00"}]
    )
    _order(shop, bo, f"{p}b2", "40.00", M1, [("Merch", "40.00")], fully_refunded=True)
    _order(shop, bo, f"{p}b3", "60.00", M1, [("Books", "60.00")], cancelled=True)
    _order(shop, bo, f"{p}b4", "70.00", M1, [("Toys", "70.00")], test=True)
    _order(shop, bo, f"{p}b5", "25.00", M0, [("Mugs", "25.00")], refunded_amount=D("25.00"))
    _action(shop, bo, f"{p}bn", "newsletter", M1, status=ActionEvent.Status.LIMIT_REACHED, points=0)
    _action(shop, bo, f"{p}br", "product_review", M2 - timedelta(days=1))
    # cy: two of three orders inside the return window
    _order(shop, cy, f"{p}c1", "40.00", M0, [("Coffee", "40.00")], confirmed=False)
    _order(shop, cy, f"{p}c2", "40.00", M1 + timedelta(days=2), [("Tea", "40.00")], confirmed=False)
    _order(shop, cy, f"{p}c3", "40.00", M2 + timedelta(days=2), [("Merch", "40.00")])
    # di: an order before the dates and one not paid: nothing counts, no row
    _order(shop, di, f"{p}d1", "80.00", M2 - timedelta(days=10), [("Coffee", "80.00")])
    _order(shop, di, f"{p}d2", "80.00", M1, [("Coffee", "80.00")], paid=False)
    # ed: actions only, one of them not listed by the challenge
    _action(shop, ed, f"{p}en", "newsletter", M1)
    _action(shop, ed, f"{p}eb", "birthday", M1)
    # fa: an order at the dates' first instant (counts) and one at their end (does not)
    _order(shop, fa, f"{p}f1", "10.00", starts, [("Coffee", "10.00")])
    _order(shop, fa, f"{p}f2", "10.00", ends, [("Tea", "10.00")])
    return members


def _challenge(shop: Shop, name: str, fields: dict[str, Any], points: int, **extra: Any) -> int:
    made = challenge_create(
        shop=shop,
        data={
            "name": name,
            "starts_on": STARTS_ON.isoformat(),
            "ends_on": ENDS_ON.isoformat(),
            "reward_points": points,
            **fields,
            **extra,
        },
        actor="t",
    )
    # Activated: the catch-up runs after commit, which a test in one transaction never
    # reaches, so each test runs it (or the per-member path) itself.
    challenge_activate(shop=shop, challenge_id=made.pk, actor="t")
    return made.pk


def _program(shop: Shop) -> None:
    program_update(
        shop=shop, data={"actions": [{"key": k, "points": 5} for k in ACTIONS]}, actor="t"
    )


def _badge(shop: Shop, name: str) -> int:
    return Badge.objects.create(shop=shop, name=name, icon="star", colour="green").pk


def rows(challenge_id: int) -> dict[str, tuple[Decimal, Decimal, bool]]:
    return {
        external_id: (value, confirmed, completed)
        for external_id, value, confirmed, completed in ChallengeProgress.objects.filter(
            challenge_id=challenge_id
        ).values_list("member__external_id", "value", "confirmed_value", "completed")
    }


def given(challenge_id: int) -> dict[str, tuple[int, int, int, int]]:
    """Per member: points of the challenge's ledger entries, grants, take-backs, badges."""
    out: dict[str, tuple[int, int, int, int]] = {}
    for row in ChallengeProgress.objects.filter(challenge_id=challenge_id).select_related("member"):
        points = sum(
            LedgerEntry.objects.filter(
                member=row.member, kind=LedgerEntry.Kind.CHALLENGE, source_id=str(challenge_id)
            ).values_list("points", flat=True)
        )
        badges = MemberBadge.objects.filter(member=row.member, challenge_id=challenge_id).count()
        out[row.member.external_id] = (points, row.completions, row.revocations, badges)
    return out


@pytest.fixture
def program(shop: Any) -> Shop:
    _program(shop.shop)
    return shop.shop


def test_the_batched_catch_up_equals_the_per_member_path_for_every_block(program):
    # Given six members' orders and actions, and each block twice (twins: the same
    # definition, each with its own badge), the orders block also giving a catalog reward
    shop = program
    members = dataset(shop)
    mug = reward_create(
        shop=shop,
        data={"kind": "free_product", "title": "Mug", "grant_only": True, "variant_id": "77"},
        actor="t",
    )
    pairs = {}
    for name, fields, points in BLOCKS:
        extra: dict[str, Any] = {"reward_id": mug.pk} if name == "orders" else {}
        batched = _challenge(
            shop, f"{name} A", fields, points, badge_id=_badge(shop, f"{name} A"), **extra
        )
        single = _challenge(
            shop, f"{name} B", fields, points, badge_id=_badge(shop, f"{name} B"), **extra
        )
        pairs[name] = (batched, single)

    # When one twin is caught up in batches of 2 members, the other member by member
    for name, (batched, single) in pairs.items():
        evaluated = challenge_backfill_run(challenge_id=batched, batch_size=2)
        assert evaluated == len(EXPECTED[name]), name
        twin = Challenge.objects.get(pk=single)
        for member in members.values():
            member_challenges_evaluate(shop=shop, member=member, challenges=[twin], actor="t")

    # Then both have the hand-checked rows, and gave the same points, badges and rewards
    for name, points in ((n, p) for n, _, p in BLOCKS):
        batched, single = pairs[name]
        assert rows(batched) == EXPECTED[name], name
        assert rows(single) == EXPECTED[name], name
        expected_given = {
            member: (points, 1, 0, 1) if completed else (0, 0, 0, 0)
            for member, (_, _, completed) in EXPECTED[name].items()
        }
        assert given(batched) == given(single) == expected_given, name
        assert Challenge.objects.get(pk=batched).backfilled_at is not None
    granted = Redemption.objects.filter(idempotency_key__startswith="challenge:")
    assert sorted(granted.values_list("idempotency_key", flat=True)) == sorted(
        f"challenge:{c}:{members['ada'].pk}" for c in pairs["orders"]
    )
    # ada completed all five: 10 + 20 + 30 + 40 + 50 points from each twin
    members["ada"].refresh_from_db()
    assert members["ada"].points_balance == 2 * 150


def test_a_member_without_a_row_reads_as_zero_in_the_widget(program):
    # Given a challenge caught up: di counted nothing, so no row was written for di
    shop = program
    members = dataset(shop)
    challenge = _challenge(shop, "three", {"block": "orders_count", "orders": 3}, 10)
    challenge_backfill_run(challenge_id=challenge)
    assert "di" not in rows(challenge)

    # Then di still sees the challenge, at 0 of 3
    [seen] = member_challenges(shop=shop, member=members["di"], at=now())
    assert (seen["value"], seen["text"], seen["percent"], seen["completed"]) == (
        "0",
        "0 of 3 orders",
        0,
        False,
    )


def test_a_crash_mid_batch_resumes_after_the_last_committed_batch(program, monkeypatch):
    # Given one order completes it: ada, bo, cy and fa complete (candidates in that order)
    shop = program
    members = dataset(shop)
    challenge = _challenge(shop, "one", {"block": "orders_count", "orders": 1}, 7)
    settle = services._progress_settle
    calls: list[int] = []

    def dies_on_the_fourth(**kwargs: Any) -> Any:
        settled = settle(**kwargs)
        calls.append(kwargs["member"].pk)
        if len(calls) == 4:
            raise RuntimeError("worker lost")
        return settled

    monkeypatch.setattr(services, "_progress_settle", dies_on_the_fourth)

    # When the worker dies in the second batch (cy given, then fa given, then the crash)
    with pytest.raises(RuntimeError):
        challenge_backfill_run(challenge_id=challenge, batch_size=2)

    # Then the first batch stands, the second left nothing, the cursor is after bo
    state = Challenge.objects.get(pk=challenge)
    assert (state.backfill_member_id, state.backfilled_at) == (members["bo"].pk, None)
    assert sorted(rows(challenge)) == ["ada", "bo"]
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHALLENGE).count() == 2

    # When the periodic job resumes it
    monkeypatch.setattr(services, "_progress_settle", settle)
    assert challenge_backfills_resume() == 2

    # Then every completing member was given once, under the first grant's key
    assert {m: c for m, (_, _, c) in rows(challenge).items()} == {
        "ada": True,
        "bo": True,
        "cy": True,
        "fa": True,
    }
    keys = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHALLENGE).values_list(
        "idempotency_key", "points"
    )
    assert sorted(keys) == sorted(
        (f"challenge:{challenge}:{members[n].pk}:c1", 7) for n in ("ada", "bo", "cy", "fa")
    )
    assert Challenge.objects.get(pk=challenge).backfilled_at is not None


def test_running_the_catch_up_again_writes_nothing(program, django_assert_max_num_queries):
    # Given a finished catch-up
    shop = program
    dataset(shop)
    challenge = _challenge(shop, "spend", {"block": "amount_spent", "amount": "80.00"}, 20)
    assert challenge_backfill_run(challenge_id=challenge, batch_size=2) == 4
    before = list(ChallengeProgress.objects.order_by("pk").values())
    entries = LedgerEntry.objects.count()

    # When it is run again from the start (a second worker, a reset cursor)
    Challenge.objects.filter(pk=challenge).update(backfill_member_id=0, backfilled_at=None)
    # (set-based: one batch's queries whatever the number of members, and an empty one)
    with django_assert_max_num_queries(12):
        assert challenge_backfill_run(challenge_id=challenge) == 4

    # Then no row, entry or timestamp changed
    assert list(ChallengeProgress.objects.order_by("pk").values()) == before
    assert LedgerEntry.objects.count() == entries


def test_a_row_that_differs_from_the_source_is_corrected(program):
    # Given a finished catch-up, then rows made wrong: ada's below the target yet marked
    # complete, bo's above it, cy's confirmed value only
    shop = program
    dataset(shop)
    challenge = _challenge(shop, "three", {"block": "orders_count", "orders": 3}, 10)
    challenge_backfill_run(challenge_id=challenge)
    ChallengeProgress.objects.filter(member__external_id="ada").update(value=1, confirmed_value=1)
    ChallengeProgress.objects.filter(member__external_id="bo").update(value=9, confirmed_value=0)
    ChallengeProgress.objects.filter(member__external_id="cy").update(confirmed_value=0)

    # When the catch-up runs again
    Challenge.objects.filter(pk=challenge).update(backfill_member_id=0, backfilled_at=None)
    challenge_backfill_run(challenge_id=challenge)

    # Then all are what the orders say, and ada's reward was not given twice
    assert rows(challenge) == EXPECTED["orders"]
    assert given(challenge)["ada"] == (10, 1, 0, 0)


def test_a_catch_up_counts_only_its_own_shop(shop, other_shop):
    # Given the same members and orders in two shops, each with the same challenge
    _program(shop.shop)
    _program(other_shop.shop)
    dataset(shop.shop)
    theirs = dataset(other_shop.shop, prefix="b-")
    ours = _challenge(shop.shop, "three", {"block": "orders_count", "orders": 3}, 10)
    other = _challenge(other_shop.shop, "three", {"block": "orders_count", "orders": 3}, 10)

    # When our catch-up runs
    assert challenge_backfill_run(challenge_id=ours, batch_size=2) == 4

    # Then it wrote rows for our members only, and the other shop's catch-up is untouched
    assert rows(ours) == EXPECTED["orders"]
    assert not ChallengeProgress.objects.filter(member__shop=other_shop.shop).exists()
    assert not LedgerEntry.objects.filter(shop=other_shop.shop, kind="challenge").exists()
    state = Challenge.objects.get(pk=other)
    assert (state.backfill_member_id, state.backfilled_at) == (0, None)

    # And theirs counts their own members' orders, never ours
    assert challenge_backfill_run(challenge_id=other, batch_size=2) == 4
    assert rows(other) == {f"b-{m}": v for m, v in EXPECTED["orders"].items()}
    assert set(
        ChallengeProgress.objects.filter(challenge_id=other).values_list("member", flat=True)
    ) <= {m.pk for m in theirs.values()}
