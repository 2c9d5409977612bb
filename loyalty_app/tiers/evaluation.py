"""What a member's tier becomes: the pure rules of upgrades, retention and downgrades.

Pure: standard library and ``policies`` only, no Django, no I/O.

The rules
=========
- The tier a member *earns* is ``policies.tier_for`` of the period's metric (and, with
  retention, the previous period's): the highest tier whose threshold it reaches.
- **Upgrades at once.** As soon as a member earns a tier above the one they hold (an
  order's points, an action's points, a definition change), they move up.
- **A tier is kept for its period** (``retention_end``): until 1 January after the year it
  was reached in (calendar year), for 12 months after it was last reached (rolling 12
  months), for ever (lifetime). Retention adds one period: a tier reached in 2025 is kept
  through 2026. Reaching the tier again renews it; nothing shortens it.
- **Downgrades only when that time has come** (``retained_until`` passed): the period-end
  job then moves the member to the tier they earn at that moment, which may be the same
  (renewed) or none. A refund or cancellation arriving mid-period therefore never demotes.
- **The refund rule** (``Mode.REFUND``): an upgrade is undone when the order that made it is
  refunded or cancelled within ``REFUND_UNDO_DAYS`` of the upgrade and the member no
  longer earns the tier without it. The member goes back to the tier held before that
  upgrade (or the tier they earn, if higher). Only the latest upgrade can be undone, and
  only by its own order.
- **A definition change** moves every member to what the new definition gives, up or down,
  except that a member keeps a tier the new definition still has while its retention
  lasts. A tier the definition no longer has is left at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from loyalty_app.earning.policies import add_months

from .policies import Tier, TierProgramConfig, tier_for, tier_index

# How long after an upgrade a refund of the order that made it can undo it: the usual
# return window of a shop.
REFUND_UNDO_DAYS = 30
REFUND_UNDO = timedelta(days=REFUND_UNDO_DAYS)


class Mode(enum.Enum):
    AWARD = "award"  # an order or action was awarded: upgrades only
    REFUND = "refund"  # the order behind the latest upgrade lost value: the refund rule
    PERIOD_END = "period_end"  # the scheduled job: downgrades once retention ended
    DEFINITION_CHANGE = "definition_change"  # a new definition version


@dataclass(frozen=True)
class Held:
    """What the member holds now (``MemberTier``), or ``Held()``: no tier."""

    tier: str | None = None
    retained_until: datetime | None = None
    previous_tier: str = ""
    qualifying_order: str = ""
    since: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """The member's tier after the rules, and whether anything must be written.

    ``changed``: the tier itself changes (an event, the shop's tags); ``renewed``: only
    ``retained_until`` moves. ``reason`` is one of ``TierEvent.Reason``'s values.
    """

    tier: Tier | None
    changed: bool
    renewed: bool
    retained_until: datetime | None
    reason: str
    upgrade: bool


def _local_new_year(year: int, zone: ZoneInfo) -> datetime:
    return datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)


def retention_end(
    config: TierProgramConfig, *, at: datetime, zone: ZoneInfo, by_current: bool
) -> datetime | None:
    """Until when a tier earned at ``at`` is kept. ``by_current``: this period's metric
    reaches it (otherwise only the previous period's does, under retention).

    None: for ever (lifetime). A tier held only through the previous period is kept to
    the end of this calendar year; under a rolling period it gets no renewal (``at``), so
    the daily job looks at it again each day and lowers it the day the previous window no
    longer reaches it.
    """
    if config.period == "lifetime":
        return None
    if config.period == "calendar_year":
        year = at.astimezone(zone).year
        if by_current and config.retention:
            return _local_new_year(year + 2, zone)
        return _local_new_year(year + 1, zone)
    if not by_current:
        return at.astimezone(UTC)
    return add_months(at.astimezone(UTC), 24 if config.retention else 12)


def _position(config: TierProgramConfig, tier: Tier | None) -> int:
    return -1 if tier is None else config.tiers.index(tier)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return None if (a is None and b is None) else (a or b)
    return max(a, b)


def tier_decide(
    config: TierProgramConfig,
    *,
    held: Held,
    value: int | Decimal,
    previous: int | Decimal | None,
    at: datetime,
    zone: ZoneInfo,
    mode: Mode,
    order_id: str = "",
) -> Decision:
    """Apply the module's rules to one member. ``value``/``previous``: the metric in this
    period and (under retention) the previous one, as ``selectors.member_metric`` gives.
    ``order_id``: the order whose change asks (``AWARD``/``REFUND``)."""
    earned = tier_for(config, value, previous)
    reached_now = tier_index(config, value)
    current = config.tier(held.tier)
    earned_at, held_at = _position(config, earned), _position(config, current)

    def ends(tier: Tier | None) -> datetime | None:
        if tier is None:
            return None
        by_current = reached_now is not None and reached_now >= _position(config, tier)
        return retention_end(config, at=at, zone=zone, by_current=by_current)

    def keep() -> Decision:
        return Decision(current, False, False, held.retained_until, "", False)

    def move(tier: Tier | None, reason: str) -> Decision:
        up = _position(config, tier) > held_at
        return Decision(tier, True, False, ends(tier), reason, up)

    if held.tier is not None and current is None:
        # The definition no longer has the held tier (renamed or removed).
        return move(earned, "definition_change")
    if earned_at > held_at:
        reason = "definition_change" if mode is Mode.DEFINITION_CHANGE else "qualified"
        return move(earned, reason)
    if earned_at == held_at:
        if current is None:
            return keep()
        renewed = _later(held.retained_until, ends(current))
        if config.period == "lifetime" or renewed == held.retained_until:
            return keep()
        return Decision(current, False, True, renewed, "", False)
    # The member earns less than they hold.
    if mode is Mode.AWARD:
        return keep()
    if mode is Mode.REFUND:
        undoable = (
            order_id
            and held.qualifying_order == order_id
            and held.since is not None
            and at - held.since <= REFUND_UNDO
        )
        if not undoable:
            return keep()
        before = config.tier(held.previous_tier or None)
        back = before if _position(config, before) > earned_at else earned
        return move(back, "refund")
    due = held.retained_until is not None and held.retained_until <= at
    if mode is Mode.PERIOD_END:
        return move(earned, "period_end") if due else keep()
    # A definition change: the new thresholds apply, but a tier still defined is kept
    # while its retention lasts (a lifetime tier has none: it follows the definition).
    if held.retained_until is None or due:
        return move(earned, "definition_change")
    return keep()


def period_key(config: TierProgramConfig, *, at: datetime, zone: ZoneInfo) -> str:
    """The period an entry reward is given once in: ``lifetime``, or the year (in the
    shop's time zone) for the calendar year and the rolling 12 months."""
    if config.period == "lifetime":
        return "lifetime"
    return str(at.astimezone(zone).year)
