"""The figures as plain data: the API's JSON and the admin's CSV tables read the same.

Money is text with the currency's decimals ("12.50"), rates are text with four decimals
("0.2500", a share of 1), points and counts are integers; an unknown figure (no basis,
e.g. a rate of nothing) is null.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from loyalty_app.cashback.policies import money_text

from .selectors import Behaviour, Report, percent_change, ratio
from .simulation import Side, WhatIf

if TYPE_CHECKING:
    from loyalty_app.surveys.selectors import Nps


def money(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else money_text(value, currency)


def rate(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def per_point(value: Decimal | None) -> str | None:
    """The value of one point: more decimals than money (a point is often a cent or less)."""
    return None if value is None else format(value.quantize(Decimal("0.000001")).normalize(), "f")


def _behaviour(group: Behaviour, currency: str) -> dict[str, Any]:
    return {
        "customers": group.customers,
        "orders": group.orders,
        "revenue": money(group.revenue, currency),
        "repeat_purchase_rate": rate(group.repeat_purchase_rate),
        "orders_per_customer": rate(group.orders_per_customer),
        "average_order_value": money(group.average_order_value, currency),
        "revenue_per_customer": money(group.revenue_per_customer, currency),
        "clv_to_date": money(group.clv_to_date, currency),
        "clv_projected": money(group.clv_projected, currency),
        "mean_days_between_orders": rate(group.mean_days_between_orders),
    }


def summary(report: Report) -> dict[str, Any]:
    """The headline sections of a period (the previous period is shown with these only)."""
    currency = (report.shop.currency or "USD").upper()
    size, pts, roi = report.size, report.points, report.roi
    return {
        "program": {
            "customers": size.customers,
            "members": size.members,
            "new_members": size.new_members,
            "member_customers": size.member_customers,
            "guest_orders": size.guest_orders,
            "participation_rate": rate(size.participation_rate),
            "active_members": size.active_members,
        },
        "points": {
            "issued": pts.issued,
            "taken_back": pts.taken_back,
            "redeemed": pts.redeemed,
            "expired": pts.expired,
            "pending": report.pending,
            "redemption_rate": rate(pts.redemption_rate),
            "breakage": rate(pts.breakage),
            "outstanding": report.outstanding,
            "point_value": per_point(report.point_value.value),
            "liability": money(report.liability, currency),
        },
        "behaviour": {
            "members": _behaviour(report.members, currency),
            "non_members": _behaviour(report.non_members, currency),
        },
        "cashback": {
            "credited": money(report.cashback.credited, currency),
            "reversed": money(report.cashback.reversed, currency),
            "net": money(report.cashback.net, currency),
        },
        "cost": {
            "rewards_value": money(roi.rewards_value, currency),
            "cashback": money(roi.cashback_net, currency),
            "total": money(roi.cost, currency),
            "share_of_members_revenue": rate(roi.cost_share_of_members_revenue),
            "members_revenue": money(roi.members_revenue, currency),
            "baseline_revenue_per_customer": money(roi.baseline_per_customer, currency),
            "attributed_revenue": money(roi.attributed_revenue, currency),
            "roi": rate(roi.roi),
        },
        "nps": nps_data(report.nps),
        "referrals": referrals_data(report),
    }


def referrals_data(report: Report) -> dict[str, Any] | None:
    """Refer-a-friend in the period: friends invited, first orders that counted, their
    share, the referred customers' revenue and the referrers' rewards."""
    figures = report.referrals
    if figures is None:
        return None
    return {
        "referrals": figures.referrals,
        "conversions": figures.conversions,
        "conversion_rate": rate(ratio(figures.conversions, figures.referrals)),
        "refused": figures.refused,
        "revenue": money(figures.revenue, (report.shop.currency or "USD").upper()),
        "rewards_issued": figures.rewards_issued,
        "points_issued": figures.points_issued,
    }


def nps_data(figures: Nps) -> dict[str, Any]:
    """The survey's net promoter score (-100 to 100, one decimal, text) and its counts."""
    score = figures.score
    return {
        "score": None if score is None else format(score, "f"),
        "responses": figures.responses,
        "promoters": figures.promoters,
        "passives": figures.passives,
        "detractors": figures.detractors,
        "dismissed": figures.dismissed,
    }


def nps_change(current: dict[str, Any], previous: dict[str, Any]) -> str | None:
    """The score's change against the previous period, in points ("+12.5"), not percent:
    a score runs from -100 to 100, so a percent of it means nothing. None: no basis."""
    now_score, before = current["nps"]["score"], previous["nps"]["score"]
    if now_score is None or before is None:
        return None
    return format(Decimal(now_score) - Decimal(before), "+f")


# The headline figures compared with the previous period: (section, key, label).
HEADLINES = (
    ("program", "customers", "Customers"),
    ("program", "members", "Members"),
    ("program", "participation_rate", "Participation"),
    ("program", "active_members", "Active members"),
    ("points", "issued", "Points issued"),
    ("points", "redeemed", "Points redeemed"),
    ("points", "redemption_rate", "Redemption rate"),
    ("points", "liability", "Outstanding liability"),
    ("cost", "total", "Program cost"),
    ("cost", "attributed_revenue", "Attributed revenue"),
    ("cost", "roi", "ROI"),
)


def _number(value: Any) -> Decimal | int | None:
    if value is None or isinstance(value, int):
        return value
    return Decimal(value)


def changes(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, int | None]:
    """The headline figures' change against the previous period, in whole percent."""
    return {
        f"{section}.{key}": percent_change(
            _number(current[section][key]), _number(previous[section][key])
        )
        for section, key, _ in HEADLINES
    }


def tables(report: Report) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Every table of the period as (header, rows): the API's lists and the CSV exports."""
    currency = (report.shop.currency or "USD").upper()
    revenue_days = report.revenue_days
    members_days = report.members_days
    return {
        "points_per_day": (
            ["day", "issued", "redeemed", "outstanding"],
            [[d.day.isoformat(), d.issued, d.redeemed, d.outstanding] for d in report.days],
        ),
        "members_per_day": (
            ["day", "new_members"],
            [[day.isoformat(), members_days.get(day, 0)] for day in report.period.day_list()],
        ),
        "revenue_per_day": (
            ["day", "members", "non_members"],
            [
                [
                    day.isoformat(),
                    money(revenue_days.get(day, (Decimal(0), Decimal(0)))[0], currency),
                    money(revenue_days.get(day, (Decimal(0), Decimal(0)))[1], currency),
                ]
                for day in report.period.day_list()
            ],
        ),
        "behaviour": (
            ["group", *_behaviour(report.members, currency).keys()],
            [
                ["members", *_behaviour(report.members, currency).values()],
                ["non_members", *_behaviour(report.non_members, currency).values()],
            ],
        ),
        "redemptions_by_reward": (
            ["reward_id", "title", "kind", "redemptions", "points", "value", "used"],
            [
                [
                    row.reward_id,
                    row.title,
                    row.kind,
                    row.redemptions,
                    row.points,
                    money(row.value, currency),
                    row.used,
                ]
                for row in report.rewards
            ],
        ),
        "coupon_return": (
            ["days", "customers", "returned", "rate"],
            [[r.days, r.customers, r.returned, rate(r.rate)] for r in report.coupon_return],
        ),
        "tiers": (
            ["tier", "members"],
            [[tier or "", n] for tier, n in (report.tiers.members if report.tiers else [])],
        ),
        "tier_moves": (
            ["from_tier", "to_tier", "members"],
            [
                [m.from_tier, m.to_tier, m.members]
                for m in (report.tiers.moves if report.tiers else [])
            ],
        ),
    }


def as_data(report: Report, previous: Report) -> dict[str, Any]:
    """The API's answer: the period's figures, the previous period's headline sections,
    the headline changes in percent, the day series and the tables."""
    currency = (report.shop.currency or "USD").upper()
    now_summary, before = summary(report), summary(previous)
    listed = {
        name: [dict(zip(header, row, strict=True)) for row in rows]
        for name, (header, rows) in tables(report).items()
        if name != "behaviour"
    }
    return {
        "from": report.period.first_day.isoformat(),
        "to": report.period.last_day.isoformat(),
        "days": report.period.days,
        "currency": currency,
        "timezone": report.period.zone.key,
        **now_summary,
        "rewards": {
            "redemptions_by_reward": listed.pop("redemptions_by_reward"),
            "code_orders": report.code_orders.orders,
            "code_orders_revenue": money(report.code_orders.revenue, currency),
            "coupon_return": listed.pop("coupon_return"),
        },
        "tiers": {"members": listed.pop("tiers"), "moves": listed.pop("tier_moves")},
        "series": listed,
        "previous": {
            "from": previous.period.first_day.isoformat(),
            "to": previous.period.last_day.isoformat(),
            **before,
        },
        "changes": changes(now_summary, before),
        "nps_change": nps_change(now_summary, before),
    }


def _side(side: Side, currency: str) -> dict[str, Any]:
    return {
        "points_issued": side.points_issued,
        "expected_redeemed": side.expected_redeemed,
        "cost": money(side.cost, currency),
        "cost_share_of_revenue": rate(side.cost_share),
        "liability": money(side.liability, currency),
        "tiers": [{"tier": tier, "members": n} for tier, n in side.tiers],
    }


def what_if_data(result: WhatIf, currency: str) -> dict[str, Any]:
    return {
        "months": result.months,
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "currency": currency,
        "orders": result.orders,
        "revenue": money(result.revenue, currency),
        "redemption_rate": rate(result.redemption_rate),
        "point_value": per_point(result.point_value.value),
        "point_value_reward": result.point_value.reward_title or None,
        "current": _side(result.current, currency),
        "proposed": _side(result.proposed, currency),
    }
