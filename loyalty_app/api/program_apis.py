"""The shop's earning program: read it, change it (a new version), preview an order."""

from __future__ import annotations

from decimal import Decimal
from importlib import import_module
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiTypes, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.common.time import now
from loyalty_app.earning.domain import PurchaseLine
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
    program_in_force,
    program_rules,
)
from loyalty_app.earning.services import campaign_delete, campaign_save, program_update


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "try again later"
    default_code = "unavailable"


def _program_body(program: Program | None) -> dict[str, Any]:
    config = program_config(program)
    return {
        "version": program.version if program else None,
        "rules": config.to_dict(),
        # What the shop calls its points (also in rules when not the default).
        "points_name": config.points_name.to_dict(),
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
        "[{field: product_type|vendor|tag|collection|sku|product_id, value, multiplier | exclude}]"
        ", points_name {singular, plural} (what the shop calls its points; default point/points)",
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
        lines = serializers.ListField(min_length=1, max_length=250, required=False)
        order = serializers.JSONField(
            required=False, help_text="an order as the platform's order webhooks send it"
        )
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

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if ("lines" in attrs) == ("order" in attrs):
                raise serializers.ValidationError(
                    {"lines": ["give either lines (a cart) or order (an order payload)"]}
                )
            return attrs

    @extend_schema(
        request=InputSerializer,
        responses={200: OpenApiTypes.OBJECT},
        summary="Preview the points of a cart (lines) or an order payload (order), with the "
        "rules that applied; product type, tags and collections are looked up by product id",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        shop = request.auth
        port = import_module(settings.LOYALTY_PLATFORM_PORT)
        try:
            if "order" in values:
                try:
                    purchase = port.purchase_from_order_payload(shop=shop, payload=values["order"])
                except ValueError as exc:
                    raise serializers.ValidationError({"order": [str(exc)]}) from exc
                lines = list(purchase.lines)
                shipping, tax = purchase.shipping, purchase.tax
                moment = purchase.placed_at or now()
                cancelled, test = purchase.cancelled, purchase.test
            else:
                lines = port.lines_with_product_facts(
                    shop=shop, lines=[_cart_line(i, line) for i, line in enumerate(values["lines"])]
                )
                shipping, tax = values["shipping"], values["tax"]
                moment, cancelled, test = now(), False, False
        except port.PlatformUnavailable as exc:
            raise ServiceUnavailable(
                "product facts could not be read from the shop now; try again"
            ) from exc
        # An order is previewed under the rules in force when it was placed, as it will earn.
        program = program_in_force(shop=shop, at=moment)
        campaigns = [
            campaign_from_dict(c.definition) for c in campaigns_in_force(shop=shop, at=moment)
        ]
        breakdown = order_breakdown(
            lines=[RuleLine.from_purchase_line(line) for line in lines],
            context=OrderContext(
                placed_at=moment,
                paid=True,
                is_first_order=values["first_order"],
                cancelled=cancelled,
                test=test,
            ),
            rules=program_rules(program),
            campaigns=campaigns,
            shipping=shipping,
            tax=tax,
        )
        return Response(
            {
                "points": breakdown.points,
                "program_version": program.version if program else None,
                "summary": breakdown.summary(),
                "explanation": breakdown.as_dict(),
            }
        )


def _cart_line(index: int, line: dict[str, Any]) -> PurchaseLine:
    return PurchaseLine(
        line_id=str(index),
        amount=max(line["price"] * line["quantity"] - line["discount"], Decimal(0)),
        quantity=line["quantity"],
        gift_card=line["gift_card"],
        product_id=line["product_id"],
        variant_id=line["variant_id"],
        sku=line["sku"],
        vendor=line["vendor"],
        product_type=line["product_type"],
        tags=tuple(line["tags"]),
        collections=tuple(line["collections"]),
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
