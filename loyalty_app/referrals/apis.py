"""Merchant API: the referral program's settings, the shop's referrals, and their figures
for a period. Every read and write is the token's shop's only."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.analytics.apis import period_of
from loyalty_app.members.selectors import member_get

from .models import Referral
from .policies import ProgramError
from .selectors import (
    MAX_LIST,
    program_settings,
    referral_figures,
    referral_program_get,
    referrals_list,
)
from .services import referral_program_update


def referral_data(referral: Referral) -> dict[str, Any]:
    """One referral as the API and the admin show it."""
    return {
        "id": referral.pk,
        "referrer_customer_id": referral.referrer.external_id,
        "referrer_email": referral.referrer.email,
        "friend_email": referral.friend_email,
        "friend_customer_id": (
            referral.friend_member.external_id if referral.friend_member_id else None
        ),
        "status": referral.status,
        "refusal": referral.refusal or None,
        "note": referral.note,
        "welcome_code": referral.welcome_code,
        "welcome_status": referral.welcome_status,
        "welcome_error": referral.welcome_error,
        "order_id": referral.order_external_id or None,
        "order_name": referral.order_name or None,
        "order_amount": f"{referral.order_amount:.2f}",
        "currency": referral.currency,
        "reward_points": referral.reward_points,
        "created_at": referral.created_at,
        "converted_at": referral.converted_at,
        "rewarded_at": referral.rewarded_at,
        "reversed_at": referral.reversed_at,
    }


class ReferralOutput(serializers.Serializer):
    id = serializers.IntegerField()
    referrer_customer_id = serializers.CharField(allow_null=True)
    referrer_email = serializers.CharField()
    friend_email = serializers.CharField()
    friend_customer_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=Referral.Status.choices)
    refusal = serializers.ChoiceField(choices=Referral.Refusal.choices, allow_null=True)
    note = serializers.CharField()
    welcome_code = serializers.CharField()
    welcome_status = serializers.CharField()
    welcome_error = serializers.CharField()
    order_id = serializers.CharField(allow_null=True)
    order_name = serializers.CharField(allow_null=True)
    order_amount = serializers.CharField(help_text="the first order's kept merchandise")
    currency = serializers.CharField()
    reward_points = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    converted_at = serializers.DateTimeField(allow_null=True)
    rewarded_at = serializers.DateTimeField(allow_null=True)
    reversed_at = serializers.DateTimeField(allow_null=True)


class ReferralProgramApi(APIView):
    """The shop's referral settings. PUT replaces them (the same body again changes
    nothing); a wrong field is a 400 naming it."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="The referral program's settings")
    def get(self, request: Request) -> Response:
        return Response(program_settings(referral_program_get(shop=request.auth)).to_dict())

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        summary="Replace the referral program's settings",
        description='{"enabled": true, "friend_reward": {"kind": "fixed_amount", '
        '"value": "10.00", "min_subtotal": "30.00", "days_valid": 30}, "referrer_reward": '
        '{"kind": "points", "points": 500} or {"kind": "reward", "reward_id": 3}, '
        '"cap": {"count": 10, "period": "month"} or null}',
    )
    def put(self, request: Request) -> Response:
        shop = request.auth
        try:
            program, changed = referral_program_update(
                shop=shop, data=request.data, actor=f"api:{shop.domain}"
            )
        except ProgramError as exc:
            raise serializers.ValidationError({k: [v] for k, v in exc.errors.items()}) from exc
        body = program_settings(program).to_dict()
        body["changed"] = changed
        return Response(body)


class ReferralListApi(APIView):
    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Referral.Status.choices, required=False)
        customer_id = serializers.RegexField(
            r"^[0-9]{1,20}$", required=False, help_text="the referrer's customer id"
        )
        limit = serializers.IntegerField(min_value=1, max_value=MAX_LIST, default=50)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[c for c, _ in Referral.Status.choices]),
            OpenApiParameter("customer_id", str, description="the referrer's customer id"),
            OpenApiParameter("limit", int, description=f"1 to {MAX_LIST}, default 50"),
        ],
        responses={200: ReferralOutput(many=True)},
        summary="The shop's referrals, newest first",
    )
    def get(self, request: Request) -> Response:
        shop = request.auth
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        values = params.validated_data
        referrer = None
        if values.get("customer_id"):
            referrer = member_get(shop=shop, external_id=values["customer_id"])
            if referrer is None:
                raise NotFound("no such customer in this shop")
        rows = referrals_list(shop=shop, status=values.get("status", ""), referrer=referrer)
        data = [referral_data(r) for r in rows[: values["limit"]]]
        return Response(ReferralOutput(data, many=True).data)


class ReferralSummaryApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="first day, YYYY-MM-DD (shop's time)"),
            OpenApiParameter("to", str, description="last day, included; default today"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Referrals, conversions, conversion rate, revenue from referred customers "
        "and rewards issued over a period",
    )
    def get(self, request: Request) -> Response:
        shop = request.auth
        period = period_of(shop, request.query_params.get("from"), request.query_params.get("to"))
        figures = referral_figures(shop=shop, period_start=period.start, period_end=period.end)
        return Response(
            {
                "from": period.first_day.isoformat(),
                "to": period.last_day.isoformat(),
                "referrals": figures.referrals,
                "conversions": figures.conversions,
                "conversion_rate": (
                    None if figures.conversion_rate is None else str(figures.conversion_rate)
                ),
                "revenue": str(figures.revenue),
                "currency": figures.currency,
                "rewards_issued": figures.rewards_issued,
                "points_issued": figures.points_issued,
                "refused": figures.refused,
            }
        )
