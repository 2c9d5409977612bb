"""Merchant API for the customers' data requests: list them, read one's answer."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import data_request_get, data_requests_for_shop


class DataRequestPagination(CursorPagination):
    ordering = "-id"
    page_size = 50


class DataRequestListApi(APIView):
    @extend_schema_serializer(component_name="DataRequestSummary")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        request_id = serializers.CharField(help_text="the platform's data request id")
        customer_id = serializers.CharField()
        email = serializers.CharField()
        status = serializers.CharField()
        created_at = serializers.DateTimeField()
        completed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(
        responses={200: OutputSerializer(many=True)},
        summary="Customers' data requests, newest first",
    )
    def get(self, request: Request) -> Response:
        paginator = DataRequestPagination()
        page = paginator.paginate_queryset(data_requests_for_shop(shop=request.auth), request)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class DataRequestDetailApi(APIView):
    @extend_schema_serializer(component_name="DataRequest")
    class OutputSerializer(DataRequestListApi.OutputSerializer):
        data = serializers.DictField(
            help_text="the customer's loyalty data: members (profile, balance, pending "
            "points, ledger, orders, actions, events), import lines, requested orders"
        )

    @extend_schema(
        responses={200: OutputSerializer},
        summary="One data request with the customer's assembled loyalty data",
    )
    def get(self, request: Request, data_request_id: str) -> Response:
        found = data_request_get(shop=request.auth, data_request_id=int(data_request_id))
        if found is None:
            # Another shop's request is indistinguishable from a missing one.
            raise NotFound("no such data request in this shop")
        return Response(self.OutputSerializer(found).data)
