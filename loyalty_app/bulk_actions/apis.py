"""Merchant API for bulk awards: upload a CSV of customers who did an action, read the
preview, confirm, follow the progress and the per-line errors."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.actions.services import ActionInvalid
from loyalty_app.api.errors import Conflict
from loyalty_app.common import uploads

from .fileformat import MAX_BYTES, MAX_LINES, FileError
from .selectors import bulk_award_data, bulk_award_get
from .services import IdempotencyKeyReused, NotReady, bulk_award_confirm, bulk_award_create

FORMAT = (
    "CSV, UTF-8 (a byte-order mark is fine), comma, semicolon or tab, a header row. "
    "Columns (any case): `email` and/or `customer_id` (digits or gid://shopify/Customer/N), "
    "optional `occurred_at` (ISO 8601 date or date-time; without an offset, the shop's "
    "time), `event_key` (your id of the event: kept across files), `target` (for actions "
    "limited per target) and `action` (overrides the upload's action on that line). "
    f"At most {MAX_BYTES // (1024 * 1024)} MB and {MAX_LINES:,} lines. An email nobody has "
    "joins the program; an unknown customer id is refused. Each line is recorded as "
    "POST /api/v1/events records an event (limits, program pause, idempotency): the same "
    "file uploaded again awards nothing new."
)


TOO_LARGE = f"file: larger than {MAX_BYTES // (1024 * 1024)} MB; split it"


class FileTooLarge(uploads.FileTooLarge):
    default_detail = TOO_LARGE


class CsvBodyParser(uploads.CsvBodyParser):
    max_bytes = MAX_BYTES
    too_large = FileTooLarge


def _award_or_404(request: Request, award_id: int) -> Any:
    award = bulk_award_get(shop=request.auth, award_id=award_id)
    if award is None:
        raise NotFound("no such bulk award in this shop")
    return award


class BulkAwardApi(APIView):
    parser_classes = [MultiPartParser, CsvBodyParser]

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "BulkAwardUpload",
                {
                    "file": serializers.FileField(),
                    "action": serializers.CharField(),
                    "confirm": serializers.BooleanField(),
                },
            ),
            "text/csv": OpenApiTypes.BINARY,
        },
        responses={202: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("action", str, description="the action's key (e.g. store_event)"),
            OpenApiParameter(
                "confirm", bool, description="award right after the preview (default: wait)"
            ),
            *uploads.upload_parameters(replay="the first upload"),
        ],
        summary="Award an action to the customers listed in a CSV file",
        description=FORMAT,
    )
    def post(self, request: Request) -> Response:
        # Before the body is parsed: a multipart upload would be spooled to disk first.
        uploads.content_length_check(request, max_bytes=MAX_BYTES, too_large=FileTooLarge())
        key = uploads.idempotency_key_read(request)
        upload = uploads.upload_read(request, max_bytes=MAX_BYTES, too_large=FileTooLarge())
        action = str(request.query_params.get("action") or request.data.get("action") or "")
        confirm = uploads.flag_read(
            request.query_params.get("confirm") or request.data.get("confirm"), "confirm"
        )
        try:
            award, created = bulk_award_create(
                shop=request.auth,
                content=upload.read(),
                filename=upload.name or "",
                action=action,
                created_by=str(request.user),
                idempotency_key=key,
                confirm=confirm,
            )
        except FileError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc
        except ActionInvalid as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc
        except IdempotencyKeyReused as exc:
            raise Conflict(
                f"Idempotency-Key was already used for another upload (bulk award {exc.award.pk})"
            ) from exc
        # Read again: a worker in eager mode (the demo, the tests) has run it already.
        award = bulk_award_get(shop=request.auth, award_id=award.pk) or award
        return Response(
            bulk_award_data(award),
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        )


class BulkAwardDetailApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="One bulk award: status, preview, progress, result and per-line errors",
    )
    def get(self, request: Request, award_id: int) -> Response:
        return Response(bulk_award_data(_award_or_404(request, award_id)))


class BulkAwardConfirmApi(APIView):
    @extend_schema(
        request=None,
        responses={202: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        summary="Award a previewed upload (confirming again changes nothing)",
    )
    def post(self, request: Request, award_id: int) -> Response:
        _award_or_404(request, award_id)
        try:
            bulk_award_confirm(shop=request.auth, award_id=award_id, actor=str(request.user))
        except NotReady as exc:
            raise Conflict(str(exc)) from exc
        award = _award_or_404(request, award_id)
        return Response(bulk_award_data(award), status=status.HTTP_202_ACCEPTED)
