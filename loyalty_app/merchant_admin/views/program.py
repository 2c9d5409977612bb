"""Program: how points are earned (rate, rounding, minimum, cap, line rules), actions
besides buying, expiry, the pending window, and the program's on/off switch. Saved through
``earning.services.program_update``, with the API's validation."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST

from loyalty_app.earning.rules import RulesError
from loyalty_app.earning.selectors import program_config, program_current

from ..auth import admin_page
from ..forms import ProgramForm
from ..services import admin_program_update
from .common import admin_redirect, admin_render

NEXT_PAGES = {"home": "merchant_admin:home", "settings": "merchant_admin:settings"}


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def program(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    current = program_current(shop=shop)
    if request.method == "POST":
        form = ProgramForm.from_post(request.POST)
        if form.validate():
            try:
                _, created = admin_program_update(
                    shop=shop,
                    data=form.data,
                    actor=request.admin_user,  # type: ignore[attr-defined]
                )
            except RulesError as exc:
                form.add_error(exc)
            else:
                return admin_redirect(
                    request,
                    "merchant_admin:program",
                    toast="program_saved" if created else "program_unchanged",
                )
        return admin_render(
            request,
            "admin/program.html",
            {"form": form.with_blank_rows(), "program": current},
            status=400,
            active="merchant_admin:program",
        )
    form = ProgramForm.from_config(program_config(current).to_dict())
    return admin_render(
        request,
        "admin/program.html",
        {"form": form, "program": current},
        active="merchant_admin:program",
    )


@require_POST
@admin_page
def program_status(request: HttpRequest) -> HttpResponse:
    """Pause the program or make it live: a new program version differing only in
    ``enabled``. From Home, Program or Settings; answers with the page it came from."""
    shop = request.shop  # type: ignore[attr-defined]
    enabled = request.POST.get("enabled") == "on"
    data = program_config(program_current(shop=shop)).to_dict()
    data["enabled"] = enabled
    admin_program_update(shop=shop, data=data, actor=request.admin_user)  # type: ignore[attr-defined]
    page = NEXT_PAGES.get(request.POST.get("next", ""), "merchant_admin:program")
    return admin_redirect(request, page, toast="program_live" if enabled else "program_paused")
