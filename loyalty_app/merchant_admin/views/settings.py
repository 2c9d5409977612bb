"""Settings: how the storefront widget looks (colours, texts, launcher position, on/off)
and the program's on/off switch."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from ..auth import admin_page
from ..forms import FormErrors
from ..models import WidgetSettings
from ..selectors import widget_settings_get
from ..services import WIDGET_FIELDS, widget_settings_update
from .common import admin_redirect, admin_render, program_is_live


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def settings_page(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    errors = FormErrors()
    status = 200
    if request.method == "POST":
        data = {
            name: request.POST.get(name, "").strip() for name in WIDGET_FIELDS if name != "enabled"
        }
        data["enabled"] = request.POST.get("enabled") == "on"
        try:
            widget_settings_update(
                shop=shop,
                data=data,
                actor=request.admin_user,  # type: ignore[attr-defined]
            )
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.add(name, messages[0])
            values = data
            status = 400
        else:
            return admin_redirect(request, "merchant_admin:settings", toast="settings_saved")
    else:
        values = widget_settings_get(shop=shop).summary()
    return admin_render(
        request,
        "admin/settings.html",
        {
            "values": values,
            "errors": errors,
            "positions": WidgetSettings.Position.choices,
            "live": program_is_live(shop),
        },
        status=status,
        active="merchant_admin:settings",
    )
