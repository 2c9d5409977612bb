"""The shop's VIP tiers and cash-back settings: read, change (versioned), preview, and a
member's progress."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.common.time import now
from loyalty_app.members.selectors import member_get

from .models import TierEvent, TierProgram
from .policies import ConfigError, tier_program_from_dict
from .selectors import (
    member_tier_events,
    member_tier_progress,
    tier_distribution,
    tier_evaluation_as_data,
    tier_evaluation_get,
    tier_evaluation_latest,
    tier_program_config,
    tier_program_current,
)
from .services import tier_program_update

DEFINITION_FIELDS = (
    "metric (points_earned|amount_spent|orders_count), period (lifetime|calendar_year|"
    "rolling_12_months), retention, tiers [{name, threshold, earn_multiplier, cashback_rate, "
    "entry_reward {points}|{reward_id}, perks [text], customer_tag}] from the lowest, "
    "cashback {enabled, rate, delivery (store_credit|discount_code)}"
)


def _program_body(program: TierProgram | None, shop: Any) -> dict[str, Any]:
    latest = tier_evaluation_latest(shop=shop)
    return {
        "version": program.version if program else None,
        "definition": tier_program_config(program).to_dict(),
        "updated_at": program.created_at.isoformat() if program else None,
        "updated_by": program.created_by if program else None,
        # The latest re-evaluation of the members (a definition change, a period's end).
        "evaluation": tier_evaluation_as_data(latest) if latest else None,
    }


class TierProgramApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="The shop's tiers and cash-back settings in force (version null: none defined)",
    )
    def get(self, request: Request) -> Response:
        shop = request.auth
        return Response(_program_body(tier_program_current(shop=shop), shop))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT},
        summary=f"Replace the tiers and cash-back settings (a new version): {DEFINITION_FIELDS}",
    )
    def put(self, request: Request) -> Response:
        # A ValidationError naming the fields becomes a 400 (api.errors).
        program, created = tier_program_update(
            shop=request.auth, data=request.data, actor=str(request.user)
        )
        return Response(
            _program_body(program, request.auth),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class TierPreviewApi(APIView):
    """How many members each tier of a proposed definition would hold, saving nothing."""

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        summary=f"Members per tier of a proposed definition, now: {DEFINITION_FIELDS}",
    )
    def post(self, request: Request) -> Response:
        try:
            definition = tier_program_from_dict(request.data)
        except ConfigError as exc:
            raise serializers.ValidationError(exc.errors) from exc
        at = now()
        rows = tier_distribution(shop=request.auth, definition=definition, at=at)
        return Response(
            {
                "at": at.isoformat(),
                "members": sum(count for _, count in rows),
                "no_tier": rows[0][1],
                "tiers": [{"name": name, "members": count} for name, count in rows[1:]],
            }
        )


class CustomerTierProgressApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="A customer's metric so far, the tier it gives, the next tier and what is "
        "missing (amounts as decimal text with the currency)",
    )
    def get(self, request: Request, customer_id: str) -> Response:
        member = member_get(shop=request.auth, external_id=customer_id)
        if member is None:
            raise NotFound("no such customer in this shop")
        return Response(
            {
                "customer_id": member.external_id,
                **member_tier_progress(shop=request.auth, member=member, at=now()),
            }
        )


class TierEvaluationDetailApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="A re-evaluation of the members' tiers: status, total, processed, changed",
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = tier_evaluation_get(shop=request.auth, job_id=job_id)
        if job is None:
            raise NotFound("no such tier evaluation in this shop")
        return Response(tier_evaluation_as_data(job))


class TierEventOutput(serializers.ModelSerializer):
    from_tier = serializers.SerializerMethodField()
    to_tier = serializers.SerializerMethodField()

    class Meta:
        model = TierEvent
        fields = (
            "id",
            "from_tier",
            "to_tier",
            "reason",
            "metric_value",
            "program_version",
            "order_id",
            "entry_reward",
            "actor",
            "created_at",
        )

    def get_from_tier(self, event: TierEvent) -> str | None:
        return event.from_tier or None

    def get_to_tier(self, event: TierEvent) -> str | None:
        return event.to_tier or None


class CustomerTierEventsApi(APIView):
    @extend_schema(
        responses={200: TierEventOutput(many=True)},
        summary="A customer's tier changes, newest first (from/to null: no tier)",
    )
    def get(self, request: Request, customer_id: str) -> Response:
        member = member_get(shop=request.auth, external_id=customer_id)
        if member is None:
            raise NotFound("no such customer in this shop")
        events = member_tier_events(shop=request.auth, member=member)[:MAX_EVENTS]
        return Response(
            {
                "customer_id": member.external_id,
                "events": TierEventOutput(events, many=True).data,
            }
        )


# A member changes tier a few times a year; this many is years of history.
MAX_EVENTS = 200
