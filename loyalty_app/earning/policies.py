"""The rest of a shop's program: actions besides buying, when points become spendable, and
when they expire. Pure, like ``rules``: standard library only, no Django, no I/O.

A shop's program is one JSON object (``ProgramConfig``): the order-earning keys of
``rules.EarnRules`` plus ``actions``, ``pending_days`` and ``expiry``.

Actions
=======
Each action gives a fixed number of points, at most ``limit.count`` times per
``limit.period`` for one customer. Periods are calendar periods in the shop's time zone
(``year`` = 1 January to 31 December, ``week`` starts on Monday); ``lifetime`` means
ever. A period runs from local midnight to local midnight, so a day is 23 or 25 hours
long when the clocks change (``ActionLimit.window`` gives its bounds in UTC). An event
counts in the period of the moment it happened, not of when it was reported. With
``per_target`` the count applies to each target separately (one follow per social
network, one review per product); such an action needs a target. Built-in actions:

- ``signup``: joining the program (once);
- ``birthday``: awarded by a daily job on the member's birthday (once a year);
- ``newsletter``: subscribing to the newsletter (once);
- ``social_follow``: following the shop on a social network (once per network);
- ``product_review``: writing a product review (once per product);

and any custom action the merchant names (``key``: lower-case letters, digits, ``_``
and ``-``), reported through ``POST /api/v1/events``.

Pending points
==============
With ``pending_days`` = 0 (the default) an order's points are spendable as soon as the
order is paid. With N > 0 they stay pending until N days after the order was placed, then
a periodic job confirms them; a refund or cancellation before then cancels them without a
ledger entry, because nothing was spendable yet.

Expiry
======
Off by default. ``per_earning``: each earning expires ``months`` after it was credited,
less what was already spent from it; spending uses the oldest points first (first in,
first out). ``inactivity``: the whole balance expires ``months`` after the member's last
activity (an earning or a spending; refunds and expiries are not activity). A reminder
event is recorded ``reminder_days`` before (0: none).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from .points_name import DEFAULT_POINTS_NAME, PointsName, points_name_from_dict
from .rules import (
    MAX_NAME_LENGTH,
    EarnRules,
    RulesError,
    _check_bool,
    _check_int,
    _no_unknown_keys,
    _object,
    _with_prefix,
    rules_from_dict,
)

Period = Literal["lifetime", "year", "month", "week", "day"]
PERIODS: tuple[str, ...] = ("lifetime", "year", "month", "week", "day")
ExpiryMode = Literal["off", "per_earning", "inactivity"]
EXPIRY_MODES: tuple[str, ...] = ("off", "per_earning", "inactivity")

MAX_ACTION_POINTS = 1_000_000
MAX_ACTIONS = 50
MAX_LIMIT_COUNT = 10_000
MAX_PENDING_DAYS = 365
MAX_EXPIRY_MONTHS = 120
ACTION_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class ActionLimit:
    """At most ``count`` awards per ``period`` (per target when ``per_target``)."""

    count: int = 1
    period: Period = "lifetime"
    per_target: bool = False

    def __post_init__(self) -> None:
        _check_int("count", self.count, minimum=1, maximum=MAX_LIMIT_COUNT)
        if not isinstance(self.period, str) or self.period not in PERIODS:
            raise RulesError("period", f"must be one of {', '.join(PERIODS)}")
        _check_bool("per_target", self.per_target)

    def window(self, at: datetime, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """The period that contains ``at`` (aware), as [start, end) in UTC; lifetime: None.

        UTC because two datetimes sharing one ZoneInfo compare and subtract by wall clock
        (a 23-hour day would look like 24). A midnight the clocks skip is read with the
        offset before the change, which is the instant of the change: the day's start.
        """
        local = at.astimezone(zone)
        day = local.date()
        if self.period == "lifetime":
            return None, None
        if self.period == "year":
            start, end = date(day.year, 1, 1), date(day.year + 1, 1, 1)
        elif self.period == "month":
            start = day.replace(day=1)
            end = add_months_to_date(start, 1)
        elif self.period == "week":
            start = day - timedelta(days=day.weekday())
            end = start + timedelta(days=7)
        else:
            start, end = day, day + timedelta(days=1)
        return _midnight(start, zone), _midnight(end, zone)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "period": self.period, "per_target": self.per_target}


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class ActionRule:
    key: str
    points: int
    limit: ActionLimit = field(default_factory=ActionLimit)
    name: str = ""
    enabled: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not ACTION_KEY.match(self.key):
            raise RulesError(
                "key",
                "must be 1-64 lower-case letters, digits, '_' or '-', starting with a "
                "letter or digit",
            )
        _check_int("points", self.points, minimum=1, maximum=MAX_ACTION_POINTS)
        if not isinstance(self.name, str) or len(self.name) > MAX_NAME_LENGTH:
            raise RulesError("name", f"must be text of at most {MAX_NAME_LENGTH} characters")
        _check_bool("enabled", self.enabled)
        if not isinstance(self.limit, ActionLimit):
            raise RulesError("limit", "must be a limit")

    @property
    def label(self) -> str:
        return self.name or BUILTIN_ACTIONS.get(self.key, self.key.replace("_", " "))

    def reason(self, target: str = "") -> str:
        """What a ledger entry for this action says ("Wrote a product review (sku-1)")."""
        text = self.name or BUILTIN_REASONS.get(self.key) or self.key.replace("_", " ")
        text = text[:1].upper() + text[1:]
        return f"{text} ({target})" if target else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "points": self.points,
            "limit": self.limit.to_dict(),
            "enabled": self.enabled,
        }


BUILTIN_ACTIONS: dict[str, str] = {
    "signup": "Join the program",
    "birthday": "Birthday",
    "newsletter": "Sign up for the newsletter",
    "social_follow": "Follow us",
    "product_review": "Write a product review",
}
# Awarded by the app itself (on joining, on the birthday), never for a target.
UNTARGETED_ACTIONS = frozenset({"signup", "birthday"})
BUILTIN_REASONS: dict[str, str] = {
    "signup": "Joined the program",
    "birthday": "Happy birthday",
    "newsletter": "Signed up for the newsletter",
    "social_follow": "Followed us",
    "product_review": "Wrote a product review",
}
BUILTIN_LIMITS: dict[str, ActionLimit] = {
    "signup": ActionLimit(1, "lifetime"),
    "birthday": ActionLimit(1, "year"),
    "newsletter": ActionLimit(1, "lifetime"),
    "social_follow": ActionLimit(1, "lifetime", per_target=True),
    "product_review": ActionLimit(1, "lifetime", per_target=True),
}


@dataclass(frozen=True)
class ExpiryPolicy:
    mode: ExpiryMode = "off"
    months: int = 12
    reminder_days: int = 30

    def __post_init__(self) -> None:
        if not isinstance(self.mode, str) or self.mode not in EXPIRY_MODES:
            raise RulesError("mode", f"must be one of {', '.join(EXPIRY_MODES)}")
        _check_int("months", self.months, minimum=1, maximum=MAX_EXPIRY_MONTHS)
        _check_int("reminder_days", self.reminder_days, minimum=0, maximum=365)

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "months": self.months, "reminder_days": self.reminder_days}


@dataclass(frozen=True)
class ProgramConfig:
    """A shop's whole program. ``ProgramConfig()`` is the default program.

    ``enabled`` False pauses the program: orders placed and actions done while it is
    paused earn nothing (points already earned stay, expire and can be spent as usual).
    ``points_name`` is what the shop calls its points (``points_name.py``); it is written
    to the JSON only when it is not the default, so older versions stay canonical.
    """

    earn: EarnRules = field(default_factory=EarnRules)
    actions: tuple[ActionRule, ...] = ()
    pending_days: int = 0
    expiry: ExpiryPolicy = field(default_factory=ExpiryPolicy)
    enabled: bool = True
    points_name: PointsName = DEFAULT_POINTS_NAME

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise RulesError("enabled", "must be true or false")
        _check_int("pending_days", self.pending_days, minimum=0, maximum=MAX_PENDING_DAYS)
        if not isinstance(self.actions, tuple):
            object.__setattr__(self, "actions", tuple(self.actions))
        if len(self.actions) > MAX_ACTIONS:
            raise RulesError("actions", f"at most {MAX_ACTIONS} actions")
        seen: set[str] = set()
        for i, action in enumerate(self.actions):
            if action.key in seen:
                raise RulesError(f"actions[{i}].key", f"'{action.key}' appears twice")
            seen.add(action.key)

    def action(self, key: str) -> ActionRule | None:
        """The enabled action with this key, or None (always None while paused)."""
        if not self.enabled:
            return None
        for action in self.actions:
            if action.key == key and action.enabled:
                return action
        return None

    def to_dict(self) -> dict[str, Any]:
        data = {
            **self.earn.to_dict(),
            "actions": [action.to_dict() for action in self.actions],
            "pending_days": self.pending_days,
            "expiry": self.expiry.to_dict(),
            "enabled": self.enabled,
        }
        if not self.points_name.is_default:
            data["points_name"] = self.points_name.to_dict()
        return data


DEFAULT_PROGRAM = ProgramConfig()

_POLICY_KEYS = ("actions", "pending_days", "expiry", "enabled", "points_name")
_ACTION_KEYS = ("key", "name", "points", "limit", "enabled")
_LIMIT_KEYS = ("count", "period", "per_target")
_EXPIRY_KEYS = ("mode", "months", "reminder_days")


def limit_from_dict(data: object) -> ActionLimit:
    data = _object(data)
    _no_unknown_keys(data, _LIMIT_KEYS)
    return ActionLimit(**dict(data))


def action_from_dict(data: object) -> ActionRule:
    data = _object(data)
    _no_unknown_keys(data, _ACTION_KEYS)
    key = data.get("key")
    if key is None:
        raise RulesError("key", "is required")
    if not isinstance(key, str):  # before it is used to look up the built-in limits
        raise RulesError("key", "must be text")
    if data.get("points") is None:
        raise RulesError("points", "is required")
    limit = (
        _with_prefix("limit", limit_from_dict, data["limit"])
        if data.get("limit") is not None
        else BUILTIN_LIMITS.get(key, ActionLimit())
    )
    if key in UNTARGETED_ACTIONS and limit.per_target:
        raise RulesError("limit.per_target", f"'{key}' has no target")
    name = data.get("name")
    return ActionRule(
        key=key,
        points=data["points"],
        limit=limit,
        name="" if name is None else name,
        enabled=data.get("enabled", True),
    )


def expiry_from_dict(data: object) -> ExpiryPolicy:
    data = _object(data)
    _no_unknown_keys(data, _EXPIRY_KEYS)
    return ExpiryPolicy(**dict(data))


def program_from_dict(data: object) -> ProgramConfig:
    """The stored/API JSON of a shop's program; ``RulesError`` names the field."""
    data = _object(data)
    earn = rules_from_dict({k: v for k, v in data.items() if k not in _POLICY_KEYS})
    raw_actions = data.get("actions", [])
    if not isinstance(raw_actions, list | tuple):
        raise RulesError("actions", "must be a list")
    if len(raw_actions) > MAX_ACTIONS:
        raise RulesError("actions", f"at most {MAX_ACTIONS} actions")
    actions = tuple(
        _with_prefix(f"actions[{i}]", action_from_dict, raw) for i, raw in enumerate(raw_actions)
    )
    expiry = (
        _with_prefix("expiry", expiry_from_dict, data["expiry"])
        if data.get("expiry") is not None
        else ExpiryPolicy()
    )
    points_name = (
        _with_prefix("points_name", points_name_from_dict, data["points_name"])
        if data.get("points_name") is not None
        else DEFAULT_POINTS_NAME
    )
    return ProgramConfig(
        earn=earn,
        actions=actions,
        pending_days=data.get("pending_days", 0),
        expiry=expiry,
        enabled=data.get("enabled", True),
        points_name=points_name,
    )


# --- calendar arithmetic ------------------------------------------------------------


def add_months_to_date(day: date, months: int) -> date:
    """``day`` moved by whole calendar months; the 31st becomes the month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_months(moment: datetime, months: int) -> datetime:
    moved = add_months_to_date(moment.date(), months)
    return moment.replace(year=moved.year, month=moved.month, day=moved.day)


def birthday_in_year(month: int, day: int, year: int) -> date:
    """The date a birthday falls on in ``year`` (29 February is the 28th in other years)."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


# --- expiry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsMove:
    """One ledger entry as expiry sees it. ``source`` groups the entries of one order
    (``"order:123"``); other entries have a source of their own (empty is fine)."""

    points: int
    at: datetime
    kind: str
    source: str = ""


@dataclass(frozen=True)
class Lot:
    """Points still unspent from one earning, and when they expire."""

    points: int
    earned_at: datetime
    expires_at: datetime


ORDER_KIND = "order"
EXPIRY_KIND = "expiry"


def _credits_and_debits(moves: Iterable[PointsMove]) -> tuple[list[tuple[datetime, int]], int]:
    """Earnings (date, points) and the total spent. An order's entries are netted first, so
    a refund cancels the order's own points rather than older ones; the earning is dated
    by the order's first credit."""
    credits: list[tuple[datetime, int]] = []
    debits = 0
    orders: dict[str, list[PointsMove]] = {}
    for move in moves:
        if move.kind == ORDER_KIND and move.source:
            orders.setdefault(move.source, []).append(move)
        elif move.points > 0:
            credits.append((move.at, move.points))
        else:
            debits += -move.points
    for entries in orders.values():
        net = sum(m.points for m in entries)
        if net > 0:
            credits.append((min(m.at for m in entries if m.points > 0), net))
        else:
            debits += -net
    credits.sort()
    return credits, debits


def unspent_lots(moves: Iterable[PointsMove], months: int) -> list[Lot]:
    """What is left of each earning after spending (oldest first), with its expiry date."""
    credits, debits = _credits_and_debits(moves)
    lots: list[Lot] = []
    for at, points in credits:
        used = min(points, debits)
        debits -= used
        if points - used:
            lots.append(Lot(points=points - used, earned_at=at, expires_at=add_months(at, months)))
    return lots


def points_expiring(
    moves: Sequence[PointsMove], policy: ExpiryPolicy, *, at: datetime, balance: int
) -> tuple[int, datetime | None]:
    """(points that have expired by ``at`` and are not yet written off, when they expired).

    Never more than the balance. Applying the result (an expiry entry of -points) and
    asking again gives 0: this is what makes the expiry job idempotent.
    """
    if not policy.enabled or balance <= 0:
        return 0, None
    if policy.mode == "per_earning":
        due = [lot for lot in unspent_lots(moves, policy.months) if lot.expires_at <= at]
        if not due:
            return 0, None
        return min(balance, sum(lot.points for lot in due)), max(lot.expires_at for lot in due)
    last = last_activity(moves)
    if last is None:
        return 0, None
    expires_at = add_months(last, policy.months)
    return (balance, expires_at) if expires_at <= at else (0, None)


def next_expiry(
    moves: Sequence[PointsMove], policy: ExpiryPolicy, *, at: datetime, balance: int
) -> tuple[int, datetime] | None:
    """The next points to expire after ``at`` and when, or None: what a reminder says."""
    if not policy.enabled or balance <= 0:
        return None
    if policy.mode == "per_earning":
        lots = unspent_lots(moves, policy.months)
        upcoming = [lot for lot in lots if lot.expires_at > at]
        if not upcoming:
            return None
        first = min(lot.expires_at for lot in upcoming)
        already = sum(lot.points for lot in lots if lot.expires_at <= at)
        points = sum(lot.points for lot in upcoming if lot.expires_at == first)
        points = min(points, balance - min(balance, already))
        return (points, first) if points > 0 else None
    last = last_activity(moves)
    if last is None:
        return None
    expires_at = add_months(last, policy.months)
    return (balance, expires_at) if expires_at > at else None


def last_activity(moves: Iterable[PointsMove]) -> datetime | None:
    """The last earning or spending: refunds of orders and expiries do not count."""
    times = [
        m.at for m in moves if m.kind != EXPIRY_KIND and not (m.kind == ORDER_KIND and m.points < 0)
    ]
    return max(times) if times else None


def program_summary(config: ProgramConfig) -> Mapping[str, Any]:
    """Short facts about the program for a shopper-facing page."""
    return {
        "pending_days": config.pending_days,
        "expiry": config.expiry.to_dict() if config.expiry.enabled else None,
        "actions": [
            {"key": a.key, "name": a.label, "points": a.points, "limit": a.limit.to_dict()}
            for a in config.actions
            if a.enabled
        ],
    }
