"""Merchant REST API: one view per operation, nested input/output serializers."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.earning.selectors import member_points_pending
from loyalty_app.ledger.selectors import ledger_entries_for_member
from loyalty_app.ledger.services import IdempotencyConflict, InsufficientPoints, points_adjust
from loyalty_app.members.models import Member
from loyalty_app.members.selectors import member_get
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.selectors import member_tier_name

from .errors import Conflict


def _member_or_404(shop: Shop, customer_id: str) -> Member:
    member = member_get(shop=shop, external_id=customer_id)
    if member is None:
        # Another shop's customer is indistinguishable from a missing one.
        raise NotFound("no such customer in this shop")
    return member


class LedgerEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    points = serializers.IntegerField()
    balance_after = serializers.IntegerField()
    source_type = serializers.CharField()
    source_id = serializers.CharField()
    reason = serializers.CharField()
    actor = serializers.CharField()
    created_at = serializers.DateTimeField()


class CustomerDetailApi(APIView):
    class OutputSerializer(serializers.Serializer):
        customer_id = serializers.CharField(source="external_id")
        email = serializers.CharField()
        first_name = serializers.CharField()
        last_name = serializers.CharField()
        points_balance = serializers.IntegerField()
        points_pending = serializers.IntegerField(
            help_text="earned on orders still inside the return window; not spendable yet"
        )
        tier = serializers.CharField(allow_null=True)
        member_since = serializers.DateTimeField(source="created_at")

    @extend_schema(
        responses={200: OutputSerializer}, summary="A customer's points balance and tier"
    )
    def get(self, request: Request, customer_id: str) -> Response:
        member = _member_or_404(request.auth, customer_id)
        member.tier = member_tier_name(shop=request.auth, member=member)  # type: ignore[attr-defined]
        member.points_pending = member_points_pending(member=member)  # type: ignore[attr-defined]
        return Response(self.OutputSerializer(member).data)


class LedgerPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class CustomerLedgerApi(APIView):
    @extend_schema(
        responses={200: LedgerEntryOutput(many=True)},
        parameters=[
            OpenApiParameter("cursor", str, description="opaque cursor from `next`/`previous`"),
            OpenApiParameter("page_size", int, description="entries per page, at most 200"),
        ],
        summary="A customer's points ledger, newest first",
    )
    def get(self, request: Request, customer_id: str) -> Response:
        member = _member_or_404(request.auth, customer_id)
        paginator = LedgerPagination()
        page = paginator.paginate_queryset(
            ledger_entries_for_member(member=member), request, view=self
        )
        return paginator.get_paginated_response(LedgerEntryOutput(page, many=True).data)


class CustomerAdjustmentApi(APIView):
    @extend_schema_serializer(component_name="AdjustmentInput")
    class InputSerializer(serializers.Serializer):
        points = serializers.IntegerField(min_value=-(10**9), max_value=10**9)
        reason = serializers.CharField(max_length=500, trim_whitespace=True)

        def validate_points(self, value: int) -> int:
            if value == 0:
                raise serializers.ValidationError("must not be zero")
            return value

    @extend_schema(
        request=InputSerializer,
        responses={
            201: LedgerEntryOutput,
            200: LedgerEntryOutput,
            409: inline_serializer("AdjustmentConflict", {"error": serializers.CharField()}),
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Retrying with the same key returns the first result (200) instead of adjusting twice.",
            )
        ],
        summary="Add or remove points by hand, with a reason",
    )
    def post(self, request: Request, customer_id: str) -> Response:
        member = _member_or_404(request.auth, customer_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 150 or not key.isprintable():
            raise serializers.ValidationError(
                {"Idempotency-Key": ["at most 150 printable characters"]}
            )
        try:
            write = points_adjust(
                member=member,
                points=data.validated_data["points"],
                reason=data.validated_data["reason"],
                idempotency_key=key or f"auto:{uuid.uuid4()}",
                actor=str(request.user),
            )
        except InsufficientPoints as exc:
            raise Conflict(f"insufficient points: balance is {exc.balance}") from exc
        except IdempotencyConflict as exc:
            raise Conflict("Idempotency-Key was already used for a different adjustment") from exc
        body: dict[str, Any] = dict(LedgerEntryOutput(write.entry).data)
        return Response(
            body, status=status.HTTP_201_CREATED if write.created else status.HTTP_200_OK
        )
