"""The shop's rewards catalog: list, create, read, change, archive."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Reward
from .selectors import reward_as_data, reward_get, rewards_list
from .services import reward_archive, reward_create, reward_update

REWARD_FIELDS = (
    "kind (fixed_amount|percentage|free_shipping|free_product|store_credit|variable_credit|"
    "donation|experience|punch_card), title, description, points_cost, grant_only, value, "
    "active, active_from, active_until (ISO 8601; without an offset: the shop's time zone), "
    "min_tier, min_order_amount, collection_ids, code_valid_days, per_customer_limit, "
    "stock_total, position; per kind: variant_id; points_per_step, value_per_step, "
    "min_points, max_points; cause; fulfilment_note, customer_tag; punch_target "
    "(product|collection), punch_target_id, punch_count, punch_reward_id"
)


def _body(reward: Reward, shop: Any) -> dict[str, Any]:
    return {
        "id": reward.pk,
        **reward_as_data(reward),
        "currency": shop.currency,
        "stock_remaining": reward.stock_remaining,
        "archived_at": reward.archived_at.isoformat() if reward.archived_at else None,
        "created_at": reward.created_at.isoformat(),
        "updated_at": reward.updated_at.isoformat(),
    }


def _reward_or_404(shop: Any, reward_id: str) -> Reward:
    reward = reward_get(shop=shop, reward_id=reward_id)
    if reward is None:
        raise NotFound("no such reward in this shop")
    return reward


def _without_read_only(data: Any) -> Any:
    # A client may send back what it read: the fields only the server sets are ignored.
    read_only = ("id", "currency", "stock_remaining", "archived_at", "created_at", "updated_at")
    return {k: v for k, v in data.items() if k not in read_only} if isinstance(data, dict) else data


class RewardListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("include_archived", OpenApiTypes.BOOL, description="default false")
        ],
        responses={200: OpenApiTypes.OBJECT},
        operation_id="v1_rewards_list",
        summary="The shop's rewards in catalog order",
    )
    def get(self, request: Request) -> Response:
        archived = request.query_params.get("include_archived", "").lower() in ("1", "true")
        rewards = rewards_list(shop=request.auth, include_archived=archived)[:1000]
        return Response({"results": [_body(reward, request.auth) for reward in rewards]})

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        summary=f"Add a reward: {REWARD_FIELDS}",
    )
    def post(self, request: Request) -> Response:
        reward = reward_create(
            shop=request.auth, data=_without_read_only(request.data), actor=str(request.user)
        )
        return Response(_body(reward, request.auth), status=status.HTTP_201_CREATED)


class RewardDetailApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="One reward (archived too)")
    def get(self, request: Request, reward_id: str) -> Response:
        return Response(_body(_reward_or_404(request.auth, reward_id), request.auth))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        summary="Change some of a reward's fields; the others stay",
    )
    def patch(self, request: Request, reward_id: str) -> Response:
        reward = _reward_or_404(request.auth, reward_id)
        try:
            reward = reward_update(
                shop=request.auth,
                reward_id=reward.pk,
                data=_without_read_only(request.data),
                actor=str(request.user),
            )
        except Reward.DoesNotExist as exc:
            raise NotFound("no such reward in this shop") from exc
        return Response(_body(reward, request.auth))

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="Archive a reward: it leaves the catalog, its row stays for its redemptions",
    )
    def delete(self, request: Request, reward_id: str) -> Response:
        reward = _reward_or_404(request.auth, reward_id)
        reward = reward_archive(shop=request.auth, reward_id=reward.pk, actor=str(request.user))
        return Response(_body(reward, request.auth))
