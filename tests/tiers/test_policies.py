"""The tier definition's rules and calculations, as tables of cases (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from loyalty_app.tiers.policies import (
    ConfigError,
    TierProgramConfig,
    period_windows,
    tier_for,
    tier_program_from_dict,
    tier_progress,
)

POINTS = {
    "metric": "points_earned",
    "tiers": [
        {"name": "Bronze", "threshold": 0},
        {"name": "Silver", "threshold": 500},
        {"name": "Gold", "threshold": 2000},
    ],
}


def with_tier(index: int, **changes: object) -> dict[str, object]:
    tiers = [dict(t) for t in POINTS["tiers"]]  # type: ignore[attr-defined]
    tiers[index].update(changes)
    return {**POINTS, "tiers": tiers}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ([], "non_field_errors", "must be an object"),
        ({"metric": "visits"}, "metric", "must be one of"),
        ({"period": "month"}, "period", "must be one of"),
        ({"retention": "yes", "period": "calendar_year"}, "retention", "true or false"),
        ({"retention": True}, "retention", "lifetime period has no following period"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"tiers": {}}, "tiers", "must be a list"),
        ({"tiers": [{"name": f"T{i}", "threshold": i} for i in range(21)]}, "tiers", "at most 20"),
        ({"tiers": ["Gold"]}, "tiers[0]", "must be an object"),
        (with_tier(1, name="  "), "tiers[1].name", "must not be empty"),
        (with_tier(1, name="x" * 101), "tiers[1].name", "at most 100"),
        (with_tier(2, name="silver"), "tiers[2].name", "'silver' is already tiers[1]"),
        (with_tier(1, threshold=None), "tiers[1].threshold", "is required"),
        (with_tier(1, threshold="500"), "tiers[1].threshold", "whole number"),
        (with_tier(1, threshold=12.5), "tiers[1].threshold", "whole number"),
        (with_tier(1, threshold=-1), "tiers[1].threshold", "at least 0"),
        (
            with_tier(2, threshold=500),
            "tiers[2].threshold",
            "must be above the threshold of tiers[1]",
        ),
        (
            with_tier(2, threshold=100),
            "tiers[2].threshold",
            "must be above the threshold of tiers[1]",
        ),
        (with_tier(0, earn_multiplier="0.5"), "tiers[0].earn_multiplier", "at least 1"),
        (with_tier(0, earn_multiplier="101"), "tiers[0].earn_multiplier", "at most 100"),
        (with_tier(0, earn_multiplier="abc"), "tiers[0].earn_multiplier", "decimal number"),
        (with_tier(0, earn_multiplier="1.00001"), "tiers[0].earn_multiplier", "4 decimal places"),
        (with_tier(1, cashback_rate="-1"), "tiers[1].cashback_rate", "at least 0"),
        (with_tier(1, cashback_rate="100.5"), "tiers[1].cashback_rate", "at most 100"),
        (with_tier(1, entry_reward=5), "tiers[1].entry_reward", "must be null"),
        (
            with_tier(1, entry_reward={"points": 5, "reward_id": 3}),
            "tiers[1].entry_reward",
            "either",
        ),
        (with_tier(1, entry_reward={"points": 0}), "tiers[1].entry_reward.points", "at least 1"),
        (with_tier(1, entry_reward={"reward_id": "x"}), "tiers[1].entry_reward.reward_id", "whole"),
        (with_tier(1, entry_reward={"code": 1}), "tiers[1].entry_reward.code", "unknown field"),
        (with_tier(1, perks="free gift"), "tiers[1].perks", "list of texts"),
        (with_tier(1, perks=["ok", ""]), "tiers[1].perks[1]", "must not be empty"),
        (with_tier(1, perks=["x" * 201]), "tiers[1].perks[0]", "at most 200"),
        (with_tier(1, perks=["p"] * 11), "tiers[1].perks", "at most 10"),
        (with_tier(1, customer_tag="vip, gold"), "tiers[1].customer_tag", "commas"),
        (with_tier(1, customer_tag="x" * 256), "tiers[1].customer_tag", "at most 255"),
        (with_tier(1, colour="red"), "tiers[1].colour", "unknown field"),
        ({"cashback": {"rate": "101"}}, "cashback.rate", "at most 100"),
        ({"cashback": {"rate": "2", "enabled": 1}}, "cashback.enabled", "true or false"),
        ({"cashback": {"delivery": "cheque"}}, "cashback.delivery", "must be one of"),
        ({"cashback": "2%"}, "cashback", "must be an object"),
        (
            {"metric": "amount_spent", "tiers": [{"name": "A", "threshold": "1.00001"}]},
            "tiers[0].threshold",
            "4 decimal places",
        ),
        (
            {"metric": "amount_spent", "tiers": [{"name": "A", "threshold": "lots"}]},
            "tiers[0].threshold",
            "decimal number",
        ),
        (
            {"metric": "orders_count", "tiers": [{"name": "A", "threshold": "3"}]},
            "tiers[0].threshold",
            "whole number",
        ),
    ],
)
def test_an_invalid_definition_is_refused_naming_the_field(data, field, message):
    with pytest.raises(ConfigError) as caught:
        tier_program_from_dict(data)

    assert field in caught.value.errors, caught.value.errors
    assert any(message in text for text in caught.value.errors[field]), caught.value.errors


def test_every_problem_is_reported_at_once():
    data = {
        "metric": "points_earned",
        "tiers": [{"name": "", "threshold": 0}, {"name": "B", "threshold": -5}],
        "cashback": {"rate": "200"},
    }

    with pytest.raises(ConfigError) as caught:
        tier_program_from_dict(data)

    assert set(caught.value.errors) == {"tiers[0].name", "tiers[1].threshold", "cashback.rate"}


def test_a_definition_reads_back_to_the_same_canonical_json():
    data = {
        "metric": "amount_spent",
        "period": "calendar_year",
        "retention": True,
        "tiers": [
            {"name": " Silver ", "threshold": "100.00", "earn_multiplier": 1.5},
            {
                "name": "Gold",
                "threshold": 500,
                "cashback_rate": "5.0",
                "entry_reward": {"points": 200},
                "perks": [" Early access "],
                "customer_tag": "vip-gold",
            },
        ],
        "cashback": {"enabled": True, "rate": "2.00", "delivery": "discount_code"},
    }

    canonical = tier_program_from_dict(data).to_dict()

    assert canonical == {
        "metric": "amount_spent",
        "period": "calendar_year",
        "retention": True,
        "tiers": [
            {
                "name": "Silver",
                "threshold": "100",
                "earn_multiplier": "1.5",
                "cashback_rate": None,
                "entry_reward": None,
                "perks": [],
                "customer_tag": "",
            },
            {
                "name": "Gold",
                "threshold": "500",
                "earn_multiplier": "1",
                "cashback_rate": "5",
                "entry_reward": {"points": 200},
                "perks": ["Early access"],
                "customer_tag": "vip-gold",
            },
        ],
        "cashback": {"enabled": True, "rate": "2", "delivery": "discount_code"},
    }
    assert tier_program_from_dict(canonical).to_dict() == canonical


def test_an_empty_definition_is_no_tiers_and_no_cashback():
    assert tier_program_from_dict({}) == TierProgramConfig()


GOLDEN = tier_program_from_dict(POINTS)


@pytest.mark.parametrize(
    ("value", "previous", "expected"),
    [
        (0, None, "Bronze"),
        (499, None, "Bronze"),
        (500, None, "Silver"),
        (1999, None, "Silver"),
        (2000, None, "Gold"),
        (10**9, None, "Gold"),
        (10, 2500, "Gold"),  # kept from the previous period
        (2500, 10, "Gold"),  # the previous period never lowers a tier
        (600, 0, "Silver"),
    ],
)
def test_a_member_holds_the_highest_tier_their_metric_reaches(value, previous, expected):
    tier = tier_for(GOLDEN, value, previous)

    assert tier is not None
    assert tier.name == expected


def test_without_a_zero_tier_a_member_below_the_first_threshold_has_no_tier():
    config = tier_program_from_dict({"tiers": [{"name": "Silver", "threshold": 100}]})

    assert tier_for(config, 99) is None
    assert tier_for(config, 100).name == "Silver"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("metric", "thresholds", "value", "previous", "tier", "next_tier", "missing", "retained"),
    [
        ("points_earned", [0, 500, 2000], 120, None, "Bronze", "Silver", 380, False),
        ("points_earned", [0, 500, 2000], 2000, None, "Gold", None, 0, False),
        ("points_earned", [0, 500, 2000], 100, 600, "Silver", "Gold", 1900, True),
        ("orders_count", [1, 5], 0, None, None, "T0", 1, False),
        (
            "amount_spent",
            ["100", "500.50"],
            Decimal("460.10"),
            None,
            "T0",
            "T1",
            Decimal("40.40"),
            False,
        ),
    ],
)
def test_progress_says_what_is_missing_to_reach_the_next_tier(
    metric, thresholds, value, previous, tier, next_tier, missing, retained
):
    names = ["Bronze", "Silver", "Gold"] if metric == "points_earned" else ["T0", "T1"]
    config = tier_program_from_dict(
        {
            "metric": metric,
            "period": "calendar_year",
            "tiers": [{"name": n, "threshold": t} for n, t in zip(names, thresholds, strict=True)],
        }
    )

    progress = tier_progress(config, value, previous)

    assert (progress.tier.name if progress.tier else None) == tier
    assert (progress.next_tier.name if progress.next_tier else None) == next_tier
    assert progress.missing == missing
    assert progress.retained is retained


PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("period", "retention", "at", "start", "previous"),
    [
        ("lifetime", False, datetime(2025, 6, 1, tzinfo=UTC), None, None),
        (
            "calendar_year",
            False,
            datetime(2025, 6, 1, tzinfo=UTC),
            datetime(2024, 12, 31, 23, 0, tzinfo=UTC),  # midnight in Paris
            None,
        ),
        (
            "calendar_year",
            True,
            datetime(2025, 6, 1, tzinfo=UTC),
            datetime(2024, 12, 31, 23, 0, tzinfo=UTC),
            (datetime(2023, 12, 31, 23, 0, tzinfo=UTC), datetime(2024, 12, 31, 23, 0, tzinfo=UTC)),
        ),
        (
            # 23:30 UTC on 31 December is already the new year in Paris.
            "calendar_year",
            False,
            datetime(2024, 12, 31, 23, 30, tzinfo=UTC),
            datetime(2024, 12, 31, 23, 0, tzinfo=UTC),
            None,
        ),
        (
            "rolling_12_months",
            True,
            datetime(2025, 3, 31, 10, 0, tzinfo=UTC),
            datetime(2024, 3, 31, 10, 0, tzinfo=UTC),
            (datetime(2023, 3, 31, 10, 0, tzinfo=UTC), datetime(2024, 3, 31, 10, 0, tzinfo=UTC)),
        ),
    ],
)
def test_the_period_counts_in_the_shops_time_zone(period, retention, at, start, previous):
    config = tier_program_from_dict({"period": period, "retention": retention})

    windows = period_windows(config, at=at, zone=PARIS)

    assert windows.start == start
    assert windows.end == at
    assert windows.previous == previous


@pytest.mark.parametrize(
    ("enabled", "tier", "expected"),
    [
        (True, "Gold", Decimal("5")),
        (True, "gold", Decimal("5")),
        (True, "Silver", Decimal("2")),  # no rate of its own: the program's
        (True, None, Decimal("2")),
        (False, "Gold", Decimal("0")),
    ],
)
def test_a_tiers_cashback_rate_overrides_the_programs(enabled, tier, expected):
    config = tier_program_from_dict(
        {
            "tiers": [
                {"name": "Silver", "threshold": 1},
                {"name": "Gold", "threshold": 2, "cashback_rate": "5"},
            ],
            "cashback": {"enabled": enabled, "rate": "2"},
        }
    )

    assert config.cashback_rate(tier) == expected
