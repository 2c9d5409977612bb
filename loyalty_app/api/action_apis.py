"""Actions besides buying: report one (``POST /events``), see a customer's, set a birthday."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiTypes,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.actions import selectors, services
from loyalty_app.actions.services import ActionEventConflict, ActionInvalid, MemberNotFound
from loyalty_app.common import time as clock
from loyalty_app.earning.models import ActionEvent
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_birthday_set
from loyalty_app.shops.models import Shop

from .apis import _member_or_404
from .errors import Conflict

# A reported event's key is namespaced, so that no event id a caller picks can take the
# key of an award the app makes itself (``birthday:...``, ``signup:customer:...``).
EVENT_KEY_PREFIX = "api:"
MAX_EVENT_ID_LENGTH = 150
MAX_DATA_BYTES = 2048


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _balance(member_id: int) -> int:
    return int(Member.objects.values_list("points_balance", flat=True).get(pk=member_id))


class EventCreateApi(APIView):
    """Report that a customer did something that earns points."""

    @extend_schema_serializer(component_name="EventInput")
    class InputSerializer(serializers.Serializer):
        action = serializers.CharField(max_length=64)
        customer_id = serializers.CharField(max_length=64, required=False)
        email = serializers.EmailField(max_length=254, required=False)
        event_id = serializers.CharField(max_length=MAX_EVENT_ID_LENGTH, required=False)
        occurred_at = serializers.CharField(max_length=64, required=False)
        target = serializers.CharField(
            max_length=services.MAX_TARGET_LENGTH, required=False, allow_blank=True, default=""
        )
        data = serializers.JSONField(required=False)

        def validate_event_id(self, value: str) -> str:
            value = value.strip()
            if not value or not value.isprintable():
                raise serializers.ValidationError("must be printable text")
            return value

        def validate_data(self, value: Any) -> Any:
            if not isinstance(value, dict):
                raise serializers.ValidationError("must be an object")
            if len(json.dumps(value)) > MAX_DATA_BYTES:
                raise serializers.ValidationError(f"must be at most {MAX_DATA_BYTES} bytes")
            return value

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs.get("customer_id") and attrs.get("email"):
                raise serializers.ValidationError(
                    {"customer_id": ["give customer_id or email, not both"]}
                )
            if not attrs.get("customer_id") and not attrs.get("email"):
                raise serializers.ValidationError(
                    {"customer_id": ["is required (or email, to identify the customer)"]}
                )
            return attrs

    @extend_schema_serializer(component_name="EventOutput")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        event_id = serializers.CharField()
        action = serializers.CharField()
        target = serializers.CharField()
        status = serializers.ChoiceField(choices=ActionEvent.Status.choices)
        points = serializers.IntegerField()
        balance = serializers.IntegerField()
        customer_id = serializers.CharField(allow_null=True)
        email = serializers.CharField()
        occurred_at = serializers.DateTimeField()
        next_available_at = serializers.DateTimeField(allow_null=True)
        replayed = serializers.BooleanField()

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            200: OutputSerializer,
            404: inline_serializer("EventNotFound", {"error": serializers.CharField()}),
            409: inline_serializer("EventConflict", {"error": serializers.CharField()}),
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="The event's id when the body has no event_id. One of the two is "
                "required: a retry with the same id returns the first result (200).",
            )
        ],
        summary="Report an action (signup, newsletter, social_follow, product_review or one "
        "of the shop's own): 201 awarded, 200 limit reached or a replay",
    )
    def post(self, request: Request) -> Response:
        shop: Shop = request.auth
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        event_id = self._event_id(request, values.get("event_id"))
        occurred_at = self._occurred_at(shop, values.get("occurred_at"))
        try:
            write = services.action_report(
                shop=shop,
                action=values["action"],
                event_key=f"{EVENT_KEY_PREFIX}{event_id}",
                customer_id=values.get("customer_id", ""),
                email=values.get("email", ""),
                occurred_at=occurred_at,
                target=values["target"],
                source=str(request.user),
                data=values.get("data") or {},
            )
        except ActionInvalid as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc
        except MemberNotFound as exc:
            raise NotFound("no such customer in this shop") from exc
        except ActionEventConflict as exc:
            raise Conflict(
                "event_id was already used for a different event "
                f"(action {exc.event.action!r}, another customer, target or time)"
            ) from exc
        event = write.event
        body = self.OutputSerializer(
            self._body(shop, event, event.member, event_id, replayed=not write.created)
        ).data
        created = write.created and event.status == ActionEvent.Status.AWARDED
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @staticmethod
    def _event_id(request: Request, in_body: str | None) -> str:
        header = request.headers.get("Idempotency-Key", "").strip()
        if header and (len(header) > MAX_EVENT_ID_LENGTH or not header.isprintable()):
            raise serializers.ValidationError(
                {"Idempotency-Key": [f"at most {MAX_EVENT_ID_LENGTH} printable characters"]}
            )
        if in_body and header and in_body != header:
            raise serializers.ValidationError(
                {"event_id": ["differs from the Idempotency-Key header; send one of them"]}
            )
        event_id = in_body or header
        if not event_id:
            raise serializers.ValidationError(
                {
                    "event_id": [
                        "is required (or an Idempotency-Key header), so that a retry is "
                        "not counted twice"
                    ]
                }
            )
        return event_id

    @staticmethod
    def _occurred_at(shop: Shop, raw: str | None) -> datetime | None:
        """ISO 8601; without an offset it is the shop's wall-clock time."""
        if raw is None:
            return None
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError as exc:
            raise serializers.ValidationError(
                {"occurred_at": ["must be an ISO 8601 date and time"]}
            ) from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=selectors.shop_zone(shop), fold=0)
        return parsed.astimezone(UTC)

    @staticmethod
    def _body(
        shop: Shop, event: ActionEvent, member: Member, event_id: str, *, replayed: bool
    ) -> dict[str, Any]:
        next_at = None
        if event.status == ActionEvent.Status.LIMIT_REACHED:
            rule = next(
                (a for a in selectors.actions_enabled(shop=shop) if a.key == event.action), None
            )
            if rule is not None:
                usage = selectors.action_usage(
                    member=member,
                    rule=rule,
                    at=clock.now(),
                    zone=selectors.shop_zone(shop),
                    target=event.target,
                )
                # An event reported late can be over the limit of a past period while
                # the current one still has room: then the next is possible now.
                next_at = clock.now() if usage.available else usage.next_available_at
        return {
            "id": event.pk,
            "event_id": event_id,
            "action": event.action,
            "target": event.target,
            "status": event.status,
            "points": event.points,
            "balance": _balance(member.pk),
            "customer_id": member.external_id,
            "email": member.email,
            "occurred_at": _iso(event.occurred_at),
            "next_available_at": _iso(next_at),
            "replayed": replayed,
        }


class CustomerActionsApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="What a customer has done and can still do: each enabled action with its "
        "points, limit, times used in the current period and whether it is available",
    )
    def get(self, request: Request, customer_id: str) -> Response:
        shop: Shop = request.auth
        member = _member_or_404(shop, customer_id)
        moment = clock.now()
        zone = selectors.shop_zone(shop)
        actions = []
        for rule in selectors.actions_enabled(shop=shop):
            usage = selectors.action_usage(member=member, rule=rule, at=moment, zone=zone)
            actions.append(
                {
                    "key": rule.key,
                    "name": rule.label,
                    "points": rule.points,
                    "limit": rule.limit.to_dict(),
                    "used": usage.used,
                    "remaining": usage.remaining,
                    "available": usage.available,
                    "period_start": _iso(usage.period_start),
                    "period_end": _iso(usage.period_end),
                    "next_available_at": _iso(usage.next_available_at),
                    "targets_done": list(usage.targets_done),
                }
            )
        birthday = (
            {"month": member.birthday_month, "day": member.birthday_day}
            if member.birthday_month and member.birthday_day
            else None
        )
        recent = [
            {
                "id": event.pk,
                "action": event.action,
                "target": event.target,
                "status": event.status,
                "points": event.points,
                "occurred_at": _iso(event.occurred_at),
            }
            for event in selectors.member_action_events(member=member)
        ]
        return Response(
            {
                "customer_id": member.external_id,
                "birthday": birthday,
                "actions": actions,
                "recent": recent,
            }
        )


class CustomerBirthdayApi(APIView):
    @extend_schema_serializer(component_name="BirthdayInput")
    class InputSerializer(serializers.Serializer):
        month = serializers.IntegerField(min_value=1, max_value=12, required=False)
        day = serializers.IntegerField(min_value=1, max_value=31, required=False)
        date = serializers.DateField(required=False, help_text="YYYY-MM-DD; the year is ignored")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            given = attrs.get("date")
            if given is not None:
                if "month" in attrs or "day" in attrs:
                    raise serializers.ValidationError(
                        {"date": ["give date, or month and day, not both"]}
                    )
                return {"month": given.month, "day": given.day}
            if "month" not in attrs:
                raise serializers.ValidationError(
                    {"month": ["is required (with day), or give date"]}
                )
            if "day" not in attrs:
                raise serializers.ValidationError({"day": ["is required (with month)"]})
            # 2000 is a leap year: 29 February is a birthday like any other.
            last = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][attrs["month"] - 1]
            if attrs["day"] > last:
                raise serializers.ValidationError(
                    {"day": [f"must be at most {last} in month {attrs['month']}"]}
                )
            return attrs

    @extend_schema(
        request=InputSerializer,
        responses={200: OpenApiTypes.OBJECT},
        summary="Set a customer's birthday ({month, day} or {date}); the birthday job "
        "awards the birthday action on that day, once a year",
    )
    def put(self, request: Request, customer_id: str) -> Response:
        member = _member_or_404(request.auth, customer_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_birthday_set(
            member=member, month=data.validated_data["month"], day=data.validated_data["day"]
        )
        return Response(
            {
                "customer_id": member.external_id,
                "birthday": {"month": member.birthday_month, "day": member.birthday_day},
            }
        )
