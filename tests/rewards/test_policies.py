"""The rewards catalog's rules, as tables of cases (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from loyalty_app.rewards.policies import ConfigError, reward_from_dict

VALID = {
    "fixed_amount": {"kind": "fixed_amount", "title": "5 off", "points_cost": 500, "value": "5"},
    "percentage": {"kind": "percentage", "title": "10%", "points_cost": 800, "value": "10"},
    "free_shipping": {"kind": "free_shipping", "title": "Ship free", "points_cost": 300},
    "free_product": {
        "kind": "free_product",
        "title": "A free mug",
        "points_cost": 900,
        "variant_id": "gid://shopify/ProductVariant/42",
    },
    "store_credit": {"kind": "store_credit", "title": "Credit", "points_cost": 1000, "value": "10"},
    "variable_credit": {
        "kind": "variable_credit",
        "title": "Points for credit",
        "points_per_step": 100,
        "value_per_step": "1",
        "max_points": 5000,
    },
    "donation": {
        "kind": "donation",
        "title": "Plant a tree",
        "points_cost": 200,
        "value": "2",
        "cause": "Trees for All",
    },
    "experience": {
        "kind": "experience",
        "title": "Personal shopping",
        "points_cost": 5000,
        "fulfilment_note": "Book with the store manager",
        "customer_tag": "personal-shopper",
    },
    "punch_card": {
        "kind": "punch_card",
        "title": "Buy 9 coffees, get one",
        "punch_target": "collection",
        "punch_target_id": "123",
        "punch_count": 9,
        "punch_reward_id": 7,
    },
}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_kind_of_reward_is_accepted_with_its_own_fields(kind):
    spec = reward_from_dict(VALID[kind])

    assert spec.kind == kind
    assert spec.title == VALID[kind]["title"]


def case(base: str, **changes: object) -> dict[str, object]:
    return {**VALID[base], **changes}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ("reward", "non_field_errors", "must be an object"),
        ({"title": "x"}, "kind", "must be one of"),
        (case("fixed_amount", kind="lottery"), "kind", "must be one of"),
        (case("fixed_amount", colour="red"), "colour", "unknown field"),
        (case("fixed_amount", title=" "), "title", "must not be empty"),
        (case("fixed_amount", title="x" * 201), "title", "at most 200"),
        (case("fixed_amount", points_cost=None), "points_cost", "is required"),
        (case("fixed_amount", points_cost=0), "points_cost", "at least 1"),
        (case("fixed_amount", points_cost="500"), "points_cost", "whole number"),
        (case("fixed_amount", points_cost=True), "points_cost", "whole number"),
        (case("fixed_amount", value=None), "value", "is required"),
        (case("fixed_amount", value="0"), "value", "more than 0"),
        (case("fixed_amount", value="5.123456"), "value", "4 decimal places"),
        (case("fixed_amount", value="ten"), "value", "decimal number"),
        (case("percentage", value="100.5"), "value", "at most 100"),
        (case("percentage", value="12.345"), "value", "2 decimal places"),
        (case("free_shipping", value="-1"), "value", "more than 0"),
        (case("free_product", variant_id=""), "variant_id", "is required"),
        (case("free_product", variant_id="a variant"), "variant_id", "must be an id"),
        (case("free_product", collection_ids=["1"]), "collection_ids", "does not apply"),
        (case("fixed_amount", collection_ids="1,2"), "collection_ids", "list of collection ids"),
        (
            case("fixed_amount", collection_ids=["1", "no way"]),
            "collection_ids[1]",
            "must be an id",
        ),
        (case("fixed_amount", code_valid_days=0), "code_valid_days", "at least 1"),
        (case("fixed_amount", min_order_amount="-5"), "min_order_amount", "at least 0"),
        (case("store_credit", min_order_amount="5"), "min_order_amount", "does not apply"),
        (case("store_credit", code_valid_days=30), "code_valid_days", "does not apply"),
        (case("store_credit", variant_id="1"), "variant_id", "does not apply"),
        (case("variable_credit", points_cost=100), "points_cost", "the shopper chooses"),
        (case("variable_credit", points_per_step=None), "points_per_step", "is required"),
        (case("variable_credit", value_per_step="0"), "value_per_step", "more than 0"),
        (case("variable_credit", max_points=None), "max_points", "is required"),
        (case("variable_credit", min_points=150), "min_points", "whole number of steps"),
        (case("variable_credit", max_points=5050), "max_points", "whole number of steps"),
        (case("variable_credit", min_points=600, max_points=500), "max_points", "at least min"),
        (case("variable_credit", value="5"), "value", "does not apply"),
        (case("donation", cause=""), "cause", "must not be empty"),
        (case("experience", customer_tag="a,b"), "customer_tag", "commas"),
        (case("experience", value="5"), "value", "does not apply"),
        (case("punch_card", points_cost=10), "points_cost", "filled by buying"),
        (case("punch_card", punch_target="vendor"), "punch_target", "must be one of"),
        (case("punch_card", punch_target_id=None), "punch_target_id", "is required"),
        (case("punch_card", punch_count=1), "punch_count", "at least 2"),
        (case("punch_card", punch_count=None), "punch_count", "is required"),
        (case("punch_card", punch_reward_id=None), "punch_reward_id", "is required"),
        (case("punch_card", grant_only=True), "grant_only", "cannot be grant-only"),
        (case("free_product", grant_only=True), "points_cost", "grant-only reward is never bought"),
        (case("fixed_amount", active="yes"), "active", "true or false"),
        (case("fixed_amount", active_from="next week"), "active_from", "ISO 8601"),
        (
            case("fixed_amount", active_from="2025-06-01T00:00", active_until="2025-05-01T00:00"),
            "active_until",
            "after active_from",
        ),
        (case("fixed_amount", per_customer_limit=0), "per_customer_limit", "at least 1"),
        (case("fixed_amount", stock_total=-1), "stock_total", "at least 0"),
        (case("fixed_amount", position="first"), "position", "whole number"),
    ],
)
def test_an_invalid_reward_is_refused_naming_the_field(data, field, message):
    with pytest.raises(ConfigError) as caught:
        reward_from_dict(data)

    assert field in caught.value.errors, caught.value.errors
    assert any(message in text for text in caught.value.errors[field]), caught.value.errors


def test_a_min_tier_must_be_one_of_the_shops_tiers_and_takes_its_spelling():
    spec = reward_from_dict(case("fixed_amount", min_tier="gold"), tier_names=["Silver", "Gold"])
    assert spec.min_tier == "Gold"

    with pytest.raises(ConfigError) as caught:
        reward_from_dict(case("fixed_amount", min_tier="Platinum"), tier_names=["Silver", "Gold"])
    assert "min_tier" in caught.value.errors


def test_active_dates_without_an_offset_are_the_shops_wall_clock_time():
    spec = reward_from_dict(
        case("fixed_amount", active_from="2025-07-01T09:00", active_until="2025-07-02T09:00+00:00"),
        tz_name="Europe/Paris",
    )

    assert spec.active_from == datetime(2025, 7, 1, 7, 0, tzinfo=UTC)
    assert spec.active_until == datetime(2025, 7, 2, 9, 0, tzinfo=UTC)


def test_defaults_fill_what_a_code_reward_leaves_out():
    spec = reward_from_dict(
        case("percentage", value="12.50", collection_ids=[123, "gid://shopify/Collection/9", 123])
    )

    assert spec.value == Decimal("12.5")
    assert spec.code_valid_days == 30
    assert spec.collection_ids == ("123", "gid://shopify/Collection/9")
    assert spec.active is True
    assert spec.stock_total is None


def test_a_variable_credit_starts_at_one_step_unless_told():
    spec = reward_from_dict(VALID["variable_credit"])

    assert (spec.min_points, spec.max_points, spec.points_cost) == (100, 5000, None)


def test_a_grant_only_reward_has_no_points_cost():
    spec = reward_from_dict(case("free_product", points_cost=None, grant_only=True))

    assert spec.grant_only is True
    assert spec.points_cost is None


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        reward_from_dict({"kind": "fixed_amount", "title": "", "points_cost": -1, "value": "x"})

    assert set(caught.value.errors) == {"title", "points_cost", "value"}
