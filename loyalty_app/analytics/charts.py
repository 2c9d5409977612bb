"""Line charts of day series as SVG geometry, drawn by the Analytics page's template.

Pure: plain values in, coordinates out. The chart is part of the page the server sends,
like the Home page's (``merchant_admin.chart``): no script and no chart library to ship,
vendor or keep up to date, nothing fetched at run time, and the figures stay readable
without JavaScript (each series is also listed in the page's tables and CSV exports).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from loyalty_app.merchant_admin.chart import DayLabel, Tick, nice_ceiling, short_number

Number = int | Decimal


@dataclass(frozen=True)
class Line:
    key: str  # the series' CSS-safe name
    label: str
    colour: str
    points: str  # "x,y x,y ..." for <polyline points>
    total: Number


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_bottom: float
    lines: list[Line]
    ticks: list[Tick]
    day_labels: list[DayLabel]
    empty: bool


def line_chart(
    days: Sequence[date],
    series: Sequence[tuple[str, str, str, Sequence[Number]]],
    *,
    width: int = 720,
    height: int = 220,
) -> LineChart:
    """One line per series ``(key, label, colour, values per day)`` on a shared scale from
    0 to a round maximum, four gridlines, and about six date labels."""
    left, right, top, bottom = 52.0, width - 8.0, 12.0, height - 28.0
    peak = max([max((int(v) for v in values), default=0) for *_, values in series] + [0])
    scale_max = nice_ceiling(peak)
    count = max(len(days), 1)
    step = (right - left) / max(count - 1, 1)

    def x(i: int) -> float:
        return round(left + i * step, 1) if count > 1 else round((left + right) / 2, 1)

    def y(value: Number) -> float:
        return round(bottom - (bottom - top) * float(value) / scale_max, 1)

    lines = [
        Line(
            key=key,
            label=label,
            colour=colour,
            points=" ".join(f"{x(i)},{y(max(v, 0))}" for i, v in enumerate(values)),
            total=sum(values, type(values[0])(0) if values else 0),
        )
        for key, label, colour, values in series
    ]
    ticks = [Tick(y=y(scale_max * k / 4), label=short_number(scale_max * k // 4)) for k in range(5)]
    every = max(count // 6, 1)
    labels = [
        DayLabel(x=x(i), label=day.strftime("%-d %b"))
        for i, day in enumerate(days)
        if i % every == 0
    ]
    return LineChart(
        width=width,
        height=height,
        plot_left=left,
        plot_right=right,
        plot_bottom=bottom,
        lines=lines,
        ticks=ticks,
        day_labels=labels,
        empty=peak == 0,
    )
