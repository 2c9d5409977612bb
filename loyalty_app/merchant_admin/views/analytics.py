"""Analytics: whether the program pays. The period's headline figures against the period
before, day charts, the tier distribution, tables exported as CSV (``?export=<table>``),
and a "What if" card that replays the last months of orders under other earning rules
(read only: nothing is saved until the merchant changes the program itself)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_POST

from loyalty_app.analytics.charts import line_chart
from loyalty_app.analytics.periods import Period, PeriodError, period_from_query
from loyalty_app.analytics.presenters import (
    HEADLINES,
    changes,
    nps_change,
    nps_data,
    summary,
    tables,
    what_if_data,
)
from loyalty_app.analytics.selectors import Report, report
from loyalty_app.analytics.simulation import DEFAULT_MONTHS, MAX_MONTHS, what_if
from loyalty_app.cashback.policies import money_text
from loyalty_app.common.time import now
from loyalty_app.earning.policies import program_from_dict
from loyalty_app.earning.rules import ROUNDINGS, RulesError
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.surveys.models import SurveySettings
from loyalty_app.surveys.selectors import (
    RESPONSES_HEADER,
    nps,
    question_text,
    responses_rows,
    survey_settings_get,
)
from loyalty_app.surveys.services import survey_settings_update
from loyalty_app.tiers.selectors import shop_zone

from ..auth import admin_page
from ..chart import points_chart
from ..forms import FormErrors
from .common import admin_redirect, admin_render

REPORT_TTL_SECONDS = 300
BLUE, AMBER = "#2c6ecb", "#b98900"
# The tables shown as cards, each with its CSV export: (table, title, what it counts).
TABLE_CARDS = (
    (
        "behaviour",
        "Members and non-members",
        "Members joined or earned points; non-members are guest checkouts (one customer per "
        "order: a guest has no customer record) and customers who never earned. Projected "
        "value = value to date + this period's revenue per customer x 365 / days of the period.",
    ),
    ("redemptions_by_reward", "Redemptions by reward", "Failed deliveries left out."),
    (
        "coupon_return",
        "Coupon return",
        "Of the members who used a reward's code in the period, how many ordered again within "
        "30, 60 and 90 days (each counted once its window is over).",
    ),
    ("tier_moves", "Tier changes in the period", ""),
    ("points_per_day", "Points per day", ""),
)
# The what-if card's fields: the earning rules a merchant most often weighs.
WHAT_IF_FIELDS = ("points_per_unit", "rounding", "min_order_amount", "max_points_per_order")


RATES = frozenset({"participation_rate", "redemption_rate", "roi"})


def shown(key: str, value: Any, currency: str) -> str:
    """A figure as the page shows it: rates in percent, money with its currency."""
    if value is None:
        return "—"
    if key in RATES:
        return f"{Decimal(value) * 100:.1f}%"
    if isinstance(value, str):
        return f"{value} {currency}"
    return f"{value:,}"


@dataclass(frozen=True)
class Headline:
    key: str
    label: str
    value: str
    previous: str
    change: int | None

    @property
    def trend(self) -> str:
        if self.change is None:
            return "flat"
        return "up" if self.change > 0 else "down" if self.change < 0 else "flat"


def _reports(shop: Any, period: Period) -> tuple[Report, Report]:
    """The period's report and the previous period's, computed at most every five minutes
    per shop and period: a page of figures over many orders, not a live counter."""
    key = f"analytics:report:{shop.pk}:{period.first_day}:{period.last_day}"
    pair = cache.get(key)
    if pair is None:
        pair = (
            report(shop=shop, period=period),
            report(shop=shop, period=period.previous(), detail=False),
        )
        cache.set(key, pair, REPORT_TTL_SECONDS)
    return pair


def _csv_safe(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to a spreadsheet; names are the merchant's
    # own, but an export should open as data everywhere.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _is_number(value):
        return "'" + value
    return "" if value is None else value


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _export(current: Report, name: str) -> HttpResponse:
    found = tables(current).get(name)
    if found is None:
        raise Http404("no such table")
    header, rows = found
    return _csv(header, rows, name, current.period)


def _csv(header: list[str], rows: list[list[Any]], name: str, period: Period) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_safe(cell) for cell in row])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    filename = f"analytics-{name}-{period.first_day}-{period.last_day}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _what_if(request: HttpRequest, shop: Any) -> dict[str, Any]:
    """The card's form (prefilled with the rules in force) and, when asked, the replay."""
    current = program_config(program_current(shop=shop)).to_dict()
    values = {name: request.GET.get(name, "") for name in WHAT_IF_FIELDS}
    months_text = request.GET.get("months", str(DEFAULT_MONTHS))
    card: dict[str, Any] = {
        "values": {
            name: values[name] or ("" if current[name] is None else str(current[name]))
            for name in WHAT_IF_FIELDS
        },
        "months": months_text,
        "max_months": MAX_MONTHS,
        "roundings": list(ROUNDINGS),
        "error": "",
        "result": None,
        "tier_rows": [],
    }
    if request.GET.get("what_if") != "1":
        return card
    proposal = dict(current)
    for name in WHAT_IF_FIELDS:
        if values[name] != "":
            proposal[name] = (
                int(values[name])
                if name == "max_points_per_order" and values[name].isdigit()
                else values[name]
            )
        elif name == "max_points_per_order":
            proposal[name] = None
    try:
        months = int(months_text)
        if not 1 <= months <= MAX_MONTHS:
            raise ValueError
    except ValueError:
        card["error"] = f"Months: a whole number from 1 to {MAX_MONTHS}."
        return card
    try:
        program = program_from_dict(proposal)
    except RulesError as exc:
        card["error"] = f"{exc.field.replace('_', ' ').capitalize()}: {exc.message}."
        return card
    result = what_if(shop=shop, program=program, months=months)
    card["result"] = what_if_data(result, (shop.currency or "USD").upper())
    card["tier_rows"] = [
        (tier, now_members, proposed_members)
        for (tier, now_members), (_, proposed_members) in zip(
            result.current.tiers, result.proposed.tiers, strict=True
        )
    ]
    return card


@require_GET
@admin_page
def analytics(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@admin_page
def survey_settings(request: HttpRequest) -> HttpResponse:
    """The survey card's form: on/off and the question, audited (``surveys.services``)."""
    shop = request.shop  # type: ignore[attr-defined]
    values = {
        "enabled": request.POST.get("enabled") == "on",
        "question": request.POST.get("question", ""),
    }
    try:
        survey_settings_update(
            shop=shop,
            enabled=values["enabled"],
            question=values["question"],
            actor=request.admin_user,  # type: ignore[attr-defined]
        )
    except ValidationError as exc:
        errors = FormErrors()
        for name, messages in exc.message_dict.items():
            errors.add(name, messages[0])
        return _page(request, survey={"values": values, "errors": errors}, status=400)
    return admin_redirect(
        request,
        "merchant_admin:analytics",
        toast="survey_saved",
        **{"from": request.POST.get("from", ""), "to": request.POST.get("to", "")},
    )


def _nps_card(shop: Any, period: Period, previous: Period) -> dict[str, Any]:
    """The score of the period and of the one before, read now rather than from the cached
    reports (two small indexed queries), so an answer shows on the next page load."""
    now_nps = {"nps": nps_data(nps(shop=shop, period=period))}
    before = {"nps": nps_data(nps(shop=shop, period=previous))}
    return {
        "nps": now_nps["nps"],
        "nps_previous": before["nps"],
        "nps_change": nps_change(now_nps, before),
    }


def _survey_card(shop: Any) -> dict[str, Any]:
    row = survey_settings_get(shop=shop)
    return {
        "values": {"enabled": row.enabled, "question": row.question},
        "errors": FormErrors(),
    }


def _page(
    request: HttpRequest, *, survey: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    query = request.GET if request.method == "GET" else request.POST
    zone = shop_zone(shop)
    period_error = ""
    try:
        period = period_from_query(
            first=query.get("from") or None,
            last=query.get("to") or None,
            zone=zone,
            today=now().astimezone(zone).date(),
        )
    except PeriodError as exc:
        period_error = f"{'From' if exc.field == 'from' else 'To'}: {exc.message}."
        period = period_from_query(
            first=None, last=None, zone=zone, today=now().astimezone(zone).date()
        )
    if request.GET.get("export") == "nps_responses":  # the answers only: no report needed
        return _csv(
            RESPONSES_HEADER, responses_rows(shop=shop, period=period), "nps_responses", period
        )
    current, previous = _reports(shop, period)
    if request.GET.get("export"):
        return _export(current, request.GET["export"])

    currency = (shop.currency or "USD").upper()
    now_summary, before = summary(current), summary(previous)
    change = changes(now_summary, before)
    headlines = [
        Headline(
            key=key,
            label=label,
            value=shown(key, now_summary[section][key], currency),
            previous=shown(key, before[section][key], currency),
            change=change[f"{section}.{key}"],
        )
        for section, key, label in HEADLINES
    ]
    days = current.period.day_list()
    revenue = [current.revenue_days.get(day, (Decimal(0), Decimal(0))) for day in days]
    members = current.members_days
    every = tables(current)
    tier_rows = current.tiers.members if current.tiers else []
    tier_peak = max([n for _, n in tier_rows] + [1])
    return admin_render(
        request,
        "admin/analytics.html",
        {
            "period": current.period,
            "previous_period": previous.period,
            "period_error": period_error,
            "currency": currency,
            "headlines": headlines,
            "figures": now_summary,
            "figures_previous": before,
            "report": current,
            "points_chart": points_chart([(d.day, d.issued, d.redeemed) for d in current.days]),
            "line_charts": [
                (
                    line_chart(
                        days,
                        [("members", "New members", BLUE, [members.get(day, 0) for day in days])],
                    ),
                    "New members per day",
                    "members-chart",
                ),
                (
                    line_chart(
                        days,
                        [
                            ("members", "Members", BLUE, [m for m, _ in revenue]),
                            ("non-members", "Non-members", AMBER, [o for _, o in revenue]),
                        ],
                    ),
                    f"Revenue per day, members and non-members ({currency})",
                    "revenue-chart",
                ),
            ],
            "tier_rows": [
                (tier or "No tier", n, round(n * 100 / tier_peak)) for tier, n in tier_rows
            ],
            "code_orders_revenue": money_text(current.code_orders.revenue, currency),
            "table_cards": [
                {"name": name, "title": title, "help": help_text, "header": header, "rows": rows}
                for name, title, help_text in TABLE_CARDS
                for header, rows in [every[name]]
            ],
            "what_if": _what_if(request, shop),
            **_nps_card(shop, current.period, previous.period),
            "survey": survey or _survey_card(shop),
            "default_question": question_text(shop=shop, settings=SurveySettings(shop=shop)),
        },
        status=status,
        active="merchant_admin:analytics",
    )
