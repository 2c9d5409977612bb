"""Reporting periods: whole days in the shop's time zone, and the period before.

Pure: standard library only. A period is ``[start, end)`` in UTC, from local midnight of
its first day to local midnight after its last day, so a day of 23 or 25 hours (a clock
change) is still one day. The previous period is the same number of days just before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_DAYS = 30
MAX_DAYS = 731  # two years: the day series stays small enough to draw and to send


class PeriodError(ValueError):
    """A period that cannot be read; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date  # included
    zone: ZoneInfo

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def start(self) -> datetime:
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last_day + timedelta(days=1), self.zone)

    def previous(self) -> Period:
        """The period of the same number of days that ends where this one starts."""
        last = self.first_day - timedelta(days=1)
        return Period(first_day=last - timedelta(days=self.days - 1), last_day=last, zone=self.zone)

    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.days)]


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _day(field: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PeriodError(field, "a date as YYYY-MM-DD") from None


def period_from_query(
    *, first: str | None, last: str | None, zone: ZoneInfo, today: date
) -> Period:
    """The period ``from``..``to`` (both days included, in the shop's time zone).

    Missing ``to``: today. Missing ``from``: the 30 days that end on ``to``.
    """
    last_day = _day("to", last) if last else today
    first_day = _day("from", first) if first else last_day - timedelta(days=DEFAULT_DAYS - 1)
    if last_day < first_day:
        raise PeriodError("to", "must not be before from")
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise PeriodError("from", f"a period is at most {MAX_DAYS} days")
    return Period(first_day=first_day, last_day=last_day, zone=zone)
