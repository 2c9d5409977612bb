"""Home: the program's status, the key figures of the last 30 days against the 30
before, points issued and redeemed per day, and what a new shop still has to do."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from ..auth import admin_page
from ..chart import points_chart
from ..selectors import home_figures_cached, onboarding_checklist
from .common import admin_render, program_is_live


@require_GET
@admin_page
def home(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    figures = home_figures_cached(shop=shop)
    checklist = onboarding_checklist(shop=shop)
    chart = points_chart([(d.day, d.issued, d.redeemed) for d in figures.days])
    return admin_render(
        request,
        "admin/home.html",
        {
            "live": program_is_live(shop),
            "figures": figures,
            "chart": chart,
            "checklist": checklist,
            "checklist_done": sum(step.done for step in checklist),
            "checklist_complete": all(step.done for step in checklist),
        },
        active="merchant_admin:home",
    )
