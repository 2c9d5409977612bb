"""The widget's survey endpoint, under the app proxy (``/proxy/survey``; on the shop's
storefront ``/apps/loyalty/survey``), with the widget's signed-proxy authentication, rate
limits and JSON-only posts (``widget.views.WidgetApi``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty_app.widget.views import WidgetApi

from .models import MAX_COMMENT
from .services import SurveyRefused, response_data, survey_answer

REFUSED_STATUS = {"not_found": 404, "not_redeemed": 409, "survey_off": 409}


@extend_schema(exclude=True)
class SurveyApi(WidgetApi):
    """Answer the survey about one redemption (0-10 and a comment), or dismiss it.

    Once per redemption: a replay answers the first response (200), whatever it sends."""

    class InputSerializer(serializers.Serializer):
        redemption_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
        score = serializers.IntegerField(min_value=0, max_value=10, required=False)
        dismissed = serializers.BooleanField(required=False, default=False)
        comment = serializers.CharField(
            max_length=MAX_COMMENT, required=False, allow_blank=True, default=""
        )

        def validate(self, attrs: dict) -> dict:
            if attrs["dismissed"] == ("score" in attrs):
                raise serializers.ValidationError(
                    {"score": ["Choose a score from 0 to 10, or dismiss the survey."]}
                )
            return attrs

    def post(self, request: Request) -> Response:
        identity = self.identity(request)
        member = self.member_or_403(identity)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            response, created = survey_answer(
                shop=identity.shop,
                member=member,
                redemption_id=values["redemption_id"],
                score=None if values["dismissed"] else values["score"],
                comment=values["comment"],
            )
        except SurveyRefused as exc:
            return Response(
                {"error": exc.message, "code": exc.code}, status=REFUSED_STATUS[exc.code]
            )
        return Response(
            {
                "response": response_data(response),
                "message": "" if response.score is None else "Thank you for your answer!",
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
