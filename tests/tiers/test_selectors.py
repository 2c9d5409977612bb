"""Members' metrics, the tier distribution and a member's progress, from real orders."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from loyalty_app.actions.services import action_report
from loyalty_app.earning.services import program_update
from loyalty_app.members.models import Member
from loyalty_app.tiers.policies import tier_program_from_dict
from loyalty_app.tiers.selectors import member_metric, member_tier_progress, tier_distribution

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
LAST_YEAR = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
THIS_YEAR = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def definition(metric: str, thresholds: list[object], **extra: object):
    names = ["Bronze", "Silver", "Gold"][: len(thresholds)]
    return tier_program_from_dict(
        {
            "metric": metric,
            "tiers": [{"name": n, "threshold": t} for n, t in zip(names, thresholds, strict=True)],
            **extra,
        }
    )


def member(shop, customer: str) -> Member:
    return Member.objects.get(shop=shop, external_id=customer)


@pytest.fixture
def orders(shop, place_order, refund_order):
    """Ann: 120.00 last year, 80.00 this year of which 30.00 refunded. Bob: 45.50 this year
    and a cancelled order. Cat: only a test order and an unpaid one."""
    s = shop.shop
    place_order(s, order_id="1", customer="ann", amount="120.00", placed_at=LAST_YEAR)
    place_order(s, order_id="2", customer="ann", amount="80.00", placed_at=THIS_YEAR)
    refund_order(s, order_id="2", amount="30.00")
    place_order(s, order_id="3", customer="bob", amount="45.50", placed_at=THIS_YEAR)
    place_order(s, order_id="4", customer="bob", amount="500", placed_at=THIS_YEAR, cancelled=True)
    place_order(s, order_id="5", customer="cat", amount="900", placed_at=THIS_YEAR, test=True)
    Member.objects.create(shop=s, external_id="cat")
    place_order(s, order_id="6", customer="cat", amount="700", placed_at=THIS_YEAR, paid=False)
    return s


@pytest.mark.parametrize(
    ("metric", "period", "customer", "expected"),
    [
        ("amount_spent", "lifetime", "ann", Decimal("170")),
        ("amount_spent", "calendar_year", "ann", Decimal("50")),
        ("amount_spent", "lifetime", "bob", Decimal("45.5")),
        ("amount_spent", "lifetime", "cat", Decimal("0")),
        ("orders_count", "lifetime", "ann", 2),
        ("orders_count", "calendar_year", "ann", 1),
        ("orders_count", "lifetime", "bob", 1),
        ("orders_count", "lifetime", "cat", 0),
        ("points_earned", "lifetime", "ann", 170),
        ("points_earned", "rolling_12_months", "ann", 50),
        ("points_earned", "lifetime", "bob", 45),
        ("points_earned", "lifetime", "cat", 0),
    ],
)
def test_a_members_metric_counts_their_live_orders_in_the_period_net_of_refunds(
    orders, metric, period, customer, expected
):
    config = definition(metric, [1], period=period)

    metric_value = member_metric(
        shop=orders, member=member(orders, customer), config=config, at=NOW
    )

    assert metric_value.value == expected
    assert metric_value.previous is None


def test_points_earned_counts_actions_but_not_manual_adjustments(shop, clock):
    # Given a member who wrote a review (50 points) and got a manual adjustment
    from loyalty_app.ledger.models import LedgerEntry
    from loyalty_app.ledger.services import ledger_entry_add

    clock.set(THIS_YEAR)
    program_update(
        shop=shop.shop, data={"actions": [{"key": "product_review", "points": 50}]}, actor="t"
    )
    action_report(
        shop=shop.shop,
        action="product_review",
        event_key="review-1",
        email="dan@example.com",
        target="sku-1",
    )
    dan = Member.objects.get(shop=shop.shop, email="dan@example.com")
    ledger_entry_add(
        member=dan,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        points=1000,
        idempotency_key="goodwill-1",
        reason="goodwill",
    )
    clock.set(NOW)

    # When the points earned are counted
    value = member_metric(
        shop=shop.shop, member=dan, config=definition("points_earned", [1]), at=NOW
    ).value

    # Then only the review counts
    assert value == 50


def test_the_distribution_counts_every_member_in_the_tier_their_metric_reaches(orders):
    # ann 170.00, bob 45.50, cat 0 (lifetime amount spent)
    config = definition("amount_spent", ["40", "100", "1000"])

    rows = tier_distribution(shop=orders, definition=config, at=NOW)

    assert rows == [(None, 1), ("Bronze", 1), ("Silver", 1), ("Gold", 0)]


def test_under_retention_a_member_keeps_last_years_tier(orders):
    # ann spent 120.00 last year and 50.00 this year; bob 45.50 this year
    config = definition("amount_spent", ["40", "100"], period="calendar_year", retention=True)

    rows = tier_distribution(shop=orders, definition=config, at=NOW)
    progress = member_tier_progress(
        shop=orders, member=member(orders, "ann"), at=NOW, config=config
    )

    assert rows == [(None, 1), ("Bronze", 1), ("Silver", 1)]
    assert progress["tier"] == "Silver"
    assert progress["retained"] is True
    assert progress["tier_by_this_period"] == "Bronze"
    assert progress["previous_period_value"] == "120"


def test_the_distribution_is_per_shop(orders, other_shop):
    Member.objects.create(shop=other_shop.shop, external_id="ann")
    config = definition("orders_count", [0, 1])

    assert tier_distribution(shop=other_shop.shop, definition=config, at=NOW) == [
        (None, 0),
        ("Bronze", 1),
        ("Silver", 0),
    ]
    assert tier_distribution(shop=orders, definition=config, at=NOW) == [
        (None, 0),
        ("Bronze", 1),
        ("Silver", 2),
    ]


def test_the_distribution_takes_one_query_whatever_the_number_of_members(
    orders, place_order, django_assert_max_num_queries
):
    for i in range(30):
        place_order(
            orders, order_id=f"x{i}", customer=f"c{i}", amount=str(i * 10), placed_at=THIS_YEAR
        )
    config = definition("points_earned", [0, 50, 200], period="calendar_year", retention=True)

    with django_assert_max_num_queries(1):
        rows = tier_distribution(shop=orders, definition=config, at=NOW)

    assert sum(count for _, count in rows) == Member.objects.filter(shop=orders).count()


def test_progress_says_how_much_more_to_spend_for_the_next_tier(orders):
    config = definition("amount_spent", ["100", "210"])

    progress = member_tier_progress(
        shop=orders, member=member(orders, "ann"), at=NOW, config=config
    )

    assert progress == {
        "metric": "amount_spent",
        "period": "lifetime",
        "period_start": None,
        "currency": "USD",
        "value": "170",
        "previous_period_value": None,
        "tier": "Bronze",
        "retained": False,
        "tier_by_this_period": "Bronze",
        "next_tier": "Silver",
        "next_threshold": "210",
        "missing": "40",
    }


def test_progress_at_the_top_tier_has_nothing_missing(orders):
    config = definition("orders_count", [1, 2])

    progress = member_tier_progress(
        shop=orders, member=member(orders, "ann"), at=NOW, config=config
    )

    assert (progress["value"], progress["tier"], progress["next_tier"], progress["missing"]) == (
        2,
        "Silver",
        None,
        None,
    )


def test_points_earned_counts_referral_and_challenge_points_net_of_what_was_taken_back(shop, clock):
    # Given a member who earned 500 for a referral, 80 and 80 for a challenge done twice
    # (undone once in between: -80), and whose referral was reversed once elsewhere (-500
    # of another 500)
    from loyalty_app.ledger.models import LedgerEntry
    from loyalty_app.ledger.services import ledger_entry_add

    clock.set(THIS_YEAR)
    eve = Member.objects.create(shop=shop.shop, external_id="9001", email="eve@example.com")
    rows = [
        ("referral", 500, "referral", "r1"),
        ("referral", 500, "referral", "r2"),
        ("referral", -500, "referral", "r2-back"),
        ("challenge", 80, "challenge", "c1"),
        ("challenge", -80, "challenge", "c1-back"),
        ("challenge", 80, "challenge", "c1-again"),
    ]
    for kind, points, source, key in rows:
        ledger_entry_add(
            member=eve,
            kind=kind,
            points=points,
            idempotency_key=key,
            source_type=source,
            source_id="1",
            reason="t",
        )
    assert eve.ledger_entries.filter(kind=LedgerEntry.Kind.REFERRAL).count() == 3
    clock.set(NOW)

    # When the points earned are counted, then they are 500 + 80
    value = member_metric(
        shop=shop.shop, member=eve, config=definition("points_earned", [1]), at=NOW
    )
    assert value.value == 580
