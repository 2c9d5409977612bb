"""The shop's earning program: read it, change it (a new version), preview an order."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiTypes, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.common.time import now
from loyalty_app.earning.models import Campaign, Program
from loyalty_app.earning.rules import (
    OrderContext,
    RuleLine,
    RulesError,
    campaign_from_dict,
    order_breakdown,
)
from loyalty_app.earning.selectors import (
    campaign_get,
    campaigns_in_force,
    program_config,
    program_current,
    program_rules,
)
from loyalty_app.earning.services import campaign_delete, campaign_save, program_update


def _program_body(program: Program | None) -> dict[str, Any]:
    return {
        "version": program.version if program else None,
        "rules": program_config(program).to_dict(),
        "updated_at": program.created_at.isoformat() if program else None,
        "updated_by": program.created_by if program else None,
    }


class ProgramApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="The shop's earning rules in force (version null: the default program)",
    )
    def get(self, request: Request) -> Response:
        return Response(_program_body(program_current(shop=request.auth)))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT},
        summary="Replace the earning rules: points_per_unit, include_shipping, include_tax, "
        "rounding (down|nearest|up), min_order_amount, max_points_per_order, line_rules "
        "[{field: product_type|vendor|tag|collection|sku|product_id, value, multiplier | exclude}]",
    )
    def put(self, request: Request) -> Response:
        try:
            program, created = program_update(
                shop=request.auth, data=request.data, actor=str(request.user)
            )
        except RulesError as exc:
            raise serializers.ValidationError({exc.field or "rules": [exc.message]}) from exc
        return Response(
            _program_body(program),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PreviewApi(APIView):
    """Points an order or a cart would earn under the rules in force, and why."""

    @extend_schema_serializer(component_name="PreviewLine")
    class LineInput(serializers.Serializer):
        price = serializers.DecimalField(max_digits=16, decimal_places=4, min_value=0)
        quantity = serializers.IntegerField(min_value=1, max_value=100_000, default=1)
        discount = serializers.DecimalField(max_digits=16, decimal_places=4, min_value=0, default=0)
        gift_card = serializers.BooleanField(default=False)
        product_id = serializers.CharField(
            max_length=64, required=False, allow_blank=True, default=""
        )
        variant_id = serializers.CharField(
            max_length=64, required=False, allow_blank=True, default=""
        )
        sku = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
        vendor = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
        product_type = serializers.CharField(
            max_length=255, required=False, allow_blank=True, default=""
        )
        tags = serializers.ListField(
            child=serializers.CharField(max_length=255), max_length=250, default=list
        )
        collections = serializers.ListField(
            child=serializers.CharField(max_length=255), max_length=250, default=list
        )

    @extend_schema_serializer(component_name="PreviewInput")
    class InputSerializer(serializers.Serializer):
        lines = serializers.ListField(min_length=1, max_length=250)
        shipping = serializers.DecimalField(max_digits=16, decimal_places=4, min_value=0, default=0)
        tax = serializers.DecimalField(max_digits=16, decimal_places=4, min_value=0, default=0)
        first_order = serializers.BooleanField(default=False)

        def validate_lines(self, value: list[Any]) -> list[dict[str, Any]]:
            lines = []
            for index, raw in enumerate(value):
                line = PreviewApi.LineInput(data=raw)
                if not line.is_valid():
                    field, errors = next(iter(line.errors.items()))
                    raise serializers.ValidationError(f"lines[{index}].{field}: {errors[0]}")
                lines.append(line.validated_data)
            return lines

    @extend_schema(
        request=InputSerializer,
        responses={200: OpenApiTypes.OBJECT},
        summary="Preview the points of an order or a cart, with the rules that applied",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        program = program_current(shop=request.auth)
        moment = now()
        campaigns = [
            campaign_from_dict(c.definition)
            for c in campaigns_in_force(shop=request.auth, at=moment)
        ]
        lines = [
            RuleLine(
                line_id=str(index),
                amount=max(line["price"] * line["quantity"] - line["discount"], 0),
                quantity=line["quantity"],
                gift_card=line["gift_card"],
                product_id=line["product_id"],
                variant_id=line["variant_id"],
                sku=line["sku"],
                vendor=line["vendor"],
                product_type=line["product_type"],
                tags=frozenset(line["tags"]),
                collections=frozenset(line["collections"]),
            )
            for index, line in enumerate(data.validated_data["lines"])
        ]
        breakdown = order_breakdown(
            lines=lines,
            context=OrderContext(
                placed_at=moment, paid=True, is_first_order=data.validated_data["first_order"]
            ),
            rules=program_rules(program),
            campaigns=campaigns,
            shipping=data.validated_data["shipping"],
            tax=data.validated_data["tax"],
        )
        return Response(
            {
                "points": breakdown.points,
                "program_version": program.version if program else None,
                "summary": breakdown.summary(),
                "explanation": breakdown.as_dict(),
            }
        )


def _campaign_body(campaign: Campaign) -> dict[str, Any]:
    return {**campaign.definition, "id": campaign.pk, "updated_at": campaign.updated_at.isoformat()}


def _campaign_or_404(shop: Any, campaign_id: int) -> Campaign:
    campaign = campaign_get(shop=shop, campaign_id=campaign_id)
    if campaign is None:
        raise NotFound("no such campaign in this shop")
    return campaign


def _rules_error(exc: RulesError) -> serializers.ValidationError:
    return serializers.ValidationError({exc.field or "campaign": [exc.message]})


CAMPAIGN_FIELDS = (
    "name, kind (multiplier|bonus), multiplier (1-100) or bonus_points, starts_at, ends_at "
    "(ISO 8601; without an offset: the shop's time zone), first_order_only, "
    "applies_to {field, value}, tiers [names]"
)


class CampaignListApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT}, summary="The shop's campaigns, newest first"
    )
    def get(self, request: Request) -> Response:
        campaigns = Campaign.objects.filter(shop=request.auth).order_by("-pk")[:500]
        return Response({"results": [_campaign_body(c) for c in campaigns]})

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        summary=f"Create a campaign: {CAMPAIGN_FIELDS}",
    )
    def post(self, request: Request) -> Response:
        data = (
            {k: v for k, v in request.data.items() if k != "id"}
            if isinstance(request.data, dict)
            else request.data
        )
        try:
            campaign = campaign_save(shop=request.auth, data=data)
        except RulesError as exc:
            raise _rules_error(exc) from exc
        return Response(_campaign_body(campaign), status=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="One campaign")
    def get(self, request: Request, campaign_id: int) -> Response:
        return Response(_campaign_body(_campaign_or_404(request.auth, campaign_id)))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        summary="Change some of a campaign's fields (orders already placed keep theirs)",
    )
    def patch(self, request: Request, campaign_id: int) -> Response:
        campaign = _campaign_or_404(request.auth, campaign_id)
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"campaign": ["must be a JSON object"]})
        merged = {**campaign.definition, **{k: v for k, v in request.data.items() if k != "id"}}
        try:
            campaign = campaign_save(shop=request.auth, data=merged, campaign=campaign)
        except RulesError as exc:
            raise _rules_error(exc) from exc
        return Response(_campaign_body(campaign))

    @extend_schema(
        responses={204: None}, summary="Delete a campaign (orders already placed keep it)"
    )
    def delete(self, request: Request, campaign_id: int) -> Response:
        campaign_delete(campaign=_campaign_or_404(request.auth, campaign_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
