"""Tiers and Cash-back: one tier definition (``tiers.services.tier_program_update``, a new
version each save), edited in two pages; a live preview of how many members each tier
would hold, answered as JSON while the form changes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods, require_POST

from loyalty_app.common.time import now
from loyalty_app.rewards.selectors import rewards_list
from loyalty_app.tiers.policies import (
    DELIVERIES,
    METRICS,
    PERIODS,
    ConfigError,
    tier_program_from_dict,
)
from loyalty_app.tiers.selectors import (
    tier_distribution,
    tier_program_config,
    tier_program_current,
)

from ..auth import admin_page
from ..forms import TierForm, messages_by_input
from ..services import admin_tier_program_update
from .common import admin_redirect, admin_render

METRIC_LABELS = {
    "points_earned": "Points earned",
    "amount_spent": "Amount spent",
    "orders_count": "Number of orders",
}
PERIOD_LABELS = {
    "lifetime": "Since joining",
    "calendar_year": "This calendar year",
    "rolling_12_months": "The last 12 months",
}


def _stored(request: HttpRequest) -> tuple[object, dict]:
    current = tier_program_current(shop=request.shop)  # type: ignore[attr-defined]
    return current, tier_program_config(current).to_dict()


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def tiers(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    current, stored = _stored(request)
    status = 200
    if request.method == "POST":
        form = TierForm.tiers_from_post(request.POST, stored)
        try:
            _, created = admin_tier_program_update(
                shop=shop,
                data=form.data,
                actor=request.admin_user,  # type: ignore[attr-defined]
            )
        except ValidationError as exc:
            form.set_errors(exc.message_dict)
            status = 400
        else:
            return admin_redirect(
                request,
                "merchant_admin:tiers",
                toast="tiers_saved" if created else "program_unchanged",
            )
    else:
        form = TierForm.from_definition(stored)
    return admin_render(
        request,
        "admin/tiers.html",
        {
            "form": form.with_blank_rows(),
            "program": current,
            "metrics": [(m, METRIC_LABELS[m]) for m in METRICS],
            "periods": [(p, PERIOD_LABELS[p]) for p in PERIODS],
            "rewards": list(rewards_list(shop=shop).only("id", "title")[:200]),
        },
        status=status,
        active="merchant_admin:tiers",
    )


@require_POST
@admin_page
def tiers_preview(request: HttpRequest) -> JsonResponse:
    """How many members each tier of the form's (unsaved) definition would hold now.
    One aggregate query, whatever the number of members; nothing is written."""
    shop = request.shop  # type: ignore[attr-defined]
    _, stored = _stored(request)
    form = TierForm.tiers_from_post(request.POST, stored)
    try:
        definition = tier_program_from_dict(form.data)
    except ConfigError as exc:
        return JsonResponse(
            {
                "errors": messages_by_input(exc.errors, form.rows).by_input,
                "results": [],
                "summary": "Fix the highlighted fields to see how many members each tier holds.",
            }
        )
    counts = tier_distribution(shop=shop, definition=definition, at=now())
    results = [
        {"key": f"tiers-{row}-members", "text": f"{count:,d} member{'s' if count != 1 else ''}"}
        for row, (_, count) in zip(form.rows, counts[1:], strict=True)
    ]
    outside = counts[0][1]
    return JsonResponse(
        {
            "results": results,
            "summary": f"{outside:,d} member{'s' if outside != 1 else ''} in no tier.",
            "counts": [{"tier": name, "members": count} for name, count in counts],
        }
    )


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def cashback(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    current, stored = _stored(request)
    status = 200
    if request.method == "POST":
        form = TierForm.cashback_from_post(request.POST, stored)
        try:
            _, created = admin_tier_program_update(
                shop=shop,
                data=form.data,
                actor=request.admin_user,  # type: ignore[attr-defined]
            )
        except ValidationError as exc:
            form.errors = messages_by_input(exc.message_dict, list(range(len(form.tiers))))
            status = 400
        else:
            return admin_redirect(
                request,
                "merchant_admin:cashback",
                toast="cashback_saved" if created else "program_unchanged",
            )
    else:
        form = TierForm.from_definition(stored)
    return admin_render(
        request,
        "admin/cashback.html",
        {"form": form, "program": current, "deliveries": DELIVERIES},
        status=status,
        active="merchant_admin:cashback",
    )
