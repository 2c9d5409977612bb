"""The points' name: validation, the words for an amount, and its place in the program."""

from __future__ import annotations

import pytest

from loyalty_app.earning.points_name import DEFAULT_POINTS_NAME, PointsName, points_name_from_dict
from loyalty_app.earning.policies import ProgramConfig, program_from_dict
from loyalty_app.earning.rules import RulesError

STARS = PointsName("star", "stars")


@pytest.mark.parametrize(
    ("n", "amount", "signed"),
    [
        (0, "0 stars", "+0 stars"),
        (1, "1 star", "+1 star"),
        (-1, "-1 star", "-1 star"),
        (2, "2 stars", "+2 stars"),
        (1250, "1,250 stars", "+1,250 stars"),
        (-30000, "-30,000 stars", "-30,000 stars"),
    ],
)
def test_an_amount_is_written_with_the_singular_only_for_one(n, amount, signed):
    assert STARS.amount(n) == amount
    assert STARS.signed(n) == signed


def test_the_default_name_is_point_and_points():
    assert DEFAULT_POINTS_NAME.amount(1) == "1 point"
    assert DEFAULT_POINTS_NAME.amount(2) == "2 points"
    assert ProgramConfig().points_name == DEFAULT_POINTS_NAME


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"singular": "star"}, "plural", "is required"),
        ({"singular": "", "plural": "stars"}, "singular", "must be 1-20 characters"),
        ({"singular": "star", "plural": "s" * 21}, "plural", "must be 1-20 characters"),
        ({"singular": "st4r", "plural": "stars"}, "singular", "must be letters"),
        ({"singular": "gold  coin", "plural": "gold coins"}, "singular", "must be letters"),
        ({"singular": "star", "plural": "<b>stars</b>"}, "plural", "must be letters"),
        ({"singular": 1, "plural": "stars"}, "singular", "must be text"),
        ({"singular": "star", "plural": "stars", "colour": "gold"}, "colour", "is not a known"),
    ],
)
def test_a_bad_name_is_refused_naming_its_field(data, field, message):
    with pytest.raises(RulesError) as caught:
        points_name_from_dict(data)
    assert caught.value.field == field
    assert caught.value.message.startswith(message)


def test_a_name_is_trimmed_and_lower_cased_and_may_be_two_words_or_another_alphabet():
    assert points_name_from_dict({"singular": " Gold Coin ", "plural": "gold coins"}) == (
        PointsName("gold coin", "gold coins")
    )
    assert points_name_from_dict({"singular": "étoile", "plural": "étoiles"}).plural == "étoiles"


def test_the_program_json_carries_the_name_only_when_it_is_not_the_default():
    named = program_from_dict({"points_name": {"singular": "bean", "plural": "beans"}})
    assert named.points_name == PointsName("bean", "beans")
    assert named.to_dict()["points_name"] == {"singular": "bean", "plural": "beans"}
    assert program_from_dict(named.to_dict()) == named
    # the default stays out of the stored JSON, so versions saved before are unchanged
    assert "points_name" not in program_from_dict({}).to_dict()
    default = {"points_name": {"singular": "point", "plural": "points"}}
    assert "points_name" not in program_from_dict(default).to_dict()


def test_a_bad_name_in_the_program_names_its_path():
    with pytest.raises(RulesError) as caught:
        program_from_dict({"points_name": {"singular": "star", "plural": "5tars"}})
    assert caught.value.field == "points_name.plural"


@pytest.mark.parametrize(
    ("text", "renamed"),
    [
        (
            "Points expired after 12 months without activity",
            "Stars expired after 12 months without activity",
        ),
        ("Order points", "Order stars"),
        ("1 point left", "1 star left"),
        ("Pointsettia is not a word we change", "Pointsettia is not a word we change"),
        ("Purchase #1001", "Purchase #1001"),
        ("", ""),
    ],
)
def test_a_stored_text_is_read_in_the_shops_words(text, renamed):
    assert STARS.rename(text) == renamed
    assert DEFAULT_POINTS_NAME.rename(text) == text
