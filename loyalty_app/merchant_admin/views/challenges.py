"""Challenges and badges: the list, a challenge built from one block (the API's validation,
``challenges.policies``), activation, archiving and who completed it; badges are created on
the same page. Each write goes through ``challenges.services`` with its audit entry in the
same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loyalty_app.challenges.models import Challenge
from loyalty_app.challenges.policies import (
    BADGE_COLOURS,
    BADGE_ICONS,
    BLOCK_FIELDS,
    BLOCK_LABELS,
    COMMON_FIELDS,
    DIMENSIONS,
)
from loyalty_app.challenges.selectors import (
    badge_as_data,
    badges_list,
    challenge_as_data,
    challenge_completions,
    challenge_get,
    challenges_list,
)
from loyalty_app.challenges.services import (
    badge_create,
    challenge_activate,
    challenge_archive,
    challenge_create,
    challenge_update,
)
from loyalty_app.common.time import now
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.rewards.policies import GRANTABLE_KINDS
from loyalty_app.rewards.selectors import rewards_list

from ..auth import admin_page
from ..forms import FormErrors
from ..services import audit_entry_add
from .common import admin_redirect, admin_render

ACTIVE = "merchant_admin:challenges"
# Which blocks show each block-specific input (the form hides the others).
FIELD_BLOCKS = {
    name: " ".join(block for block, fields in BLOCK_FIELDS.items() if name in fields)
    for name in {n for fields in BLOCK_FIELDS.values() for n in fields}
}
INT_FIELDS = ("orders", "count", "months", "reward_points", "reward_id", "badge_id")
LIST_FIELDS = ("among", "actions")


def challenge_form_data(post: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The posted form as text (to show again) and as the API's JSON: the common fields
    and those of the chosen block only."""
    names = {*COMMON_FIELDS, *(n for fields in BLOCK_FIELDS.values() for n in fields)}
    values = {name: str(post.get(name, "")).strip() for name in names}
    block = values["block"]
    data: dict[str, Any] = {}
    for name in [*COMMON_FIELDS, *BLOCK_FIELDS.get(block, ())]:
        raw = values[name]
        if name in LIST_FIELDS:
            data[name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif raw == "":
            data[name] = None if name in INT_FIELDS else raw
        elif name in INT_FIELDS:
            data[name] = int(raw) if raw.isdigit() else raw
        else:
            data[name] = raw
    return values, data


def _errors(exc: ValidationError) -> FormErrors:
    errors = FormErrors()
    for path, messages in exc.message_dict.items():
        errors.add(path.split("[")[0], messages[0] if messages else "is not valid")
    return errors


@require_GET
@admin_page
def challenges(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    return _list_page(request, shop, badge_values={}, badge_errors=FormErrors())


def _list_page(
    request: HttpRequest,
    shop: Any,
    *,
    badge_values: dict[str, str],
    badge_errors: FormErrors,
    status: int = 200,
) -> HttpResponse:
    return admin_render(
        request,
        "admin/challenges.html",
        {
            "challenges": list(challenges_list(shop=shop)[:500]),
            "badges": [badge_as_data(b) for b in badges_list(shop=shop)[:200]],
            "block_labels": BLOCK_LABELS,
            "icons": list(BADGE_ICONS),
            "colours": list(BADGE_COLOURS),
            "badge_values": badge_values,
            "badge_errors": badge_errors,
            "today": now().date(),
        },
        status=status,
        active=ACTIVE,
    )


def _challenge_or_404(request: HttpRequest, challenge_id: int) -> Challenge:
    challenge = challenge_get(shop=request.shop, challenge_id=challenge_id)  # type: ignore[attr-defined]
    if challenge is None:
        raise Http404("no such challenge in this shop")
    return challenge


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def challenge_new(request: HttpRequest) -> HttpResponse:
    return _form(request, None)


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def challenge_edit(request: HttpRequest, challenge_id: int) -> HttpResponse:
    return _form(request, _challenge_or_404(request, challenge_id))


def _text_values(challenge: Challenge | None) -> dict[str, str]:
    if challenge is None:
        return {"block": "orders_count", "dimension": "product_type"}
    values = {}
    for name, value in challenge_as_data(challenge).items():
        if isinstance(value, list):
            values[name] = ", ".join(value)
        else:
            values[name] = "" if value is None else str(value)
    return values


def _form(
    request: HttpRequest, challenge: Challenge | None, *, refused: ValidationError | None = None
) -> HttpResponse:
    """The challenge's form; a POST saves it. With ``refused`` (an activation or archiving
    the service turned down), the stored challenge and the reason, the POST not read."""
    shop = request.shop  # type: ignore[attr-defined]
    actor = request.admin_user  # type: ignore[attr-defined]
    errors = FormErrors()
    status = 200
    values = _text_values(challenge)
    if refused is not None:
        errors, status = _errors(refused), 400
    elif request.method == "POST":
        values, data = challenge_form_data(request.POST)
        try:
            with transaction.atomic():
                if challenge is None:
                    saved = challenge_create(shop=shop, data=data, actor=actor)
                    action = "challenge.create"
                else:
                    if challenge.status != Challenge.Status.DRAFT:
                        data = {"name": data.get("name"), "description": data.get("description")}
                    saved = challenge_update(
                        shop=shop, challenge_id=challenge.pk, data=data, actor=actor
                    )
                    action = "challenge.update"
                audit_entry_add(
                    shop=shop,
                    actor=actor,
                    action=action,
                    object_type="challenge",
                    object_id=saved.pk,
                    before=challenge_as_data(challenge) if challenge else None,
                    after=challenge_as_data(saved),
                )
        except ValidationError as exc:
            errors = _errors(exc)
            status = 400
        else:
            return admin_redirect(
                request,
                "merchant_admin:challenge",
                saved.pk,
                toast="challenge_created" if challenge is None else "challenge_saved",
            )
    program = program_config(program_current(shop=shop))
    return admin_render(
        request,
        "admin/challenge_form.html",
        {
            "challenge": challenge,
            "locked": challenge is not None and challenge.status != Challenge.Status.DRAFT,
            "v": values,
            "errors": errors,
            "block_choices": list(BLOCK_LABELS.items()),
            "dimensions": DIMENSIONS,
            "field_blocks": FIELD_BLOCKS,
            "rewards": list(
                rewards_list(shop=shop)
                .filter(kind__in=GRANTABLE_KINDS)
                .only("id", "title", "kind")[:200]
            ),
            "badges": list(badges_list(shop=shop)[:200]),
            "action_keys": ", ".join(a.key for a in program.actions if a.enabled),
            "completions": challenge_completions(challenge=challenge) if challenge else [],
            "zone": shop.timezone or "UTC",
        },
        status=status,
        active=ACTIVE,
    )


@require_POST
@admin_page
def challenge_activate_view(request: HttpRequest, challenge_id: int) -> HttpResponse:
    return _status_change(request, challenge_id, activate=True)


@require_POST
@admin_page
def challenge_archive_view(request: HttpRequest, challenge_id: int) -> HttpResponse:
    return _status_change(request, challenge_id, activate=False)


def _status_change(request: HttpRequest, challenge_id: int, *, activate: bool) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    actor = request.admin_user  # type: ignore[attr-defined]
    challenge = _challenge_or_404(request, challenge_id)
    before = challenge.status
    try:
        with transaction.atomic():
            change = challenge_activate if activate else challenge_archive
            saved = change(shop=shop, challenge_id=challenge.pk, actor=actor)
            if saved.status != before:
                audit_entry_add(
                    shop=shop,
                    actor=actor,
                    action="challenge.activate" if activate else "challenge.archive",
                    object_type="challenge",
                    object_id=saved.pk,
                    before={"status": before},
                    after={"status": saved.status},
                )
    except ValidationError as exc:
        # The reward or badge it gives is gone, or it was archived: the form says which.
        return _form(request, challenge, refused=exc)
    return admin_redirect(
        request,
        "merchant_admin:challenge",
        challenge.pk,
        toast="challenge_activated" if activate else "challenge_archived",
    )


@require_POST
@admin_page
def badge_new(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    actor = request.admin_user  # type: ignore[attr-defined]
    values = {
        name: str(request.POST.get(f"badge_{name}", "")).strip()
        for name in ("name", "description", "icon", "colour")
    }
    try:
        with transaction.atomic():
            badge = badge_create(shop=shop, data=values, actor=actor)
            audit_entry_add(
                shop=shop,
                actor=actor,
                action="badge.create",
                object_type="badge",
                object_id=badge.pk,
                after=values,
            )
    except ValidationError as exc:
        errors = FormErrors()
        for path, messages in exc.message_dict.items():
            errors.add(f"badge_{path}", messages[0])
        return _list_page(request, shop, badge_values=values, badge_errors=errors, status=400)
    return admin_redirect(request, "merchant_admin:challenges", toast="badge_created")
