"""What a shop calls its points ("star"/"stars", "bean"/"beans"). Pure: no Django, no I/O.

The name is part of the shop's program (``ProgramConfig.points_name``, JSON key
``points_name``: ``{"singular": "star", "plural": "stars"}``), so it is versioned and
validated with the rest of the program. Amounts stay integers everywhere; only the words
that go with them change. Every text a shopper or a merchant reads about an amount of
points goes through ``PointsName.amount`` (Python), the ``points`` template tag (admin
pages) or ``pts(n)`` (the widget, which receives the names in its state).

A name is 1-20 letters (any alphabet) in words separated by single spaces, stored
lower-case as given ("gold coin"/"gold coins"); the default is "point"/"points".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .rules import RulesError

MAX_POINTS_NAME_LENGTH = 20
_KEYS = ("singular", "plural")


def _check_name(field: str, value: object) -> None:
    if not isinstance(value, str):
        raise RulesError(field, "must be text")
    if not value or len(value) > MAX_POINTS_NAME_LENGTH:
        raise RulesError(field, f"must be 1-{MAX_POINTS_NAME_LENGTH} characters")
    words = value.split(" ")
    if any(not word or not word.isalpha() for word in words):
        raise RulesError(field, "must be letters, with single spaces between words")


@dataclass(frozen=True)
class PointsName:
    """The singular and plural word for a shop's points. Invariant: both are valid names
    (``_check_name``); ``PointsName()`` is the default, "point"/"points"."""

    singular: str = "point"
    plural: str = "points"

    def __post_init__(self) -> None:
        _check_name("singular", self.singular)
        _check_name("plural", self.plural)

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_POINTS_NAME

    def word(self, n: int) -> str:
        """The word for ``n`` points: the singular for 1 and -1, the plural otherwise."""
        return self.singular if abs(int(n)) == 1 else self.plural

    def amount(self, n: int) -> str:
        """``1,250 stars``, ``1 star``, ``-30 stars``."""
        return f"{int(n):,d} {self.word(n)}"

    def signed(self, n: int) -> str:
        """``+120 stars``, ``-50 stars``."""
        return f"{int(n):+,d} {self.word(n)}"

    def rename(self, text: str) -> str:
        """A stored text in the shop's words: "point(s)"/"Point(s)" as whole words become
        the shop's name ("Points expired after 12 months" -> "Stars expired after 12
        months"). For ledger reasons and kind labels written before or without the name;
        the ledger itself is never rewritten. Unchanged for the default name."""
        if self.is_default or not text:
            return text

        def word(match: re.Match[str]) -> str:
            found = match.group(0)
            new = self.plural if found.lower() == "points" else self.singular
            return new[:1].upper() + new[1:] if found[:1] == "P" else new

        return _POINT_WORD.sub(word, text)

    def to_dict(self) -> dict[str, str]:
        return {"singular": self.singular, "plural": self.plural}


_POINT_WORD = re.compile(r"\b[Pp]oints?\b")


DEFAULT_POINTS_NAME = PointsName()


def points_name_from_dict(data: object) -> PointsName:
    """``{"singular": "star", "plural": "stars"}``; both are required, surrounding spaces
    are dropped and the words are kept lower-case."""
    if not isinstance(data, dict):
        raise RulesError("", "must be an object with singular and plural")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise RulesError(unknown[0], "is not a known field")
    values = {}
    for key in _KEYS:
        value = data.get(key)
        if value is None:
            raise RulesError(key, "is required")
        values[key] = value.strip().lower() if isinstance(value, str) else value
    return PointsName(**values)
