"""The Home page's chart of points issued and redeemed per day, as SVG geometry.

Pure: plain values in, coordinates out; the template draws them. No chart library, no
script: the chart is part of the page the server sends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str  # "issued" | "redeemed"
    label: str  # what a screen reader and the tooltip say


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class DayLabel:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: float
    plot_bottom: float
    plot_right: float
    bars: list[Bar]
    ticks: list[Tick]
    day_labels: list[DayLabel]
    empty: bool


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (min 10)."""
    if value <= 10:
        return 10
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def short_number(value: int) -> str:
    """An axis label: 1500 -> "1.5k", 2000000 -> "2M"."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1_000:
        return f"{value / 1_000:g}k"
    return str(value)


def points_chart(
    days: Sequence[tuple[date, int, int]], *, width: int = 720, height: int = 240
) -> Chart:
    """Two bars per day (issued, redeemed) on a shared scale from 0 to a round maximum,
    four gridlines, and a date label every week."""
    left, right, top, bottom = 48.0, width - 8.0, 12.0, height - 28.0
    peak = max([max(issued, redeemed) for _, issued, redeemed in days] + [0])
    scale_max = nice_ceiling(peak)
    slot = (right - left) / max(len(days), 1)
    bar_width = max(slot * 0.38, 1.0)
    bars: list[Bar] = []
    labels: list[DayLabel] = []
    for index, (day, issued, redeemed) in enumerate(days):
        x = left + index * slot + slot * 0.1
        for offset, series, value in ((0.0, "issued", issued), (bar_width, "redeemed", redeemed)):
            bar_height = (bottom - top) * value / scale_max
            bars.append(
                Bar(
                    x=round(x + offset, 2),
                    y=round(bottom - bar_height, 2),
                    width=round(bar_width, 2),
                    height=round(bar_height, 2),
                    series=series,
                    label=f"{day:%d %b}: {value} points {series}",
                )
            )
        if (len(days) - 1 - index) % 7 == 0:
            labels.append(DayLabel(x=round(x + bar_width, 2), label=f"{day:%d %b}"))
    ticks = [
        Tick(y=round(bottom - (bottom - top) * i / 4, 2), label=short_number(scale_max * i // 4))
        for i in range(5)
    ]
    return Chart(
        width=width,
        height=height,
        plot_left=left,
        plot_bottom=bottom,
        plot_right=right,
        bars=bars,
        ticks=ticks,
        day_labels=labels,
        empty=peak == 0,
    )
