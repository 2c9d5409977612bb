"""Merchant API: the program's figures for a period, and the what-if simulator."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.common.time import now
from loyalty_app.earning.policies import program_from_dict
from loyalty_app.earning.rules import RulesError
from loyalty_app.tiers.policies import ConfigError, tier_program_from_dict
from loyalty_app.tiers.selectors import shop_zone

from .periods import MAX_DAYS, PeriodError, period_from_query
from .presenters import as_data, what_if_data
from .selectors import report
from .simulation import DEFAULT_MONTHS, MAX_MONTHS, what_if


def period_of(shop: Any, first: str | None, last: str | None) -> Any:
    """The period asked for, in the shop's time zone; a bad one is a 400 naming the field."""
    zone = shop_zone(shop)
    try:
        return period_from_query(
            first=first, last=last, zone=zone, today=now().astimezone(zone).date()
        )
    except PeriodError as exc:
        raise serializers.ValidationError({exc.field: [exc.message]}) from exc


class AnalyticsApi(APIView):
    class InputSerializer(serializers.Serializer):
        # "from" is a Python keyword: the field is declared under its query name below.
        to = serializers.CharField(required=False, max_length=10)

        def get_fields(self) -> dict[str, serializers.Field]:
            fields = super().get_fields()
            fields["from"] = serializers.CharField(required=False, max_length=10)
            return fields

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="first day (YYYY-MM-DD, shop's time zone)"),
            OpenApiParameter(
                "to",
                str,
                description=f"last day, included (default today; from defaults to 30 days "
                f"before; at most {MAX_DAYS} days)",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="The program's figures for a period against the period before: size, "
        "points and liability, members against non-members, rewards, tiers, cash-back, "
        "cost and ROI; day series and tables",
    )
    def get(self, request: Request) -> Response:
        shop = request.auth
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        period = period_of(shop, params.validated_data.get("from"), params.validated_data.get("to"))
        current = report(shop=shop, period=period)
        previous = report(shop=shop, period=period.previous(), detail=False)
        return Response(as_data(current, previous))


class WhatIfApi(APIView):
    @extend_schema_serializer(component_name="WhatIfInput")
    class InputSerializer(serializers.Serializer):
        program = serializers.JSONField(
            help_text="the proposed program, the same JSON as PUT /api/v1/program"
        )
        tiers = serializers.JSONField(
            required=False,
            allow_null=True,
            help_text="a proposed tiers definition, the same JSON as PUT /api/v1/tiers "
            "(default: the current tiers)",
        )
        months = serializers.IntegerField(min_value=1, max_value=MAX_MONTHS, default=DEFAULT_MONTHS)

    @extend_schema(
        request=InputSerializer,
        responses={200: OpenApiTypes.OBJECT},
        summary="Replay the last N months of orders under proposed rules and the current "
        "ones: points issued, expected redemptions, cost as a share of revenue, liability, "
        "members per tier. Writes nothing",
    )
    def post(self, request: Request) -> Response:
        shop = request.auth
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            program = program_from_dict(values["program"])
        except RulesError as exc:
            field = f"program.{exc.field}" if exc.field else "program"
            raise serializers.ValidationError({field: [exc.message]}) from exc
        tiers = None
        if values.get("tiers") is not None:
            try:
                tiers = tier_program_from_dict(values["tiers"])
            except ConfigError as exc:
                raise serializers.ValidationError(
                    {
                        f"tiers.{path}" if path else "tiers": messages
                        for path, messages in exc.errors.items()
                    }
                ) from exc
        result = what_if(shop=shop, program=program, tiers=tiers, months=values["months"])
        return Response(what_if_data(result, (shop.currency or "USD").upper()))
