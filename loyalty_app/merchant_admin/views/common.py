"""What every admin page shares: the navigation, rendering with the App Bridge head, the
redirect after a save (with its toast), and the idempotency key of a form."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from loyalty_app.earning.points_name import PointsName
from loyalty_app.earning.selectors import program_config, program_current

# The pages, in the navigation's order: (url name, label).
NAV = (
    ("merchant_admin:home", "Home"),
    ("merchant_admin:program", "Program"),
    ("merchant_admin:tiers", "Tiers"),
    ("merchant_admin:cashback", "Cash-back"),
    ("merchant_admin:rewards", "Rewards"),
    ("merchant_admin:campaigns", "Campaigns"),
    ("merchant_admin:challenges", "Challenges"),
    ("merchant_admin:referrals", "Referrals"),
    ("merchant_admin:customers", "Customers"),
    ("merchant_admin:bulk-awards", "Award points"),
    ("merchant_admin:analytics", "Analytics"),
    ("merchant_admin:activity", "Activity"),
    ("merchant_admin:settings", "Settings"),
)

# What a toast says after a redirect: by code, so no text from the URL reaches the page.
TOASTS = {
    "program_saved": "Program saved",
    "program_unchanged": "No changes to save",
    "program_paused": "Program paused",
    "program_live": "Program is live",
    "campaign_created": "Campaign created",
    "campaign_saved": "Campaign saved",
    "campaign_deleted": "Campaign deleted",
    "points_adjusted": "Points adjusted",
    "adjustment_replayed": "This adjustment was already recorded",
    "settings_saved": "Settings saved",
    "call_retried": "Retry scheduled",
    "tiers_saved": "Tiers saved",
    "cashback_saved": "Cash-back saved",
    "reward_created": "Reward created",
    "reward_saved": "Reward saved",
    "reward_archived": "Reward archived",
    "bulk_award_confirmed": "Awarding started",
    "challenge_created": "Challenge created",
    "challenge_saved": "Challenge saved",
    "challenge_activated": "Challenge activated",
    "challenge_archived": "Challenge archived",
    "badge_created": "Badge created",
    "referrals_saved": "Referrals saved",
    "survey_saved": "Survey saved",
}

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9-]{8,100}$")


def admin_render(
    request: HttpRequest,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    active: str = "",
) -> HttpResponse:
    """Render an admin page with the shop, the App Bridge head and the navigation."""
    shop = request.shop  # type: ignore[attr-defined]
    toast = TOASTS.get(request.GET.get("toast", ""))
    page = {
        "shop": shop,
        "head": request.admin_head,  # type: ignore[attr-defined]
        "nav": [(name, label, name == active) for name, label in NAV],
        "toast": toast,
        "points_name": shop_points_name(shop),
        **(context or {}),
    }
    return render(request, template, page, status=status)


def admin_redirect(
    request: HttpRequest, name: str, *args: Any, toast: str = "", **query: Any
) -> HttpResponseRedirect:
    """303 to another admin page after a save. The token the form was sent with rides
    along (it is good for its minute, and the page it leads to is ours), so the page
    loads without a detour through the bounce page."""
    head = request.admin_head  # type: ignore[attr-defined]
    params: dict[str, Any] = {"shop": head.get("shop", ""), "host": head.get("host", "")}
    token = request.POST.get("id_token", "")
    if token:
        params["id_token"] = token
    if toast:
        params["toast"] = toast
    params.update({k: v for k, v in query.items() if v not in (None, "")})
    url = f"{reverse(name, args=args)}?{urlencode({k: v for k, v in params.items() if v})}"
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def shop_points_name(shop: Any) -> PointsName:
    """What the shop calls its points, for every admin page (``{% points n %}``)."""
    return program_config(program_current(shop=shop)).points_name


def program_is_live(shop: Any) -> bool:
    """Whether the shop's program earns now (the ``enabled`` flag of its program)."""
    return bool(program_config(program_current(shop=shop)).to_dict().get("enabled", True))
