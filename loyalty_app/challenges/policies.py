"""The rules of challenges and badges: the one place a definition is checked, and the
pure counting of a member's progress.

Pure: standard library only (and the pure readers of ``tiers.policies``), no Django, no
I/O. ``challenge_from_dict`` reads the API/admin JSON of one challenge and reports every
problem at once, each under its field's name, so the API and the admin form show the same
messages. What needs the database (the reward and the badge named, the shop's actions) is
checked by ``challenges.services``.

Building blocks (``block`` and its fields)
==========================================
- ``orders_count``: ``orders`` counted orders (1-1000) placed in the challenge's dates.
- ``amount_spent``: spend ``amount`` (money in the shop's currency, more than 0) over the
  counted orders placed in the dates: merchandise after discounts and refunds, gift
  cards, shipping and tax excluded (the amount points are earned on).
- ``distinct_categories``: buy from ``count`` (1-50) different product types
  (``dimension`` ``product_type``) or collections (``collection``) in the dates. ``among``
  lists the ones that count (names, handles or ids): required for collections (a product
  sits in many collections, "Sale" or "All" among them, so any collection would be too
  easy), optional for product types (empty: any product type). A line counts while some
  of it is not refunded; gift cards never count.
- ``monthly_streak``: an order in each of ``months`` (2-24) consecutive calendar months in
  the shop's time zone, within the dates: the longest run counts.
- ``actions``: complete each of ``actions`` (1-10 keys of the program's actions: a
  product review, the birthday, the newsletter, a custom action) in the dates; an action
  counts when it was awarded (not refused by its limit).

A counted order is paid, not cancelled, not fully refunded, not a test, has something
left after its refunds, and was placed from ``starts_on`` 00:00 to ``ends_on`` 24:00 in
the shop's time zone.

Rewards: ``reward_points`` (credited with a ``challenge`` ledger entry), ``reward_id`` (a
catalog reward given for no points) and ``badge_id``, at least one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loyalty_app.tiers.policies import (
    ConfigError,
    Problems,
    read_choice,
    read_decimal,
    read_int,
    read_text,
    unknown_keys,
)

BLOCKS: tuple[str, ...] = (
    "orders_count",
    "amount_spent",
    "distinct_categories",
    "monthly_streak",
    "actions",
)
BLOCK_LABELS = {
    "orders_count": "Place N orders",
    "amount_spent": "Spend an amount",
    "distinct_categories": "Buy from N different product types or collections",
    "monthly_streak": "Order in N consecutive months",
    "actions": "Complete actions",
}
BLOCK_FIELDS: dict[str, tuple[str, ...]] = {
    "orders_count": ("orders",),
    "amount_spent": ("amount",),
    "distinct_categories": ("dimension", "count", "among"),
    "monthly_streak": ("months",),
    "actions": ("actions",),
}
DIMENSIONS: tuple[str, ...] = ("product_type", "collection")
COMMON_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "block",
    "starts_on",
    "ends_on",
    "reward_points",
    "reward_id",
    "badge_id",
)
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_ORDERS = 1000
MAX_MONEY = Decimal("1000000")
MONEY_PLACES = 2
MAX_DISTINCT = 50
MAX_AMONG = 100
MAX_AMONG_LENGTH = 255
MIN_STREAK = 2
MAX_STREAK = 24
MAX_ACTIONS = 10
MAX_POINTS = 10_000_000
MAX_DAYS = 3 * 366
ACTION_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# --- badges -------------------------------------------------------------------------------

# Built-in glyphs (24x24 SVG paths, drawn in the badge's colour): no image uploads, no
# emoji, the same look on every storefront.
BADGE_ICONS: dict[str, str] = {
    "star": "M12 2l3.1 6.3 6.9 1-5 4.9 1.2 6.8L12 17.8 5.8 21l1.2-6.8-5-4.9 6.9-1z",
    "trophy": "M7 3h10v3h4v3a5 5 0 0 1-5 5h-.3A5 5 0 0 1 13 16.9V19h4v2H7v-2h4v-2.1A5 5 0 "
    "0 1 8.3 14H8a5 5 0 0 1-5-5V6h4zm0 5H5v1a3 3 0 0 0 2 2.8zm10 0v3.8A3 3 0 0 0 19 9V8z",
    "heart": "M12 21l-1.5-1.3C5.4 15.1 2 12.1 2 8.4 2 5.4 4.4 3 7.4 3c1.7 0 3.4.8 4.6 2.1"
    "C13.2 3.8 14.9 3 16.6 3 19.6 3 22 5.4 22 8.4c0 3.7-3.4 6.7-8.5 11.3z",
    "bolt": "M13 2L4 14h6l-1 8 9-12h-6z",
    "leaf": "M20 3C10 3 4 8 4 16c0 1.4.3 2.7.8 3.9L3 21.7 4.3 23l1.8-1.8c1.2.5 2.5.8 3.9.8"
    " 8 0 13-6 13-16V3zM8 18c2-4 5-7 9-9-3 3-5.5 6-7 10z",
    "crown": "M3 7l4.5 4L12 4l4.5 7L21 7l-2 12H5zm2.4 14h13.2v2H5.4z",
}
BADGE_COLOURS: dict[str, str] = {
    "green": "#008060",
    "blue": "#2c6ecb",
    "purple": "#5c2d91",
    "gold": "#b98900",
    "red": "#d72c0d",
    "grey": "#5c5f62",
}
BADGE_FIELDS: tuple[str, ...] = ("name", "description", "icon", "colour")


@dataclass(frozen=True)
class BadgeSpec:
    name: str
    description: str
    icon: str
    colour: str


def badge_from_dict(data: object) -> BadgeSpec:
    """A badge's fields, or ``ConfigError`` naming each wrong one."""
    problems = Problems()
    if not isinstance(data, Mapping):
        raise ConfigError({"non_field_errors": ["must be an object"]})
    unknown_keys(problems, data, BADGE_FIELDS)
    name = read_text(problems, "name", data.get("name"), max_length=100, required=True)
    description = read_text(problems, "description", data.get("description"), max_length=500)
    icon = read_choice(problems, "icon", data.get("icon", "star"), tuple(BADGE_ICONS))
    colour = read_choice(problems, "colour", data.get("colour", "green"), tuple(BADGE_COLOURS))
    problems.raise_if_any()
    return BadgeSpec(
        name=name or "", description=description or "", icon=icon or "", colour=colour or ""
    )


# --- challenges ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChallengeSpec:
    """A checked definition. ``params`` holds the block's fields in canonical JSON form;
    ``starts_at``/``ends_at`` are the dates' bounds in UTC (end exclusive)."""

    name: str
    description: str
    block: str
    params: dict[str, Any]
    starts_on: date
    ends_on: date
    starts_at: datetime
    ends_at: datetime
    reward_points: int | None = None
    reward_id: int | None = None
    badge_id: int | None = None
    target: Decimal = Decimal(0)


def zone_of(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight of ``day`` in UTC (a midnight skipped by a clock change: the offset
    before the change)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def window_of(starts_on: date, ends_on: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``starts_on`` 00:00 to the end of ``ends_on`` (the next day's 00:00), in UTC."""
    return day_start(starts_on, zone), day_start(ends_on + timedelta(days=1), zone)


def _date(problems: Problems, path: str, value: object) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        problems.add(path, "must be a date (YYYY-MM-DD)")
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        problems.add(path, "must be a date (YYYY-MM-DD)")
        return None


def _optional_int(
    problems: Problems, data: Mapping[str, Any], name: str, *, minimum: int, maximum: int
) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    return read_int(problems, name, value, minimum=minimum, maximum=maximum)


def _int_field(problems: Problems, data: Mapping[str, Any], name: str, **bounds: int) -> int | None:
    value = data.get(name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return read_int(problems, name, value, **bounds)


def _names(problems: Problems, path: str, value: object, *, limit: int) -> list[str]:
    """A list of short texts (or one comma-separated text), trimmed, first seen first,
    compared without regard to case."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.add(path, "must be a list of names")
        return []
    seen: dict[str, str] = {}
    for item in value:
        text = item.strip()
        if not text:
            continue
        if len(text) > MAX_AMONG_LENGTH or "\x00" in text:
            problems.add(path, f"each must be at most {MAX_AMONG_LENGTH} characters")
            return []
        seen.setdefault(text.casefold(), text)
    if len(seen) > limit:
        problems.add(path, f"at most {limit}")
        return []
    return list(seen.values())


def _months_between(start: date, end: date) -> int:
    """Calendar months touched from ``start`` to ``end`` inclusive."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


def challenge_from_dict(data: object, *, tz_name: str = "UTC") -> ChallengeSpec:
    """Read one challenge (see the module's doc), or ``ConfigError`` naming every wrong
    field (block fields under their own names)."""
    if not isinstance(data, Mapping):
        raise ConfigError({"non_field_errors": ["must be an object"]})
    problems = Problems()
    block = read_choice(problems, "block", data.get("block"), BLOCKS)
    known = [*COMMON_FIELDS, *(BLOCK_FIELDS.get(block or "", ()))]
    unknown_keys(problems, data, known)
    name = read_text(problems, "name", data.get("name"), max_length=MAX_NAME, required=True)
    description = read_text(
        problems, "description", data.get("description"), max_length=MAX_DESCRIPTION
    )
    starts_on = _date(problems, "starts_on", data.get("starts_on"))
    ends_on = _date(problems, "ends_on", data.get("ends_on"))
    if starts_on and ends_on:
        if ends_on < starts_on:
            problems.add("ends_on", "must not be before starts_on")
        elif (ends_on - starts_on).days >= MAX_DAYS:
            problems.add("ends_on", "a challenge lasts at most 3 years")
    params: dict[str, Any] = {}
    target = Decimal(0)
    if block == "orders_count":
        orders = _int_field(problems, data, "orders", minimum=1, maximum=MAX_ORDERS)
        params, target = {"orders": orders}, Decimal(orders or 0)
    elif block == "amount_spent":
        amount = read_decimal(
            problems,
            "amount",
            data.get("amount"),
            minimum=Decimal(0),
            maximum=MAX_MONEY,
            places=MONEY_PLACES,
            above_minimum=True,
        )
        params = {"amount": str(amount.quantize(Decimal("0.01"))) if amount else None}
        target = amount.quantize(Decimal("0.01")) if amount else Decimal(0)
    elif block == "distinct_categories":
        dimension = read_choice(problems, "dimension", data.get("dimension"), DIMENSIONS)
        count = _int_field(problems, data, "count", minimum=1, maximum=MAX_DISTINCT)
        among = _names(problems, "among", data.get("among"), limit=MAX_AMONG)
        if dimension == "collection" and not among and "among" not in problems:
            problems.add("among", "list the collections that count (names, handles or ids)")
        elif among and count and len(among) < count:
            problems.add("among", f"list at least {count} to choose from")
        params = {"dimension": dimension, "count": count, "among": among}
        target = Decimal(count or 0)
    elif block == "monthly_streak":
        months = _int_field(problems, data, "months", minimum=MIN_STREAK, maximum=MAX_STREAK)
        if months and starts_on and ends_on and _months_between(starts_on, ends_on) < months:
            problems.add("months", f"the dates hold fewer than {months} calendar months")
        params, target = {"months": months}, Decimal(months or 0)
    elif block == "actions":
        keys = _names(problems, "actions", data.get("actions"), limit=MAX_ACTIONS)
        keys = [key.lower() for key in keys]
        if not keys and "actions" not in problems:
            problems.add("actions", "name at least one action")
        for key in keys:
            if not ACTION_KEY.match(key):
                problems.add("actions", f"'{key}' is not an action key")
        params, target = {"actions": keys}, Decimal(len(keys))
    reward_points = _optional_int(problems, data, "reward_points", minimum=1, maximum=MAX_POINTS)
    reward_id = _optional_int(problems, data, "reward_id", minimum=1, maximum=2**62)
    badge_id = _optional_int(problems, data, "badge_id", minimum=1, maximum=2**62)
    if (
        reward_points is None
        and reward_id is None
        and badge_id is None
        and not any(k in problems for k in ("reward_points", "reward_id", "badge_id"))
    ):
        problems.add("reward_points", "give points, a catalog reward or a badge (or several)")
    problems.raise_if_any()
    assert starts_on is not None and ends_on is not None and block is not None  # noqa: S101
    starts_at, ends_at = window_of(starts_on, ends_on, zone_of(tz_name))
    return ChallengeSpec(
        name=name or "",
        description=description or "",
        block=block,
        params=params,
        starts_on=starts_on,
        ends_on=ends_on,
        starts_at=starts_at,
        ends_at=ends_at,
        reward_points=reward_points,
        reward_id=reward_id,
        badge_id=badge_id,
        target=target,
    )


# --- counting progress --------------------------------------------------------------------


@dataclass(frozen=True)
class CountedLine:
    """What a line of a counted order brings: its product type and collection names (as
    stored with the order), and whether some of it is left after refunds."""

    product_type: str = ""
    collections: tuple[str, ...] = ()
    kept: bool = True


@dataclass(frozen=True)
class CountedOrder:
    """One counted order of the member (see the module's doc for which count)."""

    placed_at: datetime
    net_amount: Decimal
    confirmed: bool
    lines: tuple[CountedLine, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class DoneAction:
    action: str
    occurred_at: datetime


def _id(value: object) -> str:
    """A name as compared: the number of a global id, trimmed, without regard to case."""
    return str(value or "").strip().rsplit("/", 1)[-1].casefold()


def _in_window(moment: datetime, starts_at: datetime, ends_at: datetime) -> bool:
    return starts_at <= moment < ends_at


def _categories(block_params: Mapping[str, Any], orders: Iterable[CountedOrder]) -> int:
    wanted = [_id(name) for name in block_params.get("among") or ()]
    found: set[str] = set()
    for order in orders:
        for line in order.lines:
            if not line.kept:
                continue
            if block_params["dimension"] == "product_type":
                name = _id(line.product_type)
                if name and (not wanted or name in wanted):
                    found.add(name)
            else:
                names = {_id(c) for c in line.collections}
                # ``among`` names one collection per entry, by any of its names.
                found.update(w for w in wanted if w in names)
    return len(found)


def _month_index(moment: datetime, zone: ZoneInfo) -> int:
    local = moment.astimezone(zone)
    return local.year * 12 + local.month - 1


def _longest_run(months: set[int]) -> int:
    best = 0
    for month in months:
        if month - 1 in months:
            continue
        run = 1
        while month + run in months:
            run += 1
        best = max(best, run)
    return best


def progress_value(
    *,
    block: str,
    params: Mapping[str, Any],
    starts_at: datetime,
    ends_at: datetime,
    orders: Iterable[CountedOrder],
    actions: Iterable[DoneAction] = (),
    zone: ZoneInfo,
) -> Decimal:
    """The member's value for a challenge from their counted orders and awarded actions
    (those outside the dates are ignored here, so callers may pass a wider set)."""
    within = [o for o in orders if _in_window(o.placed_at, starts_at, ends_at)]
    if block == "orders_count":
        return Decimal(len(within))
    if block == "amount_spent":
        return sum((o.net_amount for o in within), Decimal(0)).quantize(Decimal("0.01"))
    if block == "distinct_categories":
        return Decimal(_categories(params, within))
    if block == "monthly_streak":
        return Decimal(_longest_run({_month_index(o.placed_at, zone) for o in within}))
    wanted = set(params.get("actions") or ())
    done = {
        a.action
        for a in actions
        if a.action in wanted and _in_window(a.occurred_at, starts_at, ends_at)
    }
    return Decimal(len(done))


def progress_text(
    *, block: str, params: Mapping[str, Any], value: Decimal, target: Decimal, currency: str
) -> str:
    """What the shopper reads: "2 of 3 orders", "Spend 40.00 USD more"."""
    if block == "amount_spent":
        missing = max(target - value, Decimal(0)).quantize(Decimal("0.01"))
        if missing <= 0:
            return f"Spent {target.quantize(Decimal('0.01'))} {currency}"
        return f"Spend {missing} {currency} more"
    count, of = int(min(value, target)), int(target)
    if block == "orders_count":
        return f"{count} of {of} {'order' if of == 1 else 'orders'}"
    if block == "distinct_categories":
        noun = "product types" if params.get("dimension") == "product_type" else "collections"
        return f"{count} of {of} {noun}"
    if block == "monthly_streak":
        return f"{count} of {of} months in a row"
    return f"{count} of {of} {'action' if of == 1 else 'actions'}"


def percent(value: Decimal, target: Decimal) -> int:
    if target <= 0:
        return 100
    return int(min(max(value / target * 100, Decimal(0)), Decimal(100)))
