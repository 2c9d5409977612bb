"""Admin page "Award points for an action": upload a CSV for an action, read the preview
line by line, confirm, follow the award. Writes go through ``services``, with the same
checks as ``POST /api/v1/actions/bulk``."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST

from loyalty_app.actions.services import BIRTHDAY, ActionInvalid
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.merchant_admin.auth import admin_page
from loyalty_app.merchant_admin.views.common import admin_redirect, admin_render

from .fileformat import MAX_BYTES, FileError
from .selectors import bulk_award_data, bulk_award_get, bulk_awards_recent
from .services import NotReady, bulk_award_confirm, bulk_award_create

ACTIVE = "merchant_admin:bulk-awards"


def _actions(shop: object) -> list[tuple[str, str, int]]:
    config = program_config(program_current(shop=shop))  # type: ignore[arg-type]
    return [(a.key, a.label, a.points) for a in config.actions if a.enabled and a.key != BIRTHDAY]


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def bulk_awards(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    errors: dict[str, str] = {}
    chosen = request.POST.get("action", "") if request.method == "POST" else ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if not isinstance(upload, UploadedFile):
            errors["file"] = "Choose a CSV file."
        elif upload.size is not None and upload.size > MAX_BYTES:
            errors["file"] = f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: split it."
        else:
            try:
                award, _ = bulk_award_create(
                    shop=shop,
                    content=upload.read(),
                    filename=upload.name or "",
                    action=chosen,
                    created_by=request.admin_user,  # type: ignore[attr-defined]
                )
            except FileError as exc:
                errors["file"] = exc.message[:1].upper() + exc.message[1:] + "."
            except ActionInvalid as exc:
                errors["action"] = exc.message[:1].upper() + exc.message[1:] + "."
            else:
                return admin_redirect(request, "merchant_admin:bulk-award", award.pk)
    return admin_render(
        request,
        "admin/bulk_awards.html",
        {
            "actions": _actions(shop),
            "chosen": chosen,
            "errors": errors,
            "uploads": [bulk_award_data(a) for a in bulk_awards_recent(shop=shop)],
        },
        status=400 if errors else 200,
        active=ACTIVE,
    )


@require_http_methods(["GET", "HEAD"])
@admin_page
def bulk_award(request: HttpRequest, award_id: int) -> HttpResponse:
    award = bulk_award_get(shop=request.shop, award_id=award_id)  # type: ignore[attr-defined]
    if award is None:
        raise Http404("no such upload")
    return admin_render(
        request, "admin/bulk_award.html", {"award": bulk_award_data(award)}, active=ACTIVE
    )


@require_POST
@admin_page
def bulk_award_confirm_view(request: HttpRequest, award_id: int) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    if bulk_award_get(shop=shop, award_id=award_id) is None:
        raise Http404("no such upload")
    try:
        bulk_award_confirm(shop=shop, award_id=award_id, actor=request.admin_user)  # type: ignore[attr-defined]
    except NotReady:
        return admin_redirect(request, "merchant_admin:bulk-award", award_id)
    return admin_redirect(
        request, "merchant_admin:bulk-award", award_id, toast="bulk_award_confirmed"
    )
