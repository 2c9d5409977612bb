"""The shop's rewards catalog (list, create, read, change, archive) and redemptions (a
customer spends points on a reward; list and read them)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiTypes,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.api.errors import Conflict
from loyalty_app.common.time import now
from loyalty_app.members.models import Member
from loyalty_app.members.selectors import member_get

from .billing import billing_month_parse, billing_summary, month_of
from .lifecycle import (
    FULFILMENT_STATUSES,
    RequestNotOpen,
    donations_summary,
    fulfilment_status,
    redemption_decline,
    redemption_fulfil,
    redemptions_list,
)
from .models import Redemption, Reward
from .punch_cards import punch_cards_progress
from .redemption import (
    RedemptionConflict,
    RedemptionRefused,
    redemption_get,
    redemptions_for_member,
    reward_redeem,
)
from .selectors import reward_as_data, reward_get, rewards_list
from .services import reward_archive, reward_create, reward_update

REWARD_FIELDS = (
    "kind (fixed_amount|percentage|free_shipping|free_product|store_credit|variable_credit|"
    "donation|experience|punch_card), title, description, points_cost, grant_only, value, "
    "active, active_from, active_until (ISO 8601; without an offset: the shop's time zone), "
    "min_tier, min_order_amount, collection_ids, code_valid_days, per_customer_limit, "
    "stock_total, position; per kind: variant_id; points_per_step, value_per_step, "
    "min_points, max_points; cause; fulfilment_note, customer_tag; punch_target "
    "(product|collection), punch_target_id, punch_count, punch_reward_id"
)


def _body(reward: Reward, shop: Any) -> dict[str, Any]:
    return {
        "id": reward.pk,
        **reward_as_data(reward),
        "currency": shop.currency,
        "stock_remaining": reward.stock_remaining,
        "archived_at": reward.archived_at.isoformat() if reward.archived_at else None,
        "created_at": reward.created_at.isoformat(),
        "updated_at": reward.updated_at.isoformat(),
    }


def _reward_or_404(shop: Any, reward_id: str) -> Reward:
    reward = reward_get(shop=shop, reward_id=reward_id)
    if reward is None:
        raise NotFound("no such reward in this shop")
    return reward


def _without_read_only(data: Any) -> Any:
    # A client may send back what it read: the fields only the server sets are ignored.
    read_only = ("id", "currency", "stock_remaining", "archived_at", "created_at", "updated_at")
    return {k: v for k, v in data.items() if k not in read_only} if isinstance(data, dict) else data


class RewardListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("include_archived", OpenApiTypes.BOOL, description="default false")
        ],
        responses={200: OpenApiTypes.OBJECT},
        operation_id="v1_rewards_list",
        summary="The shop's rewards in catalog order",
    )
    def get(self, request: Request) -> Response:
        archived = request.query_params.get("include_archived", "").lower() in ("1", "true")
        rewards = rewards_list(shop=request.auth, include_archived=archived)[:1000]
        return Response({"results": [_body(reward, request.auth) for reward in rewards]})

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        summary=f"Add a reward: {REWARD_FIELDS}",
    )
    def post(self, request: Request) -> Response:
        reward = reward_create(
            shop=request.auth, data=_without_read_only(request.data), actor=str(request.user)
        )
        return Response(_body(reward, request.auth), status=status.HTTP_201_CREATED)


class RewardDetailApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="One reward (archived too)")
    def get(self, request: Request, reward_id: str) -> Response:
        return Response(_body(_reward_or_404(request.auth, reward_id), request.auth))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        summary="Change some of a reward's fields; the others stay",
    )
    def patch(self, request: Request, reward_id: str) -> Response:
        reward = _reward_or_404(request.auth, reward_id)
        try:
            reward = reward_update(
                shop=request.auth,
                reward_id=reward.pk,
                data=_without_read_only(request.data),
                actor=str(request.user),
            )
        except Reward.DoesNotExist as exc:
            raise NotFound("no such reward in this shop") from exc
        return Response(_body(reward, request.auth))

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="Archive a reward: it leaves the catalog, its row stays for its redemptions",
    )
    def delete(self, request: Request, reward_id: str) -> Response:
        reward = _reward_or_404(request.auth, reward_id)
        reward = reward_archive(shop=request.auth, reward_id=reward.pk, actor=str(request.user))
        return Response(_body(reward, request.auth))


# --- redemptions --------------------------------------------------------------------------

# Refusals about the state of the member, the reward or the catalog are 409: the same
# request may succeed later. A wrong number of points is bad input: 400.
REFUSAL_STATUS = {"points_invalid": status.HTTP_400_BAD_REQUEST}


class RedemptionRefusedError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "the redemption is refused"
    default_code = "refused"

    def __init__(self, refused: RedemptionRefused) -> None:
        super().__init__(
            {"detail": refused.message, "code": refused.code, "fields": refused.fields}
        )
        self.status_code = REFUSAL_STATUS.get(refused.code, status.HTTP_409_CONFLICT)


class RedemptionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    customer_id = serializers.CharField(source="member.external_id", allow_null=True)
    reward_id = serializers.IntegerField()
    title = serializers.CharField()
    kind = serializers.CharField()
    points = serializers.IntegerField()
    value = serializers.DecimalField(
        max_digits=18, decimal_places=4, allow_null=True, normalize_output=True
    )
    currency = serializers.CharField()
    code = serializers.CharField(help_text="the discount code (empty for credit and requests)")
    status = serializers.ChoiceField(choices=Redemption.Status.choices)
    expires_at = serializers.DateTimeField(allow_null=True)
    issued_at = serializers.DateTimeField(allow_null=True)
    used_at = serializers.DateTimeField(allow_null=True)
    used_order_id = serializers.CharField()
    delivery_error = serializers.CharField()
    points_returned = serializers.IntegerField()
    idempotency_key = serializers.CharField()
    created_at = serializers.DateTimeField()


def _member_or_404(shop: Any, customer_id: str) -> Member:
    member = member_get(shop=shop, external_id=customer_id)
    if member is None:
        # Another shop's customer is indistinguishable from a missing one.
        raise NotFound("no such customer in this shop")
    return member


class RedemptionPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=(
        "Recommended. Retrying with the same key returns the first redemption (200) and "
        "spends nothing more; the same key for another reward or number of points is a "
        "409. Without it the server makes one up, so a retried request is a new redemption."
    ),
)


class CustomerRedemptionListApi(APIView):
    @extend_schema_serializer(component_name="RedemptionInput")
    class InputSerializer(serializers.Serializer):
        reward_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
        points = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=1,
            max_value=10**9,
            help_text="variable credit only: the points to spend, in the reward's steps",
        )

    @extend_schema(
        responses={200: RedemptionOutput(many=True)},
        parameters=[
            OpenApiParameter("cursor", str, description="opaque cursor from `next`/`previous`"),
            OpenApiParameter("page_size", int, description="redemptions per page, at most 200"),
        ],
        operation_id="v1_customers_redemptions_list",
        summary="A customer's redemptions, newest first",
    )
    def get(self, request: Request, customer_id: str) -> Response:
        member = _member_or_404(request.auth, customer_id)
        paginator = RedemptionPagination()
        page = paginator.paginate_queryset(
            redemptions_for_member(member=member), request, view=self
        )
        return paginator.get_paginated_response(RedemptionOutput(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: RedemptionOutput, 200: RedemptionOutput, 409: OpenApiTypes.OBJECT},
        parameters=[IDEMPOTENCY_HEADER],
        summary="Spend a customer's points on a reward; the code is created in the shop",
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
        reward_id = data.validated_data["reward_id"]
        try:
            redemption, created = reward_redeem(
                shop=request.auth,
                member=member,
                reward_id=reward_id,
                idempotency_key=key or f"auto:{uuid.uuid4()}",
                points=data.validated_data.get("points"),
                actor=str(request.user),
            )
        except RedemptionRefused as exc:
            raise RedemptionRefusedError(exc) from exc
        except RedemptionConflict as exc:
            raise Conflict(
                {
                    "detail": "Idempotency-Key was already used for a different redemption",
                    "code": "idempotency_conflict",
                }
            ) from exc
        except Reward.DoesNotExist as exc:
            raise NotFound("no such reward in this shop") from exc
        # Delivery may have run on commit (eager mode): show the redemption as stored.
        redemption.refresh_from_db()
        return Response(
            RedemptionOutput(redemption).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RedemptionDetailApi(APIView):
    @extend_schema(responses={200: RedemptionOutput}, summary="One redemption of the shop")
    def get(self, request: Request, redemption_id: str) -> Response:
        redemption = redemption_get(shop=request.auth, redemption_id=redemption_id)
        if redemption is None:
            raise NotFound("no such redemption in this shop")
        return Response(RedemptionOutput(redemption).data)


# --- after a redemption: requests, donations, billing, punch cards ------------------------


class RedemptionRequestOutput(RedemptionOutput):
    fulfilment_status = serializers.SerializerMethodField(
        help_text="experience: requested, fulfilled or declined; empty for other kinds"
    )
    fulfilled_at = serializers.DateTimeField(allow_null=True)
    declined_at = serializers.DateTimeField(allow_null=True)
    fulfilment_by = serializers.CharField()
    fulfilment_reason = serializers.CharField()

    def get_fulfilment_status(self, redemption: Redemption) -> str:
        return fulfilment_status(redemption)


def _request_or_404(shop: Any, redemption_id: str) -> Redemption:
    redemption = redemption_get(shop=shop, redemption_id=redemption_id)
    if redemption is None or redemption.kind != Reward.Kind.EXPERIENCE:
        raise NotFound("no such experience request in this shop")
    return redemption


class RedemptionListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=Reward.Kind.choices, required=False)
        status = serializers.ChoiceField(
            choices=[*Redemption.Status.values, *FULFILMENT_STATUSES], required=False
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, description="a reward kind, e.g. experience"),
            OpenApiParameter(
                "status",
                str,
                description="a redemption status, or for experiences requested, fulfilled, "
                "declined",
            ),
            OpenApiParameter("cursor", str, description="opaque cursor from `next`/`previous`"),
            OpenApiParameter("page_size", int, description="redemptions per page, at most 200"),
        ],
        responses={200: RedemptionRequestOutput(many=True)},
        operation_id="v1_redemptions_list",
        summary="The shop's redemptions, newest first (experience requests to fulfil)",
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = redemptions_list(
            shop=request.auth,
            kind=filters.validated_data.get("kind", ""),
            status=filters.validated_data.get("status", ""),
        )
        paginator = RedemptionPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(RedemptionRequestOutput(page, many=True).data)


class RedemptionFulfilApi(APIView):
    @extend_schema(
        request=None,
        responses={200: RedemptionRequestOutput, 409: OpenApiTypes.OBJECT},
        summary="Mark an experience request fulfilled (it is then billed)",
    )
    def post(self, request: Request, redemption_id: str) -> Response:
        redemption = _request_or_404(request.auth, redemption_id)
        try:
            redemption = redemption_fulfil(
                shop=request.auth, redemption_id=redemption.pk, actor=str(request.user)
            )
        except RequestNotOpen as exc:
            raise Conflict({"detail": str(exc), "code": "request_closed"}) from exc
        return Response(RedemptionRequestOutput(redemption).data)


class RedemptionDeclineApi(APIView):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(
            max_length=500, help_text="why: the customer reads it with the returned points"
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: RedemptionRequestOutput, 409: OpenApiTypes.OBJECT},
        summary="Decline an experience request: its points come back with the reason",
    )
    def post(self, request: Request, redemption_id: str) -> Response:
        redemption = _request_or_404(request.auth, redemption_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            redemption = redemption_decline(
                shop=request.auth,
                redemption_id=redemption.pk,
                reason=data.validated_data["reason"],
                actor=str(request.user),
            )
        except RequestNotOpen as exc:
            raise Conflict({"detail": str(exc), "code": "request_closed"}) from exc
        return Response(RedemptionRequestOutput(redemption).data)


class DonationSummaryApi(APIView):
    class FilterSerializer(serializers.Serializer):
        start = serializers.DateField(required=False, source="from")
        end = serializers.DateField(required=False, source="to")

        def to_internal_value(self, data: Any) -> Any:
            # ``from`` is a keyword: the query's names are mapped by hand.
            return super().to_internal_value(
                {k: v for k, v in {"start": data.get("from"), "end": data.get("to")}.items() if v}
            )

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="first day (shop's time zone)"),
            OpenApiParameter("to", OpenApiTypes.DATE, description="last day, included"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Donations per cause (count, total) for the merchant to honour and report",
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        start = filters.validated_data.get("from")
        end = filters.validated_data.get("to")
        if start and end and end < start:
            raise serializers.ValidationError({"to": ["must not be before from"]})
        causes = donations_summary(shop=request.auth, start=start, end=end)
        return Response(
            {
                "from": start.isoformat() if start else None,
                "to": end.isoformat() if end else None,
                "count": sum(row["count"] for row in causes),
                "causes": [{**row, "total": _decimal_text(row["total"])} for row in causes],
            }
        )


def _decimal_text(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


class BillingSummaryApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "month", str, description="YYYY-MM in the shop's time zone; default this month"
            )
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Billing by redemption: the month's usage charges (count, total, per kind)",
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("month", "")
        try:
            month = billing_month_parse(raw) if raw else month_of(shop=request.auth, moment=now())
        except ValueError as exc:
            raise serializers.ValidationError({"month": [str(exc)]}) from exc
        summary = billing_summary(shop=request.auth, month=month)
        return Response(
            {
                "month": summary.month,
                "currency": summary.currency,
                "count": summary.count,
                "total": _decimal_text(summary.total),
                "by_kind": [
                    {**row, "total": _decimal_text(row["total"])} for row in summary.by_kind
                ],
            }
        )


class CustomerPunchCardsApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        operation_id="v1_customers_punch_cards",
        summary="A customer's progress on the shop's punch cards",
    )
    def get(self, request: Request, customer_id: str) -> Response:
        member = _member_or_404(request.auth, customer_id)
        progress = punch_cards_progress(shop=request.auth, member=member)
        return Response(
            {
                "results": [
                    {
                        "card_id": row.card.pk,
                        "title": row.card.title,
                        "target": row.card.punch_target,
                        "target_id": row.card.punch_target_id,
                        "count": row.count,
                        "of": row.card.punch_count,
                        "units": row.units,
                        "cards_completed": row.fills,
                        "reward_id": row.card.punch_reward_id,
                    }
                    for row in progress
                ]
            }
        )
