"""Customers: search members by email, name or customer id; a member's page with their
balance, pending points, tier, ledger and a manual adjustment."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_POST

from loyalty_app.api.apis import CustomerAdjustmentApi
from loyalty_app.common.time import now
from loyalty_app.earning.selectors import member_points_pending
from loyalty_app.ledger.services import IdempotencyConflict, InsufficientPoints
from loyalty_app.members.models import Member
from loyalty_app.tiers.selectors import member_tier_progress, tier_program_current_config

from ..auth import admin_page
from ..forms import FormErrors
from ..selectors import member_for_admin, member_ledger_page, members_search
from ..services import admin_points_adjust
from .common import IDEMPOTENCY_KEY, admin_redirect, admin_render, new_idempotency_key

ACTIVE = "merchant_admin:customers"


def _int_param(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


@require_GET
@admin_page
def customers(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:254]
    page = members_search(
        shop=request.shop,  # type: ignore[attr-defined]
        query=query,
        after_id=_int_param(request, "after"),
    )
    return admin_render(
        request, "admin/customers.html", {"page": page, "q": query.strip()}, active=ACTIVE
    )


def _member_or_404(request: HttpRequest, member_id: int) -> Member:
    member = member_for_admin(shop=request.shop, member_id=member_id)  # type: ignore[attr-defined]
    if member is None:
        # Another shop's member is indistinguishable from a missing one.
        raise Http404("no such customer in this shop")
    return member


def _member_page(
    request: HttpRequest,
    member: Member,
    *,
    adjust_values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HttpResponse:
    ledger = member_ledger_page(member=member, before_id=_int_param(request, "before"))
    progress = _tier_progress(member)
    values = adjust_values or {"points": "", "reason": ""}
    if not IDEMPOTENCY_KEY.match(str(values.get("idempotency_key", ""))):
        values["idempotency_key"] = new_idempotency_key()
    return admin_render(
        request,
        "admin/member.html",
        {
            "member": member,
            "pending": member_points_pending(member=member),
            "tier": progress["tier"] if progress else (member.imported_tier or None),
            "progress": progress,
            "ledger": ledger,
            "adjust": values,
            "errors": errors or FormErrors(),
        },
        status=status,
        active=ACTIVE,
    )


METRIC_UNITS = {"points_earned": "points", "amount_spent": "spent", "orders_count": "orders"}


def _tier_progress(member: Member) -> dict[str, Any] | None:
    """Where the member stands in the shop's tiers (None: the shop has no tiers)."""
    config = tier_program_current_config(shop=member.shop)
    if not config.tiers:
        return None
    progress = member_tier_progress(shop=member.shop, member=member, at=now(), config=config)
    percent = 100
    if progress["next_threshold"] is not None:
        reached, target = Decimal(str(progress["value"])), Decimal(str(progress["next_threshold"]))
        percent = int(min(reached / target * 100, Decimal(100))) if target > 0 else 100
    unit = METRIC_UNITS.get(progress["metric"], "")
    if progress["currency"]:
        unit = f"{progress['currency']} {unit}"
    return {**progress, "percent": percent, "remaining": progress["missing"], "metric_label": unit}


@require_GET
@admin_page
def member(request: HttpRequest, member_id: int) -> HttpResponse:
    return _member_page(request, _member_or_404(request, member_id))


@require_POST
@admin_page
def member_adjust(request: HttpRequest, member_id: int) -> HttpResponse:
    """A manual adjustment with the API's validation. The form carries an idempotency key
    made when it was drawn, so a double submit adjusts once."""
    target = _member_or_404(request, member_id)
    values = {
        "points": request.POST.get("points", "").strip(),
        "reason": request.POST.get("reason", "").strip(),
        "idempotency_key": request.POST.get("idempotency_key", "").strip(),
    }
    errors = FormErrors()
    if not IDEMPOTENCY_KEY.match(values["idempotency_key"]):
        errors.add("points", "The form has expired: open the page again and retry.")
        values["idempotency_key"] = ""
    data = CustomerAdjustmentApi.InputSerializer(
        data={"points": values["points"], "reason": values["reason"]}
    )
    if not data.is_valid():
        for name, messages in data.errors.items():
            errors.add(name, str(messages[0]))
    if errors:
        return _member_page(request, target, adjust_values=values, errors=errors, status=400)
    try:
        write = admin_points_adjust(
            shop=request.shop,  # type: ignore[attr-defined]
            member=target,
            points=data.validated_data["points"],
            reason=data.validated_data["reason"],
            idempotency_key=values["idempotency_key"],
            actor=request.admin_user,  # type: ignore[attr-defined]
        )
    except InsufficientPoints as exc:
        errors.add("points", f"The balance is {exc.balance}: a deduction cannot take it below 0.")
    except IdempotencyConflict:
        errors.add("points", "This form was already used for another adjustment; retry.")
        values["idempotency_key"] = ""
    if errors:
        return _member_page(request, target, adjust_values=values, errors=errors, status=409)
    return admin_redirect(
        request,
        "merchant_admin:member",
        target.pk,
        toast="points_adjusted" if write.created else "adjustment_replayed",
    )
