"""Rewards: the catalog (every kind), created, changed and archived through
``rewards.services`` with the API's validation."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loyalty_app.actions.selectors import shop_zone
from loyalty_app.rewards.models import Reward
from loyalty_app.rewards.policies import COMMON_FIELDS, KIND_FIELDS
from loyalty_app.rewards.selectors import reward_as_data, reward_get, rewards_list

from ..auth import admin_page
from ..forms import RewardForm
from ..services import admin_reward_archive, admin_reward_create, admin_reward_update
from .common import admin_redirect, admin_render

ACTIVE = "merchant_admin:rewards"
# Which kinds show each kind-specific field (the form hides the others).
FIELD_KINDS = {
    name: " ".join(sorted(kind for kind, fields in KIND_FIELDS.items() if name in fields))
    for name in {n for fields in KIND_FIELDS.values() for n in fields}
}


@require_GET
@admin_page
def rewards(request: HttpRequest) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    rows = list(rewards_list(shop=shop)[:500])
    return admin_render(request, "admin/rewards.html", {"rewards": rows}, active=ACTIVE)


def _reward_or_404(request: HttpRequest, reward_id: int) -> Reward:
    reward = reward_get(shop=request.shop, reward_id=reward_id)  # type: ignore[attr-defined]
    if reward is None:
        raise Http404("no such reward in this shop")
    return reward


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def reward_new(request: HttpRequest) -> HttpResponse:
    return _reward_form(request, None)


@require_http_methods(["GET", "HEAD", "POST"])
@admin_page
def reward_edit(request: HttpRequest, reward_id: int) -> HttpResponse:
    return _reward_form(request, _reward_or_404(request, reward_id))


def _reward_form(request: HttpRequest, reward: Reward | None) -> HttpResponse:
    shop = request.shop  # type: ignore[attr-defined]
    zone = shop_zone(shop)
    status = 200
    if request.method == "POST":
        form = RewardForm.from_post(request.POST, common=COMMON_FIELDS, kind_fields=KIND_FIELDS)
        actor = request.admin_user  # type: ignore[attr-defined]
        try:
            if reward is None:
                admin_reward_create(shop=shop, data=form.data, actor=actor)
            else:
                admin_reward_update(shop=shop, reward_id=reward.pk, data=form.data, actor=actor)
        except ValidationError as exc:
            form.set_errors(exc.message_dict)
            status = 400
        else:
            return admin_redirect(
                request,
                "merchant_admin:rewards",
                toast="reward_created" if reward is None else "reward_saved",
            )
    else:
        form = RewardForm.from_data(reward_as_data(reward) if reward else None, zone)
    punch_rewards = rewards_list(shop=shop).only("id", "title", "kind")
    if reward is not None:
        punch_rewards = punch_rewards.exclude(pk=reward.pk)
    return admin_render(
        request,
        "admin/reward_form.html",
        {
            "form": form,
            "reward": reward,
            "kind_choices": Reward.Kind.choices,
            "field_kinds": FIELD_KINDS,
            "punch_targets": Reward.PunchTarget.choices,
            "punch_rewards": list(punch_rewards[:200]),
            "zone": str(zone),
        },
        status=status,
        active=ACTIVE,
    )


@require_POST
@admin_page
def reward_archive(request: HttpRequest, reward_id: int) -> HttpResponse:
    reward = _reward_or_404(request, reward_id)
    try:
        admin_reward_archive(
            shop=request.shop,  # type: ignore[attr-defined]
            reward_id=reward.pk,
            actor=request.admin_user,  # type: ignore[attr-defined]
        )
    except ValidationError as exc:
        form = RewardForm.from_data(reward_as_data(reward), shop_zone(request.shop))  # type: ignore[attr-defined]
        form.set_errors(exc.message_dict)
        return admin_render(
            request,
            "admin/reward_form.html",
            {
                "form": form,
                "reward": reward,
                "kind_choices": Reward.Kind.choices,
                "field_kinds": FIELD_KINDS,
                "punch_targets": Reward.PunchTarget.choices,
                "punch_rewards": [],
                "zone": str(shop_zone(request.shop)),  # type: ignore[attr-defined]
            },
            status=409,
            active=ACTIVE,
        )
    return admin_redirect(request, "merchant_admin:rewards", toast="reward_archived")
