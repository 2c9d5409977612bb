"""The shop's challenges and badges (list, create, read, change, activate, archive), and a
customer's progress and badges."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.common.time import now
from loyalty_app.members.models import Member
from loyalty_app.members.selectors import member_get

from .models import Badge, Challenge
from .selectors import (
    badge_as_data,
    badge_get,
    badges_list,
    challenge_as_data,
    challenge_completions,
    challenge_get,
    challenges_list,
    member_badges,
    member_challenges,
)
from .services import (
    badge_create,
    badge_update,
    challenge_activate,
    challenge_archive,
    challenge_create,
    challenge_update,
)

CHALLENGE_FIELDS = (
    "name, description, block (orders_count|amount_spent|distinct_categories|monthly_streak|"
    "actions) and its fields: orders; amount; dimension (product_type|collection), count, "
    "among [names]; months; actions [keys]; starts_on, ends_on (dates in the shop's time "
    "zone); reward_points, reward_id (a catalog reward given for no points), badge_id"
)
READ_ONLY = ("id", "status", "target", "currency", "completed_count", "activated_at")
READ_ONLY += ("archived_at", "created_at", "updated_at", "backfilled")


def _body(challenge: Challenge, shop: Any, completed: int | None = None) -> dict[str, Any]:
    if completed is None:
        completed = getattr(challenge, "completed_count", None)
        if completed is None:
            completed = challenge.progress.filter(completed=True).count()
    return {
        "id": challenge.pk,
        **challenge_as_data(challenge),
        "status": challenge.status,
        "target": str(challenge.target.normalize()),
        "currency": shop.currency,
        "completed_count": completed,
        "activated_at": challenge.activated_at.isoformat() if challenge.activated_at else None,
        "archived_at": challenge.archived_at.isoformat() if challenge.archived_at else None,
        "backfilled": challenge.backfilled_at is not None,
        "created_at": challenge.created_at.isoformat(),
        "updated_at": challenge.updated_at.isoformat(),
    }


def _without_read_only(data: Any) -> Any:
    # A client may send back what it read: the fields only the server sets are ignored.
    return {k: v for k, v in data.items() if k not in READ_ONLY} if isinstance(data, dict) else data


def _challenge_or_404(shop: Any, challenge_id: str) -> Challenge:
    challenge = challenge_get(shop=shop, challenge_id=challenge_id)
    if challenge is None:
        raise NotFound("no such challenge in this shop")
    return challenge


def _member_or_404(shop: Any, customer_id: str) -> Member:
    member = member_get(shop=shop, external_id=customer_id)
    if member is None:
        raise NotFound("no such customer in this shop")
    return member


class ChallengeListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, description="draft|active|archived")
        ],
        responses={200: OpenApiTypes.OBJECT},
        operation_id="v1_challenges_list",
        summary="The shop's challenges, newest first",
    )
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status", "")
        if wanted and wanted not in Challenge.Status.values:
            wanted = "-"  # an unknown status matches nothing
        rows = challenges_list(shop=request.auth, status=wanted)[:1000]
        return Response({"results": [_body(row, request.auth) for row in rows]})

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        summary=f"Add a challenge (a draft): {CHALLENGE_FIELDS}",
    )
    def post(self, request: Request) -> Response:
        challenge = challenge_create(
            shop=request.auth, data=_without_read_only(request.data), actor=str(request.user)
        )
        return Response(_body(challenge, request.auth, 0), status=status.HTTP_201_CREATED)


class ChallengeDetailApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="One challenge")
    def get(self, request: Request, challenge_id: str) -> Response:
        return Response(_body(_challenge_or_404(request.auth, challenge_id), request.auth))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        summary="Change some fields of a challenge (a draft: any; active: name, description)",
    )
    def patch(self, request: Request, challenge_id: str) -> Response:
        challenge = _challenge_or_404(request.auth, challenge_id)
        challenge = challenge_update(
            shop=request.auth,
            challenge_id=challenge.pk,
            data=_without_read_only(request.data),
            actor=str(request.user),
        )
        return Response(_body(challenge, request.auth))

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="Archive a challenge: it stops counting; members keep what they were given",
    )
    def delete(self, request: Request, challenge_id: str) -> Response:
        challenge = _challenge_or_404(request.auth, challenge_id)
        challenge = challenge_archive(
            shop=request.auth, challenge_id=challenge.pk, actor=str(request.user)
        )
        return Response(_body(challenge, request.auth))


class ChallengeActivateApi(APIView):
    @extend_schema(
        request=None,
        responses={200: OpenApiTypes.OBJECT},
        summary="Activate a draft: it counts orders and actions in its dates, past ones too",
    )
    def post(self, request: Request, challenge_id: str) -> Response:
        challenge = _challenge_or_404(request.auth, challenge_id)
        challenge = challenge_activate(
            shop=request.auth, challenge_id=challenge.pk, actor=str(request.user)
        )
        return Response(_body(challenge, request.auth))


class ChallengeCompletionsApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="The customers who completed a challenge (and hold its reward), latest first",
    )
    def get(self, request: Request, challenge_id: str) -> Response:
        challenge = _challenge_or_404(request.auth, challenge_id)
        rows = challenge_completions(challenge=challenge)
        return Response(
            {
                "results": [
                    {
                        "customer_id": row.member.external_id or None,
                        "email": row.member.email,
                        "completed_at": row.completed_at.isoformat() if row.completed_at else None,
                    }
                    for row in rows
                ]
            }
        )


class BadgeListApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        operation_id="v1_badges_list",
        summary="The shop's badges (name, description, icon, colour)",
    )
    def get(self, request: Request) -> Response:
        rows = badges_list(shop=request.auth)[:1000]
        return Response({"results": [badge_as_data(row) for row in rows]})

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        summary="Add a badge: name, description, icon (star|trophy|heart|bolt|leaf|crown), "
        "colour (green|blue|purple|gold|red|grey)",
    )
    def post(self, request: Request) -> Response:
        badge = badge_create(
            shop=request.auth, data=_badge_input(request.data), actor=str(request.user)
        )
        return Response(badge_as_data(badge), status=status.HTTP_201_CREATED)


def _badge_input(data: Any) -> Any:
    read_only = ("id", "colour_hex", "path", "archived")
    return {k: v for k, v in data.items() if k not in read_only} if isinstance(data, dict) else data


class BadgeDetailApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="One badge")
    def get(self, request: Request, badge_id: str) -> Response:
        badge = badge_get(shop=request.auth, badge_id=badge_id)
        if badge is None:
            raise NotFound("no such badge in this shop")
        return Response(badge_as_data(badge))

    @extend_schema(
        request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT}, summary="Change a badge"
    )
    def patch(self, request: Request, badge_id: str) -> Response:
        badge = badge_get(shop=request.auth, badge_id=badge_id)
        if badge is None:
            raise NotFound("no such badge in this shop")
        try:
            badge = badge_update(
                shop=request.auth,
                badge_id=badge.pk,
                data=_badge_input(request.data),
                actor=str(request.user),
            )
        except Badge.DoesNotExist as exc:
            raise NotFound("no such badge in this shop") from exc
        return Response(badge_as_data(badge))


class CustomerChallengesApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="A customer's progress in each running challenge (value, target, text, "
        "percent, days left, completed)",
    )
    def get(self, request: Request, customer_id: str) -> Response:
        member = _member_or_404(request.auth, customer_id)
        return Response(
            {
                "customer_id": member.external_id,
                "results": member_challenges(
                    shop=request.auth, member=member, at=now(), include_ended=True
                ),
            }
        )


class CustomerBadgesApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="The badges a customer holds")
    def get(self, request: Request, customer_id: str) -> Response:
        member = _member_or_404(request.auth, customer_id)
        return Response(
            {"customer_id": member.external_id, "results": member_badges(member=member)}
        )
