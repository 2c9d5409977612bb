"""A shop's VIP tiers and cash-back settings, and the pure calculations on them.

Pure: standard library only (plus the pure ``earning.policies`` calendar helpers), no
Django, no I/O. The stored/API JSON of a definition is read by ``tier_program_from_dict``,
which reports every problem at once, each under the path of its field
(``tiers[1].threshold``), so the API and the merchant admin show the same messages.

The definition
==============
- ``metric``: what qualifies a member: ``points_earned``, ``amount_spent`` (the shop's
  currency) or ``orders_count``.
- ``period``: over which time the metric counts: ``lifetime``, ``calendar_year`` (1 January
  to 31 December in the shop's time zone) or ``rolling_12_months`` (the 12 months before
  the moment of evaluation).
- ``retention``: a member keeps the tier that the previous period gave them through the
  following period (see ``period_windows``); with ``lifetime`` there is no previous period.
- ``tiers``: ordered from the lowest. Names are unique without regard to case (campaigns
  name tiers that way). Entry thresholds are strictly ascending: whole numbers for points
  and orders, money for the amount spent. A first tier with threshold 0 holds every member.
- per tier: ``earn_multiplier`` (>= 1), ``cashback_rate`` (percent, null: the program's),
  ``entry_reward`` (null, ``{"points": n}`` or ``{"reward_id": id}``), ``perks`` (short
  texts shown to shoppers), ``customer_tag`` (a tag set on the customer in the shop).
- ``cashback``: ``enabled``, ``rate`` (percent of the net spend for every member) and
  ``delivery`` (``store_credit`` or ``discount_code``). A tier's own rate overrides it.

A member's tier is the highest tier whose threshold their metric reaches (``tier_for``);
with retention, the higher of that and the tier the previous period's metric reached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

from loyalty_app.earning.policies import add_months

Metric = Literal["points_earned", "amount_spent", "orders_count"]
METRICS: tuple[str, ...] = ("points_earned", "amount_spent", "orders_count")
Period = Literal["lifetime", "calendar_year", "rolling_12_months"]
PERIODS: tuple[str, ...] = ("lifetime", "calendar_year", "rolling_12_months")
Delivery = Literal["store_credit", "discount_code"]
DELIVERIES: tuple[str, ...] = ("store_credit", "discount_code")

MAX_TIERS = 20
MAX_NAME_LENGTH = 100
MAX_PERKS = 10
MAX_PERK_LENGTH = 200
MAX_TAG_LENGTH = 255
MAX_ENTRY_POINTS = 1_000_000
MAX_MULTIPLIER = Decimal("100")
MAX_RATE = Decimal("100")
MAX_THRESHOLD = 10**12
MULTIPLIER_PLACES = 4
RATE_PLACES = 4
AMOUNT_PLACES = 4
ZERO = Decimal("0")
ONE = Decimal("1")


class ConfigError(ValueError):
    """A definition is not acceptable. ``errors`` maps field paths to their messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors = {path: list(messages) for path, messages in errors.items()}
        first = next(iter(self.errors.items()), ("", ["invalid"]))
        super().__init__(f"{first[0]}: {first[1][0]}" if first[0] else first[1][0])


class Problems:
    """Collects every problem of one definition, so a form can show them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path or "non_field_errors", []).append(message)

    def __contains__(self, path: str) -> bool:
        return path in self.errors

    def raise_if_any(self) -> None:
        if self.errors:
            raise ConfigError(self.errors)


# --- reading values; each returns None after recording a problem ---------------------


def read_decimal(
    problems: Problems,
    path: str,
    value: object,
    *,
    minimum: Decimal,
    maximum: Decimal | None = None,
    places: int,
    above_minimum: bool = False,
) -> Decimal | None:
    """A decimal from JSON text or a number. A JSON float is read by its shortest text
    (0.1 -> "0.1"), never by its binary value."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        problems.add(path, "must be a decimal number")
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        problems.add(path, "must be a decimal number")
        return None
    if not number.is_finite():
        problems.add(path, "must be a decimal number")
        return None
    if above_minimum and number <= minimum:
        problems.add(path, f"must be more than {minimum}")
        return None
    if number < minimum:
        problems.add(path, f"must be at least {minimum}")
        return None
    if maximum is not None and number > maximum:
        problems.add(path, f"must be at most {maximum}")
        return None
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        problems.add(path, f"must have at most {places} decimal places")
        return None
    # Canonical text: "5.00" and "5" are one value, so an unchanged form saves nothing new.
    normalized = number.normalize()
    return normalized.quantize(ONE) if normalized == normalized.to_integral() else normalized


def read_int(
    problems: Problems, path: str, value: object, *, minimum: int, maximum: int | None = None
) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, "must be a whole number")
        return None
    if value < minimum:
        problems.add(path, f"must be at least {minimum}")
        return None
    if maximum is not None and value > maximum:
        problems.add(path, f"must be at most {maximum}")
        return None
    return value


def read_bool(problems: Problems, path: str, value: object) -> bool | None:
    if not isinstance(value, bool):
        problems.add(path, "must be true or false")
        return None
    return value


def read_choice(problems: Problems, path: str, value: object, choices: Sequence[str]) -> str | None:
    if not isinstance(value, str) or value not in choices:
        problems.add(path, f"must be one of {', '.join(choices)}")
        return None
    return value


def read_text(
    problems: Problems, path: str, value: object, *, max_length: int, required: bool = False
) -> str | None:
    """Text, trimmed. ``required``: not empty."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        problems.add(path, "must be text")
        return None
    text = value.strip()
    if required and not text:
        problems.add(path, "must not be empty")
        return None
    if len(text) > max_length:
        problems.add(path, f"must be at most {max_length} characters")
        return None
    return text


# A shop's customer tags are a comma-separated list, so a tag cannot hold a comma; the
# platform trims them and allows 255 characters.
_TAG_FORBIDDEN = re.compile(r"[,\x00-\x1f\x7f]")


def read_customer_tag(problems: Problems, path: str, value: object) -> str | None:
    tag = read_text(problems, path, value, max_length=MAX_TAG_LENGTH)
    if tag and _TAG_FORBIDDEN.search(tag):
        problems.add(path, "must not contain commas or control characters")
        return None
    return tag


def unknown_keys(
    problems: Problems, data: Mapping[str, Any], known: Sequence[str], prefix: str = ""
) -> None:
    for key in data:
        if key not in known:
            problems.add(f"{prefix}{key}", "unknown field")


# --- the definition -------------------------------------------------------------------


@dataclass(frozen=True)
class EntryReward:
    """Given once when a member first reaches the tier: points, or a catalog reward."""

    points: int | None = None
    reward_id: int | None = None

    def to_dict(self) -> dict[str, int]:
        return (
            {"points": self.points}
            if self.points is not None
            else {"reward_id": self.reward_id or 0}
        )


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: int | Decimal
    earn_multiplier: Decimal = ONE
    cashback_rate: Decimal | None = None
    entry_reward: EntryReward | None = None
    perks: tuple[str, ...] = ()
    customer_tag: str = ""

    @property
    def key(self) -> str:
        return self.name.casefold()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "threshold": self.threshold if isinstance(self.threshold, int) else str(self.threshold),
            "earn_multiplier": str(self.earn_multiplier),
            "cashback_rate": None if self.cashback_rate is None else str(self.cashback_rate),
            "entry_reward": None if self.entry_reward is None else self.entry_reward.to_dict(),
            "perks": list(self.perks),
            "customer_tag": self.customer_tag,
        }


@dataclass(frozen=True)
class Cashback:
    enabled: bool = False
    rate: Decimal = ZERO
    delivery: Delivery = "store_credit"

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "rate": str(self.rate), "delivery": self.delivery}


@dataclass(frozen=True)
class TierProgramConfig:
    """A shop's tiers and cash-back. ``TierProgramConfig()``: no tiers, no cash-back.

    Built by ``tier_program_from_dict``, which checks every invariant: ``tiers`` ascend
    strictly by threshold, names are unique without regard to case.
    """

    metric: Metric = "points_earned"
    period: Period = "lifetime"
    retention: bool = False
    tiers: tuple[Tier, ...] = ()
    cashback: Cashback = field(default_factory=Cashback)

    def tier(self, name: str | None) -> Tier | None:
        """The tier with this name (without regard to case), or None."""
        if not name:
            return None
        key = name.strip().casefold()
        return next((t for t in self.tiers if t.key == key), None)

    def cashback_rate(self, tier_name: str | None) -> Decimal:
        """The cash-back percent a member of this tier gets (0 when cash-back is off)."""
        if not self.cashback.enabled:
            return ZERO
        tier = self.tier(tier_name)
        if tier is not None and tier.cashback_rate is not None:
            return tier.cashback_rate
        return self.cashback.rate

    def earn_multiplier(self, tier_name: str | None) -> Decimal:
        tier = self.tier(tier_name)
        return tier.earn_multiplier if tier is not None else ONE

    @property
    def uses_money(self) -> bool:
        return self.metric == "amount_spent"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "period": self.period,
            "retention": self.retention,
            "tiers": [tier.to_dict() for tier in self.tiers],
            "cashback": self.cashback.to_dict(),
        }


DEFAULT_TIER_PROGRAM = TierProgramConfig()

_PROGRAM_KEYS = ("metric", "period", "retention", "tiers", "cashback")
_TIER_KEYS = (
    "name",
    "threshold",
    "earn_multiplier",
    "cashback_rate",
    "entry_reward",
    "perks",
    "customer_tag",
)
_ENTRY_REWARD_KEYS = ("points", "reward_id")
_CASHBACK_KEYS = ("enabled", "rate", "delivery")


def _threshold(problems: Problems, path: str, value: object, metric: str) -> int | Decimal | None:
    if value is None:
        problems.add(path, "is required")
        return None
    if metric == "amount_spent":
        return read_decimal(
            problems,
            path,
            value,
            minimum=ZERO,
            maximum=Decimal(MAX_THRESHOLD),
            places=AMOUNT_PLACES,
        )
    return read_int(problems, path, value, minimum=0, maximum=MAX_THRESHOLD)


def _entry_reward(problems: Problems, path: str, value: object) -> EntryReward | None:
    if value is None or value == {}:
        return None
    if not isinstance(value, Mapping):
        problems.add(path, 'must be null, {"points": n} or {"reward_id": id}')
        return None
    unknown_keys(problems, value, _ENTRY_REWARD_KEYS, f"{path}.")
    given = [key for key in _ENTRY_REWARD_KEYS if value.get(key) is not None]
    if len(given) != 1:
        problems.add(path, "give either points or reward_id")
        return None
    if given[0] == "points":
        points = read_int(
            problems, f"{path}.points", value["points"], minimum=1, maximum=MAX_ENTRY_POINTS
        )
        return None if points is None else EntryReward(points=points)
    reward_id = read_int(problems, f"{path}.reward_id", value["reward_id"], minimum=1)
    return None if reward_id is None else EntryReward(reward_id=reward_id)


def _perks(problems: Problems, path: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        problems.add(path, "must be a list of texts")
        return ()
    if len(value) > MAX_PERKS:
        problems.add(path, f"at most {MAX_PERKS} perks")
        return ()
    perks: list[str] = []
    for i, raw in enumerate(value):
        perk = read_text(problems, f"{path}[{i}]", raw, max_length=MAX_PERK_LENGTH, required=True)
        if perk:
            perks.append(perk)
    return tuple(perks)


def _tier(
    problems: Problems, path: str, data: object, metric: str
) -> tuple[Tier | None, str | None, int | Decimal | None]:
    """The tier, or None when a field is wrong; its name and threshold when those are
    right, so the checks across tiers still run."""
    if not isinstance(data, Mapping):
        problems.add(path, "must be an object")
        return None, None, None
    unknown_keys(problems, data, _TIER_KEYS, f"{path}.")
    name = read_text(
        problems, f"{path}.name", data.get("name"), max_length=MAX_NAME_LENGTH, required=True
    )
    threshold = _threshold(problems, f"{path}.threshold", data.get("threshold"), metric)
    multiplier = read_decimal(
        problems,
        f"{path}.earn_multiplier",
        data.get("earn_multiplier", "1"),
        minimum=ONE,
        maximum=MAX_MULTIPLIER,
        places=MULTIPLIER_PLACES,
    )
    rate = data.get("cashback_rate")
    cashback_rate = (
        None
        if rate is None
        else read_decimal(
            problems,
            f"{path}.cashback_rate",
            rate,
            minimum=ZERO,
            maximum=MAX_RATE,
            places=RATE_PLACES,
        )
    )
    entry_reward = _entry_reward(problems, f"{path}.entry_reward", data.get("entry_reward"))
    perks = _perks(problems, f"{path}.perks", data.get("perks"))
    tag = read_customer_tag(problems, f"{path}.customer_tag", data.get("customer_tag"))
    if name is None or threshold is None or multiplier is None or tag is None:
        return None, name, threshold
    if rate is not None and cashback_rate is None:
        return None, name, threshold
    return (
        Tier(
            name=name,
            threshold=threshold,
            earn_multiplier=multiplier,
            cashback_rate=cashback_rate,
            entry_reward=entry_reward,
            perks=perks,
            customer_tag=tag,
        ),
        name,
        threshold,
    )


def _cashback(problems: Problems, data: object) -> Cashback:
    if data is None:
        return Cashback()
    if not isinstance(data, Mapping):
        problems.add("cashback", "must be an object")
        return Cashback()
    unknown_keys(problems, data, _CASHBACK_KEYS, "cashback.")
    enabled = read_bool(problems, "cashback.enabled", data.get("enabled", False))
    rate = read_decimal(
        problems,
        "cashback.rate",
        data.get("rate", "0"),
        minimum=ZERO,
        maximum=MAX_RATE,
        places=RATE_PLACES,
    )
    delivery = read_choice(
        problems, "cashback.delivery", data.get("delivery", "store_credit"), DELIVERIES
    )
    return Cashback(
        enabled=bool(enabled),
        rate=rate if rate is not None else ZERO,
        delivery=delivery or "store_credit",  # type: ignore[arg-type]
    )


def tier_program_from_dict(data: object) -> TierProgramConfig:
    """The stored/API JSON of a shop's tiers and cash-back -> ``TierProgramConfig``.

    Missing keys take their defaults; unknown keys are refused. Raises ``ConfigError``
    with every problem found, each under its field's path.
    """
    problems = Problems()
    if not isinstance(data, Mapping):
        raise ConfigError({"non_field_errors": ["must be an object"]})
    unknown_keys(problems, data, _PROGRAM_KEYS)
    metric = read_choice(problems, "metric", data.get("metric", "points_earned"), METRICS)
    period = read_choice(problems, "period", data.get("period", "lifetime"), PERIODS)
    retention = read_bool(problems, "retention", data.get("retention", False))
    raw_tiers = data.get("tiers", [])
    tiers: list[Tier] = []
    if not isinstance(raw_tiers, list | tuple):
        problems.add("tiers", "must be a list")
    elif len(raw_tiers) > MAX_TIERS:
        problems.add("tiers", f"at most {MAX_TIERS} tiers")
    elif metric is not None:
        seen: dict[str, int] = {}
        previous: int | Decimal | None = None
        for i, raw in enumerate(raw_tiers):
            tier, name, threshold = _tier(problems, f"tiers[{i}]", raw, metric)
            if name:
                key = name.casefold()
                if key in seen:
                    problems.add(f"tiers[{i}].name", f"'{name}' is already tiers[{seen[key]}]")
                seen.setdefault(key, i)
            if threshold is not None and previous is not None and threshold <= previous:
                problems.add(
                    f"tiers[{i}].threshold",
                    f"must be above the threshold of tiers[{i - 1}] ({previous}): "
                    "tiers go from the lowest to the highest",
                )
            previous = threshold
            if tier is not None:
                tiers.append(tier)
    if retention and period == "lifetime":
        problems.add("retention", "a lifetime period has no following period to keep a tier for")
    cashback = _cashback(problems, data.get("cashback"))
    problems.raise_if_any()
    return TierProgramConfig(
        metric=metric,  # type: ignore[arg-type]
        period=period,  # type: ignore[arg-type]
        retention=bool(retention),
        tiers=tuple(tiers),
        cashback=cashback,
    )


# --- calculations ---------------------------------------------------------------------


@dataclass(frozen=True)
class Windows:
    """Where the metric counts, as [start, end) in UTC; ``start`` None: since ever.
    ``previous``: the period before, for retention (None without retention)."""

    start: datetime | None
    end: datetime
    previous: tuple[datetime, datetime] | None = None


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def period_windows(config: TierProgramConfig, *, at: datetime, zone: ZoneInfo) -> Windows:
    """The period that counts at ``at`` (aware), and the previous one when retention is on.

    - lifetime: everything before ``at``;
    - calendar_year: from 1 January of ``at``'s year in the shop's time zone; the previous
      period is the whole previous year;
    - rolling_12_months: the 12 months before ``at``; the previous period is the 12 months
      before that (a member who reached a tier then keeps it for the 12 months that follow).
    """
    end = at.astimezone(UTC)
    if config.period == "lifetime":
        return Windows(start=None, end=end)
    if config.period == "calendar_year":
        year = at.astimezone(zone).year
        start = _local_midnight(date(year, 1, 1), zone)
        previous = (_local_midnight(date(year - 1, 1, 1), zone), start)
    else:
        start = add_months(end, -12)
        previous = (add_months(end, -24), start)
    return Windows(start=start, end=end, previous=previous if config.retention else None)


def tier_index(config: TierProgramConfig, value: int | Decimal) -> int | None:
    """The position of the highest tier whose threshold ``value`` reaches, or None."""
    found = None
    for i, tier in enumerate(config.tiers):
        if value >= tier.threshold:
            found = i
    return found


def tier_for(
    config: TierProgramConfig, value: int | Decimal, previous: int | Decimal | None = None
) -> Tier | None:
    """The tier a member holds with this metric; with ``previous`` (the previous period's
    metric, under retention) the higher of the two tiers."""
    index = tier_index(config, value)
    if previous is not None:
        kept = tier_index(config, previous)
        if kept is not None and (index is None or kept > index):
            index = kept
    return None if index is None else config.tiers[index]


@dataclass(frozen=True)
class Progress:
    """Where a member stands: the metric so far, their tier, the next one and what is
    missing to reach it (in the metric's unit; zero when there is no next tier)."""

    value: int | Decimal
    tier: Tier | None
    next_tier: Tier | None
    missing: int | Decimal
    retained: bool


def tier_progress(
    config: TierProgramConfig, value: int | Decimal, previous: int | Decimal | None = None
) -> Progress:
    """The member's tier and the next tier above it. A tier kept from the previous period
    (``retained``) counts as the current one; what is missing is measured from this
    period's metric."""
    reached = tier_index(config, value)
    tier = tier_for(config, value, previous)
    current = None if tier is None else config.tiers.index(tier)
    following = 0 if current is None else current + 1
    next_tier = config.tiers[following] if following < len(config.tiers) else None
    zero: int | Decimal = ZERO if config.uses_money else 0
    missing = max(zero, next_tier.threshold - value) if next_tier is not None else zero
    return Progress(
        value=value,
        tier=tier,
        next_tier=next_tier,
        missing=missing,
        retained=tier is not None and current != reached,
    )
