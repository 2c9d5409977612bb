"""The rules of a shop's rewards catalog: the one place a reward's fields are checked.

Pure: standard library only (and the pure readers of ``tiers.policies``), no Django, no
I/O. ``reward_from_dict`` reads the API/admin JSON of one reward and reports every
problem at once, each under its field's name, so the API and the admin form show the same
messages. What needs the database (the tier names in force, the reward a punch card
grants) is passed in or checked by ``rewards.services``.

Kinds and their fields
======================
Every reward has ``title``, ``description``, ``active``, ``active_from`` and
``active_until`` (ISO 8601; without a UTC offset: the shop's wall-clock time),
``min_tier`` (a tier's name, or empty for everyone), ``per_customer_limit`` and
``stock_total`` (null: no limit), ``position`` (catalog order). Besides:

- ``fixed_amount``: ``value`` money off the order; ``percentage``: ``value`` percent off
  (0 < value <= 100); ``free_shipping``: ``value`` the most shipping it covers (null: any);
  ``free_product``: ``variant_id``. These four become a discount code: ``code_valid_days``
  (default 30), ``min_order_amount`` (null: none), ``return_points_if_unused`` (a code
  that expires unused gives its points back; default false) and, for amount and
  percentage off, ``collection_ids`` it is limited to (empty: the whole order).
- ``store_credit``: ``value`` credited to the customer's account.
- ``variable_credit``: the shopper chooses the points in steps of ``points_per_step``,
  each worth ``value_per_step``, from ``min_points`` (default one step) to ``max_points``;
  both bounds are whole steps. It has no ``points_cost``.
- ``donation``: ``value`` given to ``cause`` for each redemption.
- ``experience``: a request the merchant fulfils (``fulfilment_note`` is for them), which
  may set ``customer_tag`` on the customer.
- ``punch_card``: "buy ``punch_count``, get one": counted on orders of a product or a
  collection (``punch_target`` ``product``/``collection`` and ``punch_target_id``); when
  the card is full the member is granted ``punch_reward_id`` (a reward of the catalog).
  It has no ``points_cost``.

``points_cost`` is a whole number above 0 for every other kind, except a ``grant_only``
reward, which points never buy: it is only given by a punch card or a tier's entry reward.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loyalty_app.tiers.policies import (
    ConfigError,
    Problems,
    read_bool,
    read_choice,
    read_customer_tag,
    read_decimal,
    read_int,
    read_text,
    unknown_keys,
)

KINDS: tuple[str, ...] = (
    "fixed_amount",
    "percentage",
    "free_shipping",
    "free_product",
    "store_credit",
    "variable_credit",
    "donation",
    "experience",
    "punch_card",
)
CODE_KINDS = frozenset({"fixed_amount", "percentage", "free_shipping", "free_product"})
COLLECTION_KINDS = frozenset({"fixed_amount", "percentage"})
UNPRICED_KINDS = frozenset({"variable_credit", "punch_card"})
GRANTABLE_KINDS = frozenset(
    {"fixed_amount", "percentage", "free_shipping", "free_product", "store_credit", "experience"}
)
PUNCH_TARGETS: tuple[str, ...] = ("product", "collection")

MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_NOTE = 2000
MAX_CAUSE = 200
MAX_POINTS = 10_000_000
MAX_MONEY = Decimal("1000000")
MAX_PERCENT = Decimal("100")
MAX_CODE_DAYS = 3650
MAX_LIMIT = 1_000_000
MAX_STOCK = 100_000_000
MAX_COLLECTIONS = 100
MAX_PUNCH_COUNT = 100
MONEY_PLACES = 4
PERCENT_PLACES = 2
DEFAULT_CODE_VALID_DAYS = 30
ZERO = Decimal("0")
# A platform object's id: a number or a global id ("gid://shop/Collection/123").
PLATFORM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:/._-]{0,254}$")

# The fields each kind may carry beyond the common ones.
KIND_FIELDS: dict[str, frozenset[str]] = {
    "fixed_amount": frozenset(
        {
            "value",
            "min_order_amount",
            "collection_ids",
            "code_valid_days",
            "return_points_if_unused",
        }
    ),
    "percentage": frozenset(
        {
            "value",
            "min_order_amount",
            "collection_ids",
            "code_valid_days",
            "return_points_if_unused",
        }
    ),
    "free_shipping": frozenset(
        {"value", "min_order_amount", "code_valid_days", "return_points_if_unused"}
    ),
    "free_product": frozenset(
        {"variant_id", "min_order_amount", "code_valid_days", "return_points_if_unused"}
    ),
    "store_credit": frozenset({"value"}),
    "variable_credit": frozenset({"points_per_step", "value_per_step", "min_points", "max_points"}),
    "donation": frozenset({"value", "cause"}),
    "experience": frozenset({"fulfilment_note", "customer_tag"}),
    "punch_card": frozenset({"punch_target", "punch_target_id", "punch_count", "punch_reward_id"}),
}
COMMON_FIELDS: tuple[str, ...] = (
    "kind",
    "title",
    "description",
    "points_cost",
    "grant_only",
    "active",
    "active_from",
    "active_until",
    "min_tier",
    "per_customer_limit",
    "stock_total",
    "position",
)
KIND_SPECIFIC_FIELDS: tuple[str, ...] = (
    "value",
    "min_order_amount",
    "collection_ids",
    "code_valid_days",
    "return_points_if_unused",
    "variant_id",
    "points_per_step",
    "value_per_step",
    "min_points",
    "max_points",
    "cause",
    "fulfilment_note",
    "customer_tag",
    "punch_target",
    "punch_target_id",
    "punch_count",
    "punch_reward_id",
)
ALL_FIELDS = COMMON_FIELDS + KIND_SPECIFIC_FIELDS


@dataclass(frozen=True)
class RewardSpec:
    """A checked reward, field for field as ``Reward`` stores it (times in UTC)."""

    kind: str
    title: str
    description: str = ""
    points_cost: int | None = None
    grant_only: bool = False
    active: bool = True
    active_from: datetime | None = None
    active_until: datetime | None = None
    min_tier: str = ""
    per_customer_limit: int | None = None
    stock_total: int | None = None
    position: int = 0
    value: Decimal | None = None
    min_order_amount: Decimal | None = None
    collection_ids: tuple[str, ...] = field(default_factory=tuple)
    code_valid_days: int | None = None
    return_points_if_unused: bool = False
    variant_id: str = ""
    points_per_step: int | None = None
    value_per_step: Decimal | None = None
    min_points: int | None = None
    max_points: int | None = None
    cause: str = ""
    fulfilment_note: str = ""
    customer_tag: str = ""
    punch_target: str = ""
    punch_target_id: str = ""
    punch_count: int | None = None
    punch_reward_id: int | None = None

    def model_fields(self) -> dict[str, Any]:
        """The values to store on ``Reward`` (``punch_reward_id`` is its foreign key)."""
        values = asdict(self)
        values["collection_ids"] = list(self.collection_ids)
        return values


def _zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return ZoneInfo("UTC")


def _moment(problems: Problems, path: str, value: object, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 time; without a UTC offset it is the shop's wall-clock time (a skipped
    time takes the offset before the change, a repeated one is its first occurrence)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            problems.add(path, "must be an ISO 8601 date and time")
            return None
    else:
        problems.add(path, "must be an ISO 8601 date and time")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone, fold=0)
    return parsed.astimezone(UTC)


def _platform_id(problems: Problems, path: str, value: object, *, required: bool) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        if required:
            problems.add(path, "is required")
        return ""
    if not isinstance(value, str) or not PLATFORM_ID.match(value.strip()):
        problems.add(path, "must be an id (digits, or a global id like gid://.../123)")
        return ""
    return value.strip()


def _collections(problems: Problems, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        problems.add("collection_ids", "must be a list of collection ids")
        return ()
    if len(value) > MAX_COLLECTIONS:
        problems.add("collection_ids", f"at most {MAX_COLLECTIONS} collections")
        return ()
    ids: list[str] = []
    for i, raw in enumerate(value):
        one = _platform_id(problems, f"collection_ids[{i}]", raw, required=True)
        if one and one not in ids:
            ids.append(one)
    return tuple(ids)


def _optional_int(
    problems: Problems, data: Mapping[str, Any], name: str, *, minimum: int, maximum: int
) -> int | None:
    value = data.get(name)
    return (
        None if value is None else read_int(problems, name, value, minimum=minimum, maximum=maximum)
    )


def _given(value: object) -> bool:
    # False is an option left off (e.g. return_points_if_unused), not a value given.
    return value is not None and value is not False and value != "" and value != [] and value != ()


def reward_from_dict(
    data: object, *, tz_name: str = "UTC", tier_names: Sequence[str] | None = None
) -> RewardSpec:
    """The API/admin JSON of one reward -> ``RewardSpec``; ``ConfigError`` lists every
    problem under its field's name.

    ``tier_names``: the shop's tiers in force (``min_tier`` must be one of them, compared
    without regard to case, and is stored with the tier's own spelling); None skips it.
    """
    if not isinstance(data, Mapping):
        raise ConfigError({"non_field_errors": ["must be an object"]})
    problems = Problems()
    unknown_keys(problems, data, ALL_FIELDS)
    kind = read_choice(problems, "kind", data.get("kind"), KINDS)
    if kind is None:
        problems.raise_if_any()
        raise ConfigError({"kind": ["is required"]})
    allowed = KIND_FIELDS[kind]
    for name in KIND_SPECIFIC_FIELDS:
        if name not in allowed and name in data and _given(data[name]):
            problems.add(name, f"does not apply to a {kind} reward")
    zone = _zone(tz_name)

    title = read_text(problems, "title", data.get("title"), max_length=MAX_TITLE, required=True)
    description = read_text(
        problems, "description", data.get("description"), max_length=MAX_DESCRIPTION
    )
    grant_only = read_bool(problems, "grant_only", data.get("grant_only", False))
    if grant_only and kind not in GRANTABLE_KINDS:
        problems.add("grant_only", f"a {kind} reward cannot be grant-only")
    points_cost = None
    if kind in UNPRICED_KINDS or grant_only:
        if data.get("points_cost") is not None:
            why = {
                "variable_credit": "the shopper chooses the points",
                "punch_card": "the card is filled by buying",
            }.get(kind, "a grant-only reward is never bought")
            problems.add("points_cost", f"must be empty: {why}")
    elif data.get("points_cost") is None:
        problems.add("points_cost", "is required")
    else:
        points_cost = read_int(
            problems, "points_cost", data["points_cost"], minimum=1, maximum=MAX_POINTS
        )
    active = read_bool(problems, "active", data.get("active", True))
    active_from = _moment(problems, "active_from", data.get("active_from"), zone)
    active_until = _moment(problems, "active_until", data.get("active_until"), zone)
    if active_from and active_until and active_until <= active_from:
        problems.add("active_until", "must be after active_from")
    min_tier = read_text(problems, "min_tier", data.get("min_tier"), max_length=100) or ""
    if min_tier and tier_names is not None:
        match = next((t for t in tier_names if t.casefold() == min_tier.casefold()), None)
        if match is None:
            known = ", ".join(tier_names) if tier_names else "none defined"
            problems.add("min_tier", f"'{min_tier}' is not one of the shop's tiers ({known})")
        else:
            min_tier = match
    per_customer_limit = _optional_int(
        problems, data, "per_customer_limit", minimum=1, maximum=MAX_LIMIT
    )
    stock_total = _optional_int(problems, data, "stock_total", minimum=0, maximum=MAX_STOCK)
    position = read_int(
        problems, "position", data.get("position", 0), minimum=-1_000_000, maximum=1_000_000
    )

    spec: dict[str, Any] = {}
    if "value" in allowed:
        spec["value"] = _value(problems, kind, data.get("value"))
    if kind in CODE_KINDS:
        amount = data.get("min_order_amount")
        spec["min_order_amount"] = (
            None
            if amount is None or amount == ""
            else read_decimal(
                problems,
                "min_order_amount",
                amount,
                minimum=ZERO,
                maximum=MAX_MONEY,
                places=MONEY_PLACES,
            )
        )
        days = data.get("code_valid_days")
        spec["code_valid_days"] = read_int(
            problems,
            "code_valid_days",
            DEFAULT_CODE_VALID_DAYS if days is None else days,
            minimum=1,
            maximum=MAX_CODE_DAYS,
        )
        spec["return_points_if_unused"] = bool(
            read_bool(
                problems,
                "return_points_if_unused",
                data.get("return_points_if_unused") or False,
            )
        )
    if kind in COLLECTION_KINDS:
        spec["collection_ids"] = _collections(problems, data.get("collection_ids"))
    if kind == "free_product":
        spec["variant_id"] = _platform_id(
            problems, "variant_id", data.get("variant_id"), required=True
        )
    if kind == "variable_credit":
        spec.update(_steps(problems, data))
    if kind == "donation":
        spec["cause"] = read_text(
            problems, "cause", data.get("cause"), max_length=MAX_CAUSE, required=True
        )
    if kind == "experience":
        spec["fulfilment_note"] = read_text(
            problems, "fulfilment_note", data.get("fulfilment_note"), max_length=MAX_NOTE
        )
        spec["customer_tag"] = read_customer_tag(problems, "customer_tag", data.get("customer_tag"))
    if kind == "punch_card":
        spec.update(_punch_card(problems, data))

    problems.raise_if_any()
    return RewardSpec(
        kind=kind,
        title=title or "",
        description=description or "",
        points_cost=points_cost,
        grant_only=bool(grant_only),
        active=bool(active),
        active_from=active_from,
        active_until=active_until,
        min_tier=min_tier,
        per_customer_limit=per_customer_limit,
        stock_total=stock_total,
        position=position or 0,
        **spec,
    )


def _value(problems: Problems, kind: str, value: object) -> Decimal | None:
    if value is None or value == "":
        if kind != "free_shipping":  # free shipping without a value covers any shipping
            problems.add("value", "is required")
        return None
    if kind == "percentage":
        return read_decimal(
            problems,
            "value",
            value,
            minimum=ZERO,
            maximum=MAX_PERCENT,
            places=PERCENT_PLACES,
            above_minimum=True,
        )
    return read_decimal(
        problems,
        "value",
        value,
        minimum=ZERO,
        maximum=MAX_MONEY,
        places=MONEY_PLACES,
        above_minimum=True,
    )


def _steps(problems: Problems, data: Mapping[str, Any]) -> dict[str, Any]:
    step = data.get("points_per_step")
    if step is None:
        problems.add("points_per_step", "is required")
    else:
        step = read_int(problems, "points_per_step", step, minimum=1, maximum=MAX_POINTS)
    step_value = data.get("value_per_step")
    if step_value is None or step_value == "":
        problems.add("value_per_step", "is required")
        step_value = None
    else:
        step_value = read_decimal(
            problems,
            "value_per_step",
            step_value,
            minimum=ZERO,
            maximum=MAX_MONEY,
            places=MONEY_PLACES,
            above_minimum=True,
        )
    low = _optional_int(problems, data, "min_points", minimum=1, maximum=MAX_POINTS)
    high = data.get("max_points")
    if high is None:
        problems.add("max_points", "is required: the most points one redemption may spend")
    else:
        high = read_int(problems, "max_points", high, minimum=1, maximum=MAX_POINTS)
    if step:
        low = step if low is None and "min_points" not in problems else low
        for name, bound in (("min_points", low), ("max_points", high)):
            if bound is not None and bound % step:
                problems.add(name, f"must be a whole number of steps of {step} points")
        if low is not None and high is not None and high < low:
            problems.add("max_points", f"must be at least min_points ({low})")
    return {
        "points_per_step": step,
        "value_per_step": step_value,
        "min_points": low,
        "max_points": high,
    }


def _punch_card(problems: Problems, data: Mapping[str, Any]) -> dict[str, Any]:
    target = read_choice(problems, "punch_target", data.get("punch_target"), PUNCH_TARGETS)
    target_id = _platform_id(
        problems, "punch_target_id", data.get("punch_target_id"), required=True
    )
    count = data.get("punch_count")
    if count is None:
        problems.add("punch_count", "is required: the purchases that fill the card")
    else:
        count = read_int(problems, "punch_count", count, minimum=2, maximum=MAX_PUNCH_COUNT)
    reward_id = data.get("punch_reward_id")
    if reward_id is None:
        problems.add("punch_reward_id", "is required: the reward granted when the card is full")
    else:
        reward_id = read_int(problems, "punch_reward_id", reward_id, minimum=1)
    return {
        "punch_target": target or "",
        "punch_target_id": target_id,
        "punch_count": count,
        "punch_reward_id": reward_id,
    }
