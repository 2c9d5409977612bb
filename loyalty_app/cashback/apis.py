"""Merchant API: a customer's cash-back, and the shop's cash-back over a period."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.members.selectors import member_get

from .policies import money_text
from .selectors import MAX_ENTRIES, member_cashback, shop_cashback_summary


@extend_schema_field(OpenApiTypes.STR)
class _Money(serializers.Field):
    """A Decimal as plain text with the currency's decimals (the serializer's context)."""

    def to_representation(self, value: Decimal) -> str:
        return money_text(value, self.context["currency"])


class CashbackDeliveryOutput(serializers.Serializer):
    operation = serializers.CharField(
        help_text="credit, discount_code, debit (taken back), debt (kept as debt), return"
    )
    status = serializers.CharField(
        help_text="pending, delivered, failed (retried from the admin's Activity page), "
        "debt (kept as debt), settled (all of it repaid debt)"
    )
    amount = _Money(help_text="sent to the shop")
    repaid = _Money(help_text="of a credit, what went to the member's debt")
    outstanding = _Money(help_text="of a debt, not repaid yet")
    code = serializers.CharField(help_text="the discount code, for that delivery")
    last_error = serializers.CharField()


class CashbackEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.CharField(source="order_external_id")
    kind = serializers.CharField(help_text="credit or reversal")
    amount = _Money(help_text="positive for a credit, negative for a reversal")
    currency = serializers.CharField()
    rate = serializers.DecimalField(max_digits=7, decimal_places=4, help_text="percent")
    tier = serializers.CharField(source="tier_name", help_text="the tier whose rate applied")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    delivery = CashbackDeliveryOutput(allow_null=True)


class CashbackTierOutput(serializers.Serializer):
    tier = serializers.CharField(allow_null=True)
    credited = _Money()
    reversed = _Money()
    net = _Money()
    orders = serializers.IntegerField()


class CustomerCashbackApi(APIView):
    class InputSerializer(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=MAX_ENTRIES, default=100)

    @extend_schema_serializer(component_name="CustomerCashback")
    class OutputSerializer(serializers.Serializer):
        customer_id = serializers.CharField()
        currency = serializers.CharField()
        credited = _Money()
        reversed = _Money()
        net = _Money(help_text="credited less reversed: what the customer is owed")
        outstanding_debt = _Money(
            help_text="reversals not taken back from the shop (the credit was spent, or "
            "it was a discount code); deducted from the next credits"
        )
        deliveries_failed = serializers.IntegerField()
        entries = CashbackEntryOutput(many=True, help_text="newest first")

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int, description=f"entries shown, 1 to {MAX_ENTRIES}")
        ],
        responses={200: OutputSerializer},
        summary="A customer's cash-back: credited, reversed, outstanding debt and the "
        "latest entries with their delivery",
    )
    def get(self, request: Request, customer_id: str) -> Response:
        shop = request.auth
        member = member_get(shop=shop, external_id=customer_id)
        if member is None:
            raise NotFound("no such customer in this shop")
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        account = member_cashback(shop=shop, member=member, limit=params.validated_data["limit"])
        body = {
            "customer_id": member.external_id,
            "currency": account.currency,
            "credited": account.credited,
            "reversed": account.reversed,
            "net": account.net,
            "outstanding_debt": account.outstanding_debt,
            "deliveries_failed": account.deliveries_failed,
            "entries": account.entries,
        }
        return Response(self.OutputSerializer(body, context={"currency": account.currency}).data)


def _zone(shop: Any) -> ZoneInfo:
    try:
        return ZoneInfo(shop.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _moment(value: str, *, shop: Any, field: str) -> datetime:
    """A date (midnight in the shop's time zone) or a date-time (without an offset: the
    shop's wall-clock time)."""
    try:
        moment = parse_datetime(value)
        day = parse_date(value) if moment is None else None
    except ValueError:  # well formed but impossible, e.g. month 13
        moment = day = None
    if moment is None and day is None:
        raise serializers.ValidationError({field: ["a date (YYYY-MM-DD) or an ISO date-time"]})
    if moment is None:
        moment = datetime.combine(day, time.min)  # type: ignore[arg-type]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone(shop))
    return moment


class CashbackSummaryApi(APIView):
    class InputSerializer(serializers.Serializer):
        # "from" is a Python keyword: the field is declared under its query name below.
        to = serializers.CharField(required=False, max_length=40)

        def get_fields(self) -> dict[str, serializers.Field]:
            fields = super().get_fields()
            fields["from"] = serializers.CharField(required=False, max_length=40)
            return fields

    @extend_schema_serializer(component_name="CashbackSummary")
    class OutputSerializer(serializers.Serializer):
        currency = serializers.CharField()
        start = serializers.DateTimeField(allow_null=True, help_text="shown as `from`")
        end = serializers.DateTimeField(allow_null=True, help_text="shown as `to`")
        credited = _Money()
        reversed = _Money()
        net = _Money()
        outstanding_debt = _Money(help_text="now, whatever the period")
        tiers = CashbackTierOutput(many=True, help_text="None: members in no tier")

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="first day (or moment) included"),
            OpenApiParameter("to", str, description="first day (or moment) excluded"),
        ],
        responses={200: OutputSerializer},
        summary="Cash-back credited and reversed in a period, in total and per tier",
    )
    def get(self, request: Request) -> Response:
        shop = request.auth
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        raw_from, raw_to = params.validated_data.get("from"), params.validated_data.get("to")
        start = _moment(raw_from, shop=shop, field="from") if raw_from else None
        end = _moment(raw_to, shop=shop, field="to") if raw_to else None
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"to": ["must be after from"]})
        summary = shop_cashback_summary(shop=shop, start=start, end=end)
        body = {
            "currency": summary.currency,
            "start": start,
            "end": end,
            "credited": summary.credited,
            "reversed": summary.reversed,
            "net": summary.net,
            "outstanding_debt": summary.outstanding_debt,
            "tiers": summary.tiers,
        }
        data = dict(self.OutputSerializer(body, context={"currency": summary.currency}).data)
        # The period under the names it was asked with.
        data["from"], data["to"] = data.pop("start"), data.pop("end")
        return Response(data)
