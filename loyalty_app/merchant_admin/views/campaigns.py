"""Campaigns: time-boxed multipliers and bonuses; created, changed and deleted through
``earning.services`` with the API's validation."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loyalty_app.actions.selectors import shop_zone
from loyalty_app.common.time import now
from loyalty_app.earning.models import Campaign
from loyalty_app.earning.rules import RulesError
from loyalty_app.earning.selectors import campaign_get

from ..auth import admin_page
from ..forms import CampaignForm
from ..selectors import campaigns_for_shop
from ..services import admin_campaign_delete, admin_campaign_save
from .common import admin_redirect, admin_render

ACTIVE = "merchant_admin:campaigns"


@require_GET
@admin_page
def campaigns(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    zone = shop_zone(shop)
    rows = [
        {
            "campaign": c,
            "starts": c.starts_at.astimezone(zone),
            "ends": c.ends_at.astimezone(zone),
            "status": _status(c),
        }
        for c in campaigns_for_shop(shop=shop)
    ]
    return admin_render(request, "admin/campaigns.html", {"rows": rows}, active=ACTIVE)


def _status(campaign: Campaign) -> str:
    moment = now()
    if campaign.ends_at <= moment:
        return "Ended"
    return "Active" if campaign.starts_at <= moment else "Scheduled"


def _campaign_or_404(request: HttpRequest, campaign_id: int) -> Campaign:
    campaign = campaign_get(shop=request.shop, campaign_id=campaign_id)  # type: ignore[attr-defined]
    if campaign is None:
        raise Http404("no such campaign in this shop")
    return campaign


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def campaign_new(request: HttpRequest) -> HttpResponse:
    return _campaign_form(request, None)


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _campaign_form(request, _campaign_or_404(request, campaign_id))


def _campaign_form(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    zone = shop_zone(shop)
    status = 200
    if request.method == "POST":
        form = CampaignForm.from_post(request.POST)
        if form.validate(shop.timezone or "UTC"):
            data = dict(form.data)
            if campaign is not None:
                data["id"] = campaign.definition.get("id", str(campaign.pk))
            try:
                admin_campaign_save(
                    shop=shop,
                    data=data,
                    actor=request.admin_user,  # type: ignore[attr-defined]
                    campaign=campaign,
                )
            except RulesError as exc:
                form.add_error(exc)
            else:
                return admin_redirect(
                    request,
                    "merchant_admin:campaigns",
                    toast="campaign_created" if campaign is None else "campaign_saved",
                )
        status = 400
    else:
        form = CampaignForm.from_definition(campaign.definition if campaign else None, zone)
    return admin_render(
        request,
        "admin/campaign_form.html",
        {"form": form, "campaign": campaign, "zone": str(zone)},
        status=status,
        active=ACTIVE,
    )


@require_POST
@admin_page
def campaign_delete(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    admin_campaign_delete(
        shop=request.shop,  # type: ignore[attr-defined]
        campaign=campaign,
        actor=request.admin_user,  # type: ignore[attr-defined]
    )
    return admin_redirect(request, "merchant_admin:campaigns", toast="campaign_deleted")
