"""Earning rules: a shop's points program, and the one pure calculation that applies it.

Pure: standard library only (plus the pure ``domain`` values), no Django, no platform, no
I/O. The engine gives it the facts of one order as it is now, the rules and campaigns that
were in force when the order was placed, and writes the difference to the ledger; the
preview endpoint gives it a cart and shows the explanation.

How an order's points are computed
==================================

All amounts are in the shop's currency (Shopify's ``shop_money``), never the presentment
currency.

1. Status. A test, cancelled, fully refunded or unpaid order earns 0. (The breakdown still
   explains what its lines would earn.)
2. Lines. A line's *amount* is its price x quantity less its discounts (negative counts as
   0). Its *amount kept* is its amount less what was refunded of it, never below 0; a refund
   larger than the line is ignored beyond the line's amount. A refund that names a line the
   order does not have counts as an amount-only refund (rule 7).
3. Gift cards. A gift-card line (buying a gift card) never earns, whatever the rules and
   campaigns say, and is not merchandise anywhere below (minimum, shares, bonuses).
4. Line rules. A rule matches a line when its value equals the line's product type, vendor,
   SKU or product id, or one of its tags or collections, compared trimmed and without regard
   to case (a product id ``gid://shopify/Product/123`` matches ``123``).
   - An exclusion wins: a line matched by any exclusion rule earns nothing, whatever
     multiplier rules or campaigns also match it.
   - Otherwise, when several multiplier rules match, the highest applies (they are not
     multiplied together). A line no rule matches has multiplier 1.
5. Campaigns. A campaign is *in force* for an order when ``starts_at <= placed_at <
   ends_at`` (start included, end excluded). It applies when, also: if it is for first
   orders only, the order is the customer's first; if it names tiers, the customer's tier
   when the order was placed is one of them (without regard to case; a customer with no tier
   gets none of these); if it names a line (``applies_to``), see below.
   - Multiplier campaigns: for each line, the highest multiplier among the campaigns that
     apply to it (not multiplied together); one with ``applies_to`` applies only to the
     lines it matches. It multiplies the line-rule multiplier: a 3x "Coffee" rule during a
     2x weekend earns 6x on coffee. An excluded line stays at 0. A campaign multiplier is
     between 1 and 100.
   - Bonus campaigns: fixed points, and every bonus that applies is added (+100 on a first
     order and +50 for the weekend give +150). One with ``applies_to`` applies only if the
     order has a matching non-gift-card line with an amount kept above 0.
6. A line's *weighted amount* is its amount kept x its line multiplier x its campaign
   multiplier. The customer's VIP tier multiplies the whole weighted merchandise on top
   (its ``earn_multiplier``, fixed when the order was placed): a 1.5x tier during a 2x
   weekend earns 3x; shipping and tax are not multiplied by it.
7. Amount-only refunds (money given back without line items) are spread over the
   merchandise in proportion: *merchandise kept* is the sum of the lines' amounts kept less
   the amount-only refunds (never below 0), and the weighted merchandise is reduced by the
   same share (weighted x merchandise kept / lines' amounts kept). Giving back all the
   merchandise this way leaves 0.
8. Shipping and tax, when switched on, earn at the base rate: no line rule and no campaign
   multiplier. Each counts in proportion to the merchandise kept (merchandise kept /
   merchandise bought: refund half of the merchandise and half of the shipping stops
   earning; refund it all and none earns), or less if a refund of the shipping or tax
   itself is reported: the lower of the two. An order with no merchandise (only gift cards)
   earns nothing for its shipping or tax.
9. Minimum order amount. It is compared with the merchandise kept: after discounts and
   every refund, without gift cards, counting lines that a rule excludes, without shipping
   or tax. An order below the minimum, or with no merchandise kept, earns nothing, and no
   bonus either; when refunds bring an order below the minimum, all its points are taken
   back.
10. Rate and rounding. Points = (weighted merchandise + shipping and tax counted) x points
    per unit of currency, rounded once for the whole order, never per line: ``down``
    (default) drops any fraction, ``nearest`` rounds to the closest point with halves up,
    ``up`` counts any fraction as a point.
11. Bonuses (rule 5) are then added as they are, not multiplied by the rate nor rounded.
    They stay while the order keeps merchandise at or above the minimum and go when
    everything is refunded (or it falls below the minimum).
12. Cap. The per-order cap applies last, to the rounded points plus bonuses. While it binds,
    a partial refund may take nothing back.
13. Points are a whole number, never negative.

What this guarantees:

- Defaults are the previous program: ``EarnRules()`` with no campaigns earns 1 point per
  whole unit of merchandise, rounded down, shipping, tax and gift cards excluded, exactly
  like ``calculation.order_points`` (for refunds no larger than their lines, which is all a
  shop allows).
- A refund takes back what the refunded merchandise earned, multipliers and campaign
  multipliers included (refunding a 3x line takes back 3 points per unit), within the one
  rounding of the order total; bonuses only when nothing (or less than the minimum) is left;
  the minimum and the cap are the exceptions above. More refunds never add points; refunding
  everything (or cancelling) leaves 0.
- Splitting an order in two never earns more than the whole, when rounding is ``down``,
  there is no bonus campaign and no cap (a per-order bonus or cap is per order by design).
- An order's points are a function of its current state and of what was fixed when it was
  placed: the rules and campaigns then in force, ``placed_at``, first order or not, the
  customer's tier then. The engine must keep those per order so that a later rule change
  does not rewrite past orders.

Campaign times
==============

Merchants give start and end as wall-clock times in the shop's time zone;
``campaign_window`` turns them into aware datetimes with ``zoneinfo``. A time that does not
exist (the hour skipped when clocks go forward) is read with the offset before the change,
so 02:30 on that night is 03:30 daylight time; a time that happens twice (clocks go back) is
its first occurrence. A "weekend" across a change of clocks therefore lasts 47 or 49 hours.
Campaign times and ``placed_at`` are kept in UTC, so every comparison is between instants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Decimal,
    InvalidOperation,
    localcontext,
)
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .domain import PurchaseLine, Refund

ZERO = Decimal("0")
ONE = Decimal("1")

Rounding = Literal["down", "nearest", "up"]
ROUNDINGS: dict[str, str] = {"down": ROUND_FLOOR, "nearest": ROUND_HALF_UP, "up": ROUND_CEILING}
ROUNDING_WORDS = {"down": "down", "nearest": "to the nearest point", "up": "up"}

MATCH_FIELDS = ("product_type", "vendor", "tag", "collection", "sku", "product_id")
CAMPAIGN_KINDS = ("multiplier", "bonus")

MAX_LINE_RULES = 200
MAX_RATE = Decimal("1000")
MAX_RULE_MULTIPLIER = Decimal("100")
MAX_CAMPAIGN_MULTIPLIER = Decimal("100")
MAX_BONUS_POINTS = 1_000_000
MAX_VALUE_LENGTH = 255
MAX_NAME_LENGTH = 200
RATE_PLACES = 4
MULTIPLIER_PLACES = 4
AMOUNT_PLACES = 4


class RulesError(ValueError):
    """A configuration value is not acceptable. ``field`` names it (``line_rules[2].value``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message

    def within(self, prefix: str) -> RulesError:
        return RulesError(f"{prefix}.{self.field}" if self.field else prefix, self.message)


# --- validation helpers -------------------------------------------------------------


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _check_decimal(
    name: str,
    value: object,
    *,
    minimum: Decimal,
    maximum: Decimal | None = None,
    places: int,
) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise RulesError(name, "must be a decimal number")
    if value < minimum:
        raise RulesError(name, f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise RulesError(name, f"must be at most {maximum}")
    if _places(value) > places:
        raise RulesError(name, f"must have at most {places} decimal places")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise RulesError(name, "must be true or false")


def _check_int(name: str, value: object, *, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RulesError(name, "must be a whole number")
    if value < minimum:
        raise RulesError(name, f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise RulesError(name, f"must be at most {maximum}")


def _check_aware(name: str, value: object) -> None:
    if not isinstance(value, datetime):
        raise RulesError(name, "must be a date and time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise RulesError(name, "must carry a time zone")


def match_key(field_name: str, value: str) -> str:
    """How rule values and line facts are compared: trimmed, case-folded; ids by last part."""
    key = value.strip().casefold()
    if field_name == "product_id" and "/" in key:
        key = key.rsplit("/", 1)[1]
    return key


# --- configuration ------------------------------------------------------------------


@dataclass(frozen=True)
class LineMatch:
    """Which lines: those whose ``field`` (product type, vendor, tag, ...) equals ``value``."""

    field: str
    value: str

    def __post_init__(self) -> None:
        _check_match(self.field, self.value)

    @cached_property
    def key(self) -> str:
        return match_key(self.field, self.value)

    def matches(self, line: RuleLine) -> bool:
        return self.key in _fact_keys(line, self.field)

    def describe(self) -> str:
        return f"{self.field.replace('_', ' ')} is {self.value.strip()!r}"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value}


def _check_match(field_name: object, value: object) -> None:
    if field_name not in MATCH_FIELDS:
        raise RulesError("field", f"must be one of {', '.join(MATCH_FIELDS)}")
    if not isinstance(value, str) or not value.strip():
        raise RulesError("value", "must not be empty")
    if len(value) > MAX_VALUE_LENGTH:
        raise RulesError("value", f"must be at most {MAX_VALUE_LENGTH} characters")


@dataclass(frozen=True)
class LineRule:
    """A multiplier (``3x on Coffee``) or an exclusion (``no points on Sale``) for lines."""

    field: str
    value: str
    multiplier: Decimal | None = None
    exclude: bool = False

    def __post_init__(self) -> None:
        _check_match(self.field, self.value)
        _check_bool("exclude", self.exclude)
        if self.exclude and self.multiplier is not None:
            raise RulesError("multiplier", "give either a multiplier or exclude, not both")
        if not self.exclude:
            if self.multiplier is None:
                raise RulesError("multiplier", "give a multiplier, or exclude")
            _check_decimal(
                "multiplier",
                self.multiplier,
                minimum=ZERO,
                maximum=MAX_RULE_MULTIPLIER,
                places=MULTIPLIER_PLACES,
            )

    @cached_property
    def key(self) -> str:
        return match_key(self.field, self.value)

    def describe(self) -> str:
        what = f"{self.field.replace('_', ' ')} is {self.value.strip()!r}"
        return f"no points when {what}" if self.exclude else f"{self.multiplier}x when {what}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"field": self.field, "value": self.value}
        if self.exclude:
            data["exclude"] = True
        else:
            data["multiplier"] = str(self.multiplier)
        return data


@dataclass(frozen=True)
class EarnRules:
    """A shop's earning program. ``EarnRules()`` is the default: 1 point per unit, down."""

    points_per_unit: Decimal = ONE
    include_shipping: bool = False
    include_tax: bool = False
    rounding: Rounding = "down"
    min_order_amount: Decimal = ZERO
    max_points_per_order: int | None = None
    line_rules: tuple[LineRule, ...] = ()

    def __post_init__(self) -> None:
        _check_decimal(
            "points_per_unit",
            self.points_per_unit,
            minimum=ZERO,
            maximum=MAX_RATE,
            places=RATE_PLACES,
        )
        _check_bool("include_shipping", self.include_shipping)
        _check_bool("include_tax", self.include_tax)
        if not isinstance(self.rounding, str) or self.rounding not in ROUNDINGS:
            raise RulesError("rounding", f"must be one of {', '.join(ROUNDINGS)}")
        _check_decimal(
            "min_order_amount", self.min_order_amount, minimum=ZERO, places=AMOUNT_PLACES
        )
        if self.max_points_per_order is not None:
            _check_int("max_points_per_order", self.max_points_per_order, minimum=0)
        if not isinstance(self.line_rules, tuple):
            object.__setattr__(self, "line_rules", tuple(self.line_rules))
        if len(self.line_rules) > MAX_LINE_RULES:
            raise RulesError("line_rules", f"at most {MAX_LINE_RULES} rules")
        for i, rule in enumerate(self.line_rules):
            if not isinstance(rule, LineRule):
                raise RulesError(f"line_rules[{i}]", "must be a line rule")

    @cached_property
    def _index(self) -> dict[str, dict[str, list[LineRule]]]:
        """Rules by field, then by matched value, for one dictionary look-up per fact."""
        index: dict[str, dict[str, list[LineRule]]] = {}
        for rule in self.line_rules:
            index.setdefault(rule.field, {}).setdefault(rule.key, []).append(rule)
        return index

    def to_dict(self) -> dict[str, Any]:
        return {
            "points_per_unit": str(self.points_per_unit),
            "include_shipping": self.include_shipping,
            "include_tax": self.include_tax,
            "rounding": self.rounding,
            "min_order_amount": str(self.min_order_amount),
            "max_points_per_order": self.max_points_per_order,
            "line_rules": [rule.to_dict() for rule in self.line_rules],
        }


DEFAULT_RULES = EarnRules()


@dataclass(frozen=True)
class Campaign:
    """A time-boxed multiplier or fixed bonus. Times are aware (see ``campaign_window``)."""

    id: str
    name: str
    kind: Literal["multiplier", "bonus"]
    starts_at: datetime
    ends_at: datetime
    multiplier: Decimal | None = None
    bonus_points: int | None = None
    first_order_only: bool = False
    applies_to: LineMatch | None = None
    tiers: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str):
            raise RulesError("id", "must be text")
        if not isinstance(self.name, str) or not self.name.strip():
            raise RulesError("name", "must not be empty")
        if len(self.name) > MAX_NAME_LENGTH:
            raise RulesError("name", f"must be at most {MAX_NAME_LENGTH} characters")
        if self.kind not in CAMPAIGN_KINDS:
            raise RulesError("kind", f"must be one of {', '.join(CAMPAIGN_KINDS)}")
        if self.kind == "multiplier":
            if self.bonus_points is not None:
                raise RulesError("bonus_points", "a multiplier campaign has no bonus points")
            if self.multiplier is None:
                raise RulesError("multiplier", "a multiplier campaign needs a multiplier")
            _check_decimal(
                "multiplier",
                self.multiplier,
                minimum=ONE,
                maximum=MAX_CAMPAIGN_MULTIPLIER,
                places=MULTIPLIER_PLACES,
            )
        else:
            if self.multiplier is not None:
                raise RulesError("multiplier", "a bonus campaign has no multiplier")
            if self.bonus_points is None:
                raise RulesError("bonus_points", "a bonus campaign needs bonus points")
            _check_int("bonus_points", self.bonus_points, minimum=0, maximum=MAX_BONUS_POINTS)
        _check_aware("starts_at", self.starts_at)
        _check_aware("ends_at", self.ends_at)
        # Instants in UTC, for the reasons in ``_local_to_aware``.
        object.__setattr__(self, "starts_at", self.starts_at.astimezone(UTC))
        object.__setattr__(self, "ends_at", self.ends_at.astimezone(UTC))
        if self.ends_at <= self.starts_at:
            raise RulesError("ends_at", "must be after starts_at")
        _check_bool("first_order_only", self.first_order_only)
        if self.applies_to is not None and not isinstance(self.applies_to, LineMatch):
            raise RulesError("applies_to", "must be a line match")
        if self.tiers is not None:
            tiers = frozenset(self.tiers) if not isinstance(self.tiers, frozenset) else self.tiers
            if not tiers:
                raise RulesError("tiers", "name at least one tier, or leave it out for all")
            if any(not isinstance(t, str) or not t.strip() for t in tiers):
                raise RulesError("tiers", "tier names must not be empty")
            object.__setattr__(self, "tiers", tiers)

    @cached_property
    def _tier_keys(self) -> frozenset[str] | None:
        return None if self.tiers is None else frozenset(t.strip().casefold() for t in self.tiers)

    def in_force(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def applies_to_customer(self, context: OrderContext) -> bool:
        """In force for this order and meant for this customer (first order, tier)."""
        if not self.in_force(context.placed_at):
            return False
        if self.first_order_only and not context.is_first_order:
            return False
        if self._tier_keys is not None:
            return context.tier is not None and context.tier.strip().casefold() in self._tier_keys
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "multiplier": None if self.multiplier is None else str(self.multiplier),
            "bonus_points": self.bonus_points,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "first_order_only": self.first_order_only,
            "applies_to": None if self.applies_to is None else self.applies_to.to_dict(),
            "tiers": None if self.tiers is None else sorted(self.tiers),
        }


def _local_to_aware(name: str, local: datetime, zone: ZoneInfo) -> datetime:
    if not isinstance(local, datetime):
        raise RulesError(name, "must be a date and time")
    if local.tzinfo is not None:
        raise RulesError(name, "must be a wall-clock time without a time zone")
    # fold=0: an ambiguous time is its first occurrence; a skipped time takes the offset
    # in force before the change (zoneinfo's reading), e.g. 02:30 -> 03:30 daylight time.
    # Then UTC: two datetimes sharing one ZoneInfo compare and subtract by wall clock
    # (a 47-hour weekend would look like 48), and one in a repeated hour never equals a
    # datetime in another zone (PEP 495). In UTC every comparison is between instants.
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise RulesError("timezone", f"unknown time zone {tz_name!r}") from exc


def campaign_window(
    start_local: datetime, end_local: datetime, tz_name: str
) -> tuple[datetime, datetime]:
    """A campaign's start and end, given as wall-clock times in the shop's time zone, in UTC."""
    zone = _zone(tz_name)
    starts_at = _local_to_aware("starts_at", start_local, zone)
    ends_at = _local_to_aware("ends_at", end_local, zone)
    if ends_at <= starts_at:
        raise RulesError("ends_at", "must be after starts_at")
    return starts_at, ends_at


# --- parsing the stored JSON --------------------------------------------------------


def _object(data: object, name: str = "") -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise RulesError(name, "must be an object")
    return data


def _no_unknown_keys(data: Mapping[str, Any], known: Iterable[str], prefix: str = "") -> None:
    for key in data:
        if key not in known:
            raise RulesError(f"{prefix}{key}", "unknown field")


def _parse_decimal(name: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise RulesError(name, "must be a decimal number")
    try:
        # A JSON float is read by its shortest text (0.1 -> "0.1"), never its binary value.
        result = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise RulesError(name, "must be a decimal number") from exc
    if not result.is_finite():
        raise RulesError(name, "must be a decimal number")
    return result


def _parse_datetime(name: str, value: object, zone: ZoneInfo | None) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise RulesError(name, "must be an ISO 8601 date and time") from exc
    else:
        raise RulesError(name, "must be an ISO 8601 date and time")
    if parsed.tzinfo is None:
        if zone is None:
            raise RulesError(name, "needs a UTC offset (or the shop's time zone)")
        return _local_to_aware(name, parsed, zone)
    return parsed


def _with_prefix(prefix: str, build: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return build(*args, **kwargs)
    except RulesError as exc:
        raise exc.within(prefix) if prefix else exc from None


_RULES_KEYS = (
    "points_per_unit",
    "include_shipping",
    "include_tax",
    "rounding",
    "min_order_amount",
    "max_points_per_order",
    "line_rules",
)
_LINE_RULE_KEYS = ("field", "value", "multiplier", "exclude")
_MATCH_KEYS = ("field", "value")
_CAMPAIGN_KEYS = (
    "id",
    "name",
    "kind",
    "multiplier",
    "bonus_points",
    "starts_at",
    "ends_at",
    "first_order_only",
    "applies_to",
    "tiers",
)


def line_rule_from_dict(data: object) -> LineRule:
    data = _object(data)
    _no_unknown_keys(data, _LINE_RULE_KEYS)
    multiplier = data.get("multiplier")
    return LineRule(
        field=data.get("field"),  # checked by LineRule
        value=data.get("value"),
        multiplier=None if multiplier is None else _parse_decimal("multiplier", multiplier),
        exclude=data.get("exclude", False),
    )


def rules_from_dict(data: object) -> EarnRules:
    """The stored/API JSON of a shop's program -> ``EarnRules``; ``RulesError`` names the field.

    Missing keys take their defaults; unknown keys are refused.
    """
    data = _object(data)
    _no_unknown_keys(data, _RULES_KEYS)
    kwargs: dict[str, Any] = {}
    for name in ("points_per_unit", "min_order_amount"):
        if name in data:
            kwargs[name] = _parse_decimal(name, data[name])
    for name in ("include_shipping", "include_tax", "rounding", "max_points_per_order"):
        if name in data:
            kwargs[name] = data[name]
    raw_rules = data.get("line_rules", [])
    if not isinstance(raw_rules, list | tuple):
        raise RulesError("line_rules", "must be a list")
    if len(raw_rules) > MAX_LINE_RULES:
        raise RulesError("line_rules", f"at most {MAX_LINE_RULES} rules")
    kwargs["line_rules"] = tuple(
        _with_prefix(f"line_rules[{i}]", line_rule_from_dict, raw)
        for i, raw in enumerate(raw_rules)
    )
    return EarnRules(**kwargs)


def campaign_from_dict(data: object, *, tz_name: str | None = None) -> Campaign:
    """The stored/API JSON of a campaign -> ``Campaign``; ``RulesError`` names the field.

    ``starts_at``/``ends_at`` are ISO 8601; without a UTC offset they are wall-clock times
    in ``tz_name`` (the shop's time zone), read as ``campaign_window`` does.
    """
    data = _object(data)
    _no_unknown_keys(data, _CAMPAIGN_KEYS)
    zone = None if tz_name is None else _zone(tz_name)
    for required in ("name", "kind", "starts_at", "ends_at"):
        if data.get(required) is None:
            raise RulesError(required, "is required")
    multiplier = data.get("multiplier")
    applies_to = data.get("applies_to")
    if applies_to is not None:
        raw_match = _object(applies_to, "applies_to")
        _no_unknown_keys(raw_match, _MATCH_KEYS, "applies_to.")
        applies_to = _with_prefix(
            "applies_to", LineMatch, raw_match.get("field"), raw_match.get("value")
        )
    tiers = data.get("tiers")
    if tiers is not None:
        if not isinstance(tiers, list | tuple) or not all(isinstance(t, str) for t in tiers):
            raise RulesError("tiers", "must be a list of tier names")
        tiers = frozenset(tiers)
    campaign_id = data.get("id", "")
    if isinstance(campaign_id, int) and not isinstance(campaign_id, bool):
        campaign_id = str(campaign_id)
    return Campaign(
        id=campaign_id,
        name=data["name"],
        kind=data["kind"],
        starts_at=_parse_datetime("starts_at", data["starts_at"], zone),
        ends_at=_parse_datetime("ends_at", data["ends_at"], zone),
        multiplier=None if multiplier is None else _parse_decimal("multiplier", multiplier),
        bonus_points=data.get("bonus_points"),
        first_order_only=data.get("first_order_only", False),
        applies_to=applies_to,
        tiers=tiers,
    )


# --- the facts of an order ----------------------------------------------------------


@dataclass(frozen=True)
class RuleLine:
    """One line of an order with the facts rules match on. ``amount``: after discounts."""

    line_id: str
    amount: Decimal
    quantity: int = 1
    gift_card: bool = False
    product_id: str = ""
    variant_id: str = ""
    sku: str = ""
    vendor: str = ""
    product_type: str = ""
    tags: frozenset[str] = frozenset()
    collections: frozenset[str] = frozenset()

    @classmethod
    def from_purchase_line(
        cls,
        line: PurchaseLine,
        *,
        product_type: str = "",
        tags: Iterable[str] = (),
        collections: Iterable[str] = (),
    ) -> RuleLine:
        """A platform line plus product facts (given here, or already on the line)."""
        return cls(
            line_id=line.line_id,
            amount=line.amount,
            quantity=line.quantity,
            gift_card=line.gift_card,
            product_id=line.product_id,
            variant_id=line.variant_id,
            sku=line.sku,
            vendor=line.vendor,
            product_type=product_type or line.product_type,
            tags=frozenset(tags) | frozenset(line.tags),
            collections=frozenset(collections) | frozenset(line.collections),
        )


def _fact_keys(line: RuleLine, field_name: str) -> frozenset[str] | tuple[str, ...]:
    if field_name == "tag":
        return frozenset(match_key("tag", t) for t in line.tags)
    if field_name == "collection":
        return frozenset(match_key("collection", c) for c in line.collections)
    value = getattr(line, field_name)
    return (match_key(field_name, value),) if value else ()


def refunds_by_line(refunds: Iterable[Refund]) -> tuple[dict[str, Decimal], Decimal]:
    """Platform refunds -> (refunded amount per line id, amount-only refunds).

    Refund lines of gift cards are left out, like ``calculation.refunded_amount``.
    """
    by_line: dict[str, Decimal] = {}
    extra = ZERO
    for refund in refunds:
        for line in refund.lines:
            if not line.gift_card:
                by_line[line.line_id] = by_line.get(line.line_id, ZERO) + line.amount
        extra += refund.extra_amount
    return by_line, extra


@dataclass(frozen=True, kw_only=True)
class OrderContext:
    """What is fixed about an order besides its lines: when, whose first, which tier, status.

    ``paid`` has no default on purpose: a preview says ``paid=True``, the engine says what
    the order is.
    """

    placed_at: datetime
    paid: bool
    is_first_order: bool = False
    tier: str | None = None
    tier_multiplier: Decimal = Decimal(1)  # the tier's earn multiplier when placed
    cancelled: bool = False
    fully_refunded: bool = False
    test: bool = False

    def __post_init__(self) -> None:
        if self.placed_at.tzinfo is None or self.placed_at.utcoffset() is None:
            raise ValueError("placed_at must be an aware datetime")
        if not (Decimal(1) <= self.tier_multiplier <= Decimal(100)):
            raise ValueError("tier_multiplier must be between 1 and 100")
        # Compared with campaign times as an instant (see ``_local_to_aware``).
        object.__setattr__(self, "placed_at", self.placed_at.astimezone(UTC))

    @property
    def live(self) -> bool:
        return self.paid and not (self.cancelled or self.fully_refunded or self.test)


# --- the explanation ----------------------------------------------------------------


SHOWN_PLACES = 4
_SHOWN = Decimal(1).scaleb(-SHOWN_PLACES)


def _shown(value: Decimal) -> tuple[Decimal, bool]:
    """At most four decimal places for people and JSON (cut, not rounded), and whether cut."""
    if _places(value) <= SHOWN_PLACES:
        return value, False
    return value.quantize(_SHOWN, rounding=ROUND_DOWN), True


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(_shown(value)[0])


def _fmt(value: Decimal) -> str:
    """A Decimal for people: at least the cents, at most four places ("~" when cut)."""
    shown, cut = _shown(value)
    text = format(shown.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{'~' if cut else ''}{whole}.{fraction.ljust(2, '0')}"


def _fmt_multiplier(value: Decimal) -> str:
    return f"{format(value.normalize(), 'f')}x"


@dataclass(frozen=True)
class LineResult:
    """What one line earns and why."""

    line_id: str
    amount: Decimal
    refunded: Decimal
    kept: Decimal
    gift_card: bool
    rule: LineRule | None  # the rule that decided: the exclusion, or the highest multiplier
    overridden: tuple[LineRule, ...]  # other rules that matched but did not apply
    rule_multiplier: Decimal
    campaign: Campaign | None  # the campaign whose multiplier applied
    campaign_multiplier: Decimal
    multiplier: Decimal  # effective: 0 if excluded, else rule x campaign
    weighted: Decimal  # kept x multiplier, before any amount-only refund

    @property
    def excluded(self) -> bool:
        return self.gift_card or (self.rule is not None and self.rule.exclude)

    @property
    def message(self) -> str:
        head = f"Line {self.line_id}: {_fmt(self.kept)}"
        if self.refunded:
            head += f" (of {_fmt(self.amount)}, {_fmt(self.refunded)} refunded)"
        if self.gift_card:
            return f"{head} earns nothing: gift cards never earn points."
        if self.rule is not None and self.rule.exclude:
            return f"{head} earns nothing: {self.rule.describe()}."
        why = []
        if self.rule is not None:
            why.append(f"rule {self.rule.describe()}")
        if self.campaign is not None:
            why.append(
                f"campaign {self.campaign.name!r} {_fmt_multiplier(self.campaign_multiplier)}"
            )
        reason = f" ({'; '.join(why)})" if why else ""
        return f"{head} at {_fmt_multiplier(self.multiplier)}{reason} counts {_fmt(self.weighted)}."

    def as_dict(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "amount": _money(self.amount),
            "refunded": _money(self.refunded),
            "kept": _money(self.kept),
            "gift_card": self.gift_card,
            "excluded": self.excluded,
            "rule": None if self.rule is None else self.rule.to_dict(),
            "overridden_rules": [rule.to_dict() for rule in self.overridden],
            "rule_multiplier": _money(self.rule_multiplier),
            "campaign": None
            if self.campaign is None
            else {"id": self.campaign.id, "name": self.campaign.name},
            "campaign_multiplier": _money(self.campaign_multiplier),
            "multiplier": _money(self.multiplier),
            "weighted": _money(self.weighted),
            "message": self.message,
        }


NoteKind = Literal[
    "status",
    "tier",
    "no_merchandise",
    "amount_refund",
    "shipping",
    "tax",
    "minimum",
    "rate",
    "rounding",
    "bonus",
    "cap",
]


@dataclass(frozen=True)
class Note:
    """One order-level step of the calculation, in the order they were applied."""

    kind: NoteKind
    message: str
    amount: Decimal | None = None
    points: int | None = None
    campaign_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "amount": _money(self.amount),
            "points": self.points,
            "campaign_id": self.campaign_id,
        }


@dataclass(frozen=True)
class Breakdown:
    """An order's points and the explanation: each line, then each order-level step."""

    points: int
    lines: tuple[LineResult, ...]
    notes: tuple[Note, ...]
    merchandise_kept: Decimal
    weighted_amount: Decimal  # merchandise after amount-only refunds, plus shipping and tax
    raw_points: Decimal
    base_points: int  # raw points rounded
    bonus_points: int

    @property
    def explanation(self) -> tuple[LineResult | Note, ...]:
        return (*self.lines, *self.notes)

    def summary(self) -> str:
        return " ".join([f"{self.points} points."] + [entry.message for entry in self.explanation])

    def as_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "merchandise_kept": _money(self.merchandise_kept),
            "weighted_amount": _money(self.weighted_amount),
            "raw_points": _money(self.raw_points),
            "base_points": self.base_points,
            "bonus_points": self.bonus_points,
            "lines": [line.as_dict() for line in self.lines],
            "notes": [note.as_dict() for note in self.notes],
        }


# --- the calculation ----------------------------------------------------------------


def _line_rule(
    rules: EarnRules, line: RuleLine
) -> tuple[LineRule | None, tuple[LineRule, ...], Decimal]:
    """(deciding rule, other matching rules, multiplier): an exclusion wins, else the highest."""
    index = rules._index
    if not index:
        return None, (), ONE
    matched: list[LineRule] = []
    for field_name, by_key in index.items():
        for key in _fact_keys(line, field_name):
            found = by_key.get(key)
            if found:
                matched.extend(found)
    if not matched:
        return None, (), ONE
    exclusions = [rule for rule in matched if rule.exclude]
    if exclusions:
        decider = exclusions[0]
    else:
        # Highest multiplier; the first listed on a tie, so the explanation is stable.
        decider = max(matched, key=lambda rule: rule.multiplier or ZERO)
    others = tuple(rule for rule in matched if rule is not decider)
    return decider, others, (ZERO if decider.exclude else decider.multiplier or ZERO)


def _counted_share(
    amount: Decimal, refunded: Decimal, kept_share_num: Decimal, kept_share_den: Decimal
) -> Decimal:
    """Shipping or tax still earning: the lower of what is left of it and its kept share."""
    amount = max(ZERO, amount)
    if not amount or not kept_share_den:
        return ZERO
    left = max(ZERO, amount - max(ZERO, refunded))
    return min(left, amount * kept_share_num / kept_share_den)


def order_breakdown(
    *,
    lines: Sequence[RuleLine],
    context: OrderContext,
    rules: EarnRules = DEFAULT_RULES,
    campaigns: Sequence[Campaign] = (),
    refunded_by_line: Mapping[str, Decimal] | None = None,
    refunded_extra: Decimal = ZERO,
    shipping: Decimal = ZERO,
    tax: Decimal = ZERO,
    refunded_shipping: Decimal = ZERO,
    refunded_tax: Decimal = ZERO,
) -> Breakdown:
    """The points an order is worth now under ``rules`` and ``campaigns``, and why.

    See the module docstring for the rules, in the order they are applied here.
    """
    with localcontext(prec=50):
        return _order_breakdown(
            lines=lines,
            context=context,
            rules=rules,
            campaigns=campaigns,
            refunded_by_line=refunded_by_line or {},
            refunded_extra=refunded_extra,
            shipping=shipping,
            tax=tax,
            refunded_shipping=refunded_shipping,
            refunded_tax=refunded_tax,
        )


def _order_breakdown(
    *,
    lines: Sequence[RuleLine],
    context: OrderContext,
    rules: EarnRules,
    campaigns: Sequence[Campaign],
    refunded_by_line: Mapping[str, Decimal],
    refunded_extra: Decimal,
    shipping: Decimal,
    tax: Decimal,
    refunded_shipping: Decimal,
    refunded_tax: Decimal,
) -> Breakdown:
    notes: list[Note] = []
    applicable = [c for c in campaigns if c.applies_to_customer(context)]
    multiplier_campaigns = [c for c in applicable if c.kind == "multiplier"]
    bonus_campaigns = [c for c in applicable if c.kind == "bonus"]

    # Refunds per line are consumed line by line, so a line id given twice cannot be
    # refunded twice over; what is left on ids the order lacks becomes amount-only.
    remaining = {k: max(ZERO, v) for k, v in refunded_by_line.items() if v > 0}
    seen_ids: set[str] = set()

    results: list[LineResult] = []
    bought = ZERO  # merchandise before refunds (gift cards left out)
    lines_kept = ZERO  # merchandise after line refunds
    weighted = ZERO
    kept_lines: list[RuleLine] = []  # non-gift-card lines with something kept, for bonuses
    for line in lines:
        seen_ids.add(line.line_id)
        amount = max(ZERO, line.amount)
        refunded = ZERO
        if remaining:
            available = remaining.get(line.line_id, ZERO)
            if available:
                refunded = min(amount, available)
                remaining[line.line_id] = available - refunded
        kept = amount - refunded
        if line.gift_card:
            results.append(
                LineResult(
                    line_id=line.line_id,
                    amount=amount,
                    refunded=refunded,
                    kept=kept,
                    gift_card=True,
                    rule=None,
                    overridden=(),
                    rule_multiplier=ZERO,
                    campaign=None,
                    campaign_multiplier=ONE,
                    multiplier=ZERO,
                    weighted=ZERO,
                )
            )
            continue
        bought += amount
        lines_kept += kept
        if kept > 0:
            kept_lines.append(line)
        rule, overridden, rule_multiplier = _line_rule(rules, line)
        campaign: Campaign | None = None
        campaign_multiplier = ONE
        excluded = rule is not None and rule.exclude
        if not excluded:
            for candidate in multiplier_campaigns:
                value = candidate.multiplier or ONE
                if value > campaign_multiplier and (
                    candidate.applies_to is None or candidate.applies_to.matches(line)
                ):
                    campaign, campaign_multiplier = candidate, value
        multiplier = ZERO if excluded else rule_multiplier * campaign_multiplier
        line_weighted = kept * multiplier
        weighted += line_weighted
        results.append(
            LineResult(
                line_id=line.line_id,
                amount=amount,
                refunded=refunded,
                kept=kept,
                gift_card=False,
                rule=rule,
                overridden=overridden,
                rule_multiplier=rule_multiplier,
                campaign=campaign,
                campaign_multiplier=campaign_multiplier,
                multiplier=multiplier,
                weighted=line_weighted,
            )
        )

    amount_only = max(ZERO, refunded_extra) + sum(
        (left for line_id, left in remaining.items() if line_id not in seen_ids), ZERO
    )
    kept_total = max(ZERO, lines_kept - amount_only)
    if amount_only and lines_kept:
        reduced = weighted * kept_total / lines_kept
        notes.append(
            Note(
                kind="amount_refund",
                message=(
                    f"A refund of {_fmt(amount_only)} without line items leaves "
                    f"{_fmt(kept_total)} of {_fmt(lines_kept)} in merchandise: the amount "
                    f"that earns goes from {_fmt(weighted)} to {_fmt(reduced)}."
                ),
                amount=amount_only,
            )
        )
        weighted = reduced
    elif not lines_kept:
        weighted = ZERO
    if context.tier_multiplier != ONE and weighted:
        boosted = weighted * context.tier_multiplier
        notes.append(
            Note(
                kind="tier",
                message=(
                    f"The {context.tier or 'customer'} tier earns "
                    f"{_fmt_multiplier(context.tier_multiplier)}: {_fmt(weighted)} counts as "
                    f"{_fmt(boosted)}."
                ),
                amount=boosted,
            )
        )
        weighted = boosted

    counted = weighted
    for kind, include, total, refunded_part in (
        ("shipping", rules.include_shipping, shipping, refunded_shipping),
        ("tax", rules.include_tax, tax, refunded_tax),
    ):
        if not include:
            continue
        part = _counted_share(total, refunded_part, kept_total, bought)
        if part:
            notes.append(
                Note(
                    kind=kind,  # type: ignore[arg-type]
                    message=f"{kind.capitalize()} of {_fmt(part)} counts at the base rate.",
                    amount=part,
                )
            )
        counted += part

    if not kept_total:
        notes.append(
            Note(
                kind="no_merchandise",
                message="No merchandise that earns is left (refunded, or gift cards only).",
                amount=kept_total,
            )
        )
        return _finish(results, notes, context, kept_total, counted, ZERO, 0, 0, rules)
    if kept_total < rules.min_order_amount:
        notes.append(
            Note(
                kind="minimum",
                message=(
                    f"The order's merchandise of {_fmt(kept_total)} is below the minimum of "
                    f"{_fmt(rules.min_order_amount)}: no points."
                ),
                amount=kept_total,
            )
        )
        return _finish(results, notes, context, kept_total, counted, ZERO, 0, 0, rules)

    raw = counted * rules.points_per_unit
    base = int(raw.to_integral_value(rounding=ROUNDINGS[rules.rounding]))
    notes.append(
        Note(
            kind="rate",
            message=(
                f"{_fmt(counted)} at {format(rules.points_per_unit.normalize(), 'f')} "
                f"{'point' if rules.points_per_unit == 1 else 'points'} per unit of currency "
                f"is {_fmt(raw)} points."
            ),
            amount=counted,
        )
    )
    if raw != base:
        notes.append(
            Note(
                kind="rounding",
                message=f"{_fmt(raw)} rounded {ROUNDING_WORDS[rules.rounding]} is {base}.",
                amount=raw,
                points=base,
            )
        )

    bonus = 0
    for candidate in bonus_campaigns:
        match = candidate.applies_to
        if match is not None and not any(match.matches(line) for line in kept_lines):
            continue
        points = candidate.bonus_points or 0
        bonus += points
        notes.append(
            Note(
                kind="bonus",
                message=f"Campaign {candidate.name!r} adds {points} points.",
                points=points,
                campaign_id=candidate.id,
            )
        )
    return _finish(results, notes, context, kept_total, counted, raw, base, bonus, rules)


def _finish(
    results: list[LineResult],
    notes: list[Note],
    context: OrderContext,
    kept_total: Decimal,
    counted: Decimal,
    raw: Decimal,
    base: int,
    bonus: int,
    rules: EarnRules,
) -> Breakdown:
    points = max(0, base + bonus)
    cap = rules.max_points_per_order
    if cap is not None and points > cap:
        notes.append(
            Note(
                kind="cap",
                message=f"{points} points capped at {cap} per order.",
                points=cap,
            )
        )
        points = cap
    if not context.live:
        status = (
            "a test order"
            if context.test
            else "cancelled"
            if context.cancelled
            else "fully refunded"
            if context.fully_refunded
            else "not paid"
        )
        notes.append(Note(kind="status", message=f"The order is {status}: no points.", points=0))
        points = 0
    return Breakdown(
        points=points,
        lines=tuple(results),
        notes=tuple(notes),
        merchandise_kept=kept_total,
        weighted_amount=counted,
        raw_points=raw,
        base_points=base,
        bonus_points=bonus,
    )
