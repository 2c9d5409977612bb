"""Member events (points about to expire, points expired...) for the shop's own
notification system: read in id order from the last id handled."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.members.selectors import member_events_after


class MemberEventListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        after = serializers.IntegerField(min_value=0, default=0)
        kind = serializers.CharField(max_length=64, required=False)
        limit = serializers.IntegerField(min_value=1, max_value=500, default=100)

    @extend_schema_serializer(component_name="MemberEvent")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        kind = serializers.CharField()
        customer_id = serializers.CharField(source="member.external_id", allow_null=True)
        email = serializers.CharField(source="member.email")
        data = serializers.DictField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="the last event id already handled"),
            OpenApiParameter("kind", str, description="e.g. points_expiring, points_expired"),
            OpenApiParameter("limit", int, description="at most 500 (default 100)"),
        ],
        responses={200: OutputSerializer(many=True)},
        summary="Member events to notify shoppers about, oldest first after an id",
    )
    def get(self, request: Request) -> Response:
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        events = member_events_after(
            shop=request.auth,
            after_id=query["after"],
            kind=query.get("kind"),
            limit=query["limit"],
        )
        return Response(
            {
                "results": self.OutputSerializer(events, many=True).data,
                "last_id": events[-1].pk if events else query["after"],
            }
        )
