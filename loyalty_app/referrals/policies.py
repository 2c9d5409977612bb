"""The referral program's rules as plain values: validation of the settings, the offer
in words, the cap's period. Pure: no ORM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

FRIEND_KINDS = ("fixed_amount", "percentage")
REFERRER_KINDS = ("points", "reward")
CAP_PERIODS = ("week", "month", "year", "lifetime")
MAX_MONEY = Decimal("100000")
MAX_POINTS = 1_000_000
MAX_DAYS_VALID = 365
MAX_CAP = 10_000


class ProgramError(ValueError):
    """Settings that cannot be saved; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ProgramSettings:
    """What ``PUT /api/v1/referrals/program`` and the admin's form set."""

    enabled: bool = False
    friend_kind: str = "fixed_amount"
    friend_value: Decimal = Decimal("10")
    friend_min_subtotal: Decimal | None = None
    friend_days_valid: int = 30
    referrer_kind: str = "points"
    referrer_points: int = 500
    referrer_reward_id: int | None = None
    cap_count: int = 0
    cap_period: str = "month"

    def friend_offer(self, *, currency: str) -> str:
        """The friend's welcome offer in words (``friend_offer_text``)."""
        return friend_offer_text(
            kind=self.friend_kind,
            value=self.friend_value,
            min_subtotal=self.friend_min_subtotal,
            currency=currency,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "friend_reward": {
                "kind": self.friend_kind,
                "value": str(self.friend_value),
                "min_subtotal": (
                    None if self.friend_min_subtotal is None else str(self.friend_min_subtotal)
                ),
                "days_valid": self.friend_days_valid,
            },
            "referrer_reward": (
                {"kind": "points", "points": self.referrer_points}
                if self.referrer_kind == "points"
                else {"kind": "reward", "reward_id": self.referrer_reward_id}
            ),
            "cap": (
                {"count": self.cap_count, "period": self.cap_period} if self.cap_count else None
            ),
        }


def _money(value: Any, field: str, errors: dict[str, str], *, allow_none: bool) -> Decimal | None:
    if value is None or value == "":
        if not allow_none:
            errors[field] = "Enter an amount."
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        errors[field] = "Enter an amount such as 10 or 10.50 (text, not a number)."
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        errors[field] = "Enter an amount such as 10 or 10.50."
        return None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        errors[field] = "Use at most two decimals."
        return None
    if amount <= 0 or amount > MAX_MONEY:
        errors[field] = f"Enter an amount above 0 and at most {MAX_MONEY}."
        return None
    return amount


def _int(value: Any, field: str, errors: dict[str, str], *, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors[field] = f"Enter a whole number from {low} to {high}."
        return low
    return value


def _obj(value: Any, field: str, errors: dict[str, str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors[field] = "Must be an object."
        return {}
    return value


def program_settings_from_dict(data: Any) -> ProgramSettings:
    """Validate the settings (the API's JSON, the admin form's values); raises
    ``ProgramError`` naming every field that is wrong (dotted: ``friend_reward.value``)."""
    errors: dict[str, str] = {}
    if not isinstance(data, dict):
        raise ProgramError({"non_field_errors": "Send a JSON object."})
    enabled = data.get("enabled", False)
    if not isinstance(enabled, bool):
        errors["enabled"] = "Must be true or false."
    friend = _obj(data.get("friend_reward"), "friend_reward", errors)
    kind = friend.get("kind", "fixed_amount")
    if kind not in FRIEND_KINDS:
        errors["friend_reward.kind"] = "Choose fixed_amount or percentage."
    value = _money(friend.get("value"), "friend_reward.value", errors, allow_none=False)
    if kind == "percentage" and value is not None and value > 100:
        errors["friend_reward.value"] = "A percentage is at most 100."
    minimum = _money(
        friend.get("min_subtotal"), "friend_reward.min_subtotal", errors, allow_none=True
    )
    days = _int(
        friend.get("days_valid", 30), "friend_reward.days_valid", errors, low=1, high=MAX_DAYS_VALID
    )
    referrer = _obj(data.get("referrer_reward"), "referrer_reward", errors)
    rkind = referrer.get("kind", "points")
    points = 0
    reward_id: int | None = None
    if rkind == "points":
        points = _int(
            referrer.get("points"), "referrer_reward.points", errors, low=1, high=MAX_POINTS
        )
    elif rkind == "reward":
        reward_id = _int(
            referrer.get("reward_id"), "referrer_reward.reward_id", errors, low=1, high=2**62
        )
    else:
        errors["referrer_reward.kind"] = "Choose points or reward."
    cap = _obj(data.get("cap"), "cap", errors)
    cap_count = 0
    cap_period = "month"
    if cap:
        cap_count = _int(cap.get("count"), "cap.count", errors, low=0, high=MAX_CAP)
        cap_period = cap.get("period", "month")
        if cap_period not in CAP_PERIODS:
            errors["cap.period"] = "Choose week, month, year or lifetime."
    if errors:
        raise ProgramError(errors)
    return ProgramSettings(
        enabled=bool(enabled),
        friend_kind=kind,
        friend_value=value or Decimal("0"),
        friend_min_subtotal=minimum,
        friend_days_valid=days,
        referrer_kind=rkind,
        referrer_points=points if rkind == "points" else 0,
        referrer_reward_id=reward_id,
        cap_count=cap_count,
        cap_period=cap_period,
    )


def money_words(amount: Decimal, currency: str) -> str:
    """``10.00 USD`` as "10 USD", ``12.50`` as "12.50 USD"."""
    text = f"{amount:.2f}"
    if text.endswith(".00"):
        text = text[:-3]
    return f"{text} {currency}"


def friend_offer_text(
    *, kind: str, value: Decimal, min_subtotal: Decimal | None, currency: str
) -> str:
    """The friend's welcome offer in words: "10 USD off your first order of 30 USD or more"."""
    if kind == "percentage":
        pct = f"{value:.2f}".rstrip("0").rstrip(".")
        text = f"{pct}% off your first order"
    else:
        text = f"{money_words(value, currency)} off your first order"
    if min_subtotal:
        text += f" of {money_words(min_subtotal, currency)} or more"
    return text


def cap_window_start(*, period: str, at: datetime, zone: ZoneInfo) -> datetime | None:
    """Where the cap's current period began (calendar periods in the shop's time zone),
    or None for ``lifetime`` (every reward counts)."""
    local = at.astimezone(zone)
    if period == "lifetime":
        return None
    if period == "year":
        start = datetime(local.year, 1, 1, tzinfo=zone)
    elif period == "month":
        start = datetime(local.year, local.month, 1, tzinfo=zone)
    else:  # a week starts on Monday
        day = local.date() - timedelta(days=local.weekday())
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start.astimezone(UTC)
