"""Referrals: the program's settings (friend's offer, referrer's reward, cap), the period's
figures, and the latest referrals with their status or refusal reason."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods
from rest_framework import serializers

from loyalty_app.analytics.apis import period_of
from loyalty_app.referrals.models import ReferralProgram
from loyalty_app.referrals.policies import ProgramError
from loyalty_app.referrals.selectors import (
    program_settings,
    referral_figures,
    referral_program_get,
    referrals_list,
)
from loyalty_app.referrals.services import referral_program_update
from loyalty_app.rewards.selectors import rewards_list

from ..auth import admin_page
from ..forms import FormErrors
from .common import admin_redirect, admin_render

RECENT = 50
# The settings' error keys -> the form's inputs.
INPUTS = {
    "enabled": "enabled",
    "friend_reward.kind": "friend_kind",
    "friend_reward.value": "friend_value",
    "friend_reward.min_subtotal": "friend_min_subtotal",
    "friend_reward.days_valid": "friend_days_valid",
    "referrer_reward.kind": "referrer_kind",
    "referrer_reward.points": "referrer_points",
    "referrer_reward.reward_id": "referrer_reward_id",
    "cap.count": "cap_count",
    "cap.period": "cap_period",
}


def _values(program: ReferralProgram | None) -> dict[str, Any]:
    config = program_settings(program)
    return {
        "enabled": config.enabled,
        "friend_kind": config.friend_kind,
        "friend_value": str(config.friend_value),
        "friend_min_subtotal": (
            "" if config.friend_min_subtotal is None else str(config.friend_min_subtotal)
        ),
        "friend_days_valid": str(config.friend_days_valid),
        "referrer_kind": config.referrer_kind,
        "referrer_points": str(config.referrer_points or ""),
        "referrer_reward_id": str(config.referrer_reward_id or ""),
        "cap_count": str(config.cap_count or ""),
        "cap_period": config.cap_period,
    }


def _data(values: dict[str, Any]) -> dict[str, Any]:
    """The form's text as the settings' JSON (the same validation as the API)."""
    referrer: dict[str, Any] = {"kind": values["referrer_kind"]}
    if values["referrer_kind"] == "reward":
        referrer["reward_id"] = values["referrer_reward_id"] or None
    else:
        referrer["points"] = values["referrer_points"] or None
    return {
        "enabled": values["enabled"],
        "friend_reward": {
            "kind": values["friend_kind"],
            "value": values["friend_value"],
            "min_subtotal": values["friend_min_subtotal"] or None,
            "days_valid": values["friend_days_valid"] or None,
        },
        "referrer_reward": referrer,
        "cap": (
            {"count": values["cap_count"], "period": values["cap_period"]}
            if values["cap_count"]
            else None
        ),
    }


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def referrals(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    errors = FormErrors()
    status = 200
    if request.method == "POST":
        values = {name: request.POST.get(name, "").strip() for name in INPUTS.values()}
        values["enabled"] = request.POST.get("enabled") == "on"
        try:
            _, changed = referral_program_update(
                shop=shop,
                data=_data(values),
                actor=request.admin_user,  # type: ignore[attr-defined]
            )
        except ProgramError as exc:
            for key, message in exc.errors.items():
                errors.add(INPUTS.get(key, key), message)
            status = 400
        else:
            return admin_redirect(
                request,
                "merchant_admin:referrals",
                toast="referrals_saved" if changed else "program_unchanged",
            )
    else:
        values = _values(referral_program_get(shop=shop))
    try:
        period = period_of(shop, request.GET.get("from"), request.GET.get("to"))
    except serializers.ValidationError:
        period = period_of(shop, None, None)
    figures = referral_figures(shop=shop, period_start=period.start, period_end=period.end)
    return admin_render(
        request,
        "admin/referrals.html",
        {
            "values": values,
            "errors": errors,
            "rewards": [r for r in rewards_list(shop=shop)],
            "period": period,
            "figures": figures,
            "recent": list(referrals_list(shop=shop)[:RECENT]),
            "friend_kinds": ReferralProgram.FriendKind.choices,
            "referrer_kinds": ReferralProgram.ReferrerKind.choices,
            "cap_periods": ReferralProgram.CapPeriod.choices,
        },
        status=status,
        active="merchant_admin:referrals",
    )
