"""Merchant API for balance imports: upload a CSV, follow its job, read the report."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_app.api.errors import Conflict
from loyalty_app.common import uploads

from .fileformat import MAX_BYTES, MAX_LINES, FileError
from .models import ImportJob
from .selectors import import_job_get, import_jobs_for_shop
from .services import IdempotencyKeyReused, import_job_create

LIMITS = f"at most {MAX_BYTES // (1024 * 1024)} MB and {MAX_LINES:,} lines"


class FileTooLarge(uploads.FileTooLarge):
    default_detail = f"file: too large ({LIMITS})"


class CsvBodyParser(uploads.CsvBodyParser):
    max_bytes = MAX_BYTES
    too_large = FileTooLarge


class CountsOutput(serializers.Serializer):
    lines = serializers.IntegerField(help_text="data lines in the file (blank lines not counted)")
    processed = serializers.SerializerMethodField()
    imported = serializers.IntegerField(help_text="lines that changed a member's points or tier")
    unchanged = serializers.IntegerField(help_text="lines already true of their member")
    rejected = serializers.IntegerField()
    members_created = serializers.IntegerField()
    points_total = serializers.IntegerField(help_text="the valid lines' points, summed")
    points_written = serializers.IntegerField(help_text="net points written to the ledger")

    def get_processed(self, job: ImportJob) -> int:
        return job.imported + job.unchanged + job.rejected


class ImportJobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    dry_run = serializers.BooleanField()
    filename = serializers.CharField()
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()
    columns = serializers.DictField()
    counts = CountsOutput(source="*")
    error = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class RejectedLineOutput(serializers.Serializer):
    line = serializers.IntegerField(help_text="line number in the file; the header is line 1")
    column = serializers.CharField()
    reason = serializers.CharField()
    raw = serializers.CharField(help_text="the line as uploaded, cut at 200 characters")


class ImportJobDetailOutput(ImportJobOutput):
    rejected_lines = RejectedLineOutput(many=True)
    rejected_lines_truncated = serializers.SerializerMethodField(
        help_text=f"true when more than {ImportJob.MAX_REJECTED_KEPT} lines were rejected "
        "and only the first ones are listed"
    )

    def get_rejected_lines_truncated(self, job: ImportJob) -> bool:
        return job.rejected > len(job.rejected_lines)


class ImportPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


FORMAT = (
    "CSV, UTF-8, header row required. Columns (any case): `customer_id` (or `id`, "
    "`shopify_customer_id`: digits or gid://shopify/Customer/N) and/or `email`; `points` "
    "(or `balance`): a whole number, 0 to 1,000,000,000; optional `tier` (up to 100 "
    f"characters). {LIMITS[0].upper()}{LIMITS[1:]}. Each line is the customer's balance "
    "in the old program: re-uploading a file changes only what differs."
)


class ImportListApi(APIView):
    parser_classes = [MultiPartParser, CsvBodyParser]

    @extend_schema(
        responses={200: ImportJobOutput(many=True)},
        parameters=[
            OpenApiParameter("cursor", str, description="opaque cursor from `next`/`previous`"),
            OpenApiParameter("page_size", int, description="jobs per page, at most 200"),
        ],
        summary="The shop's balance imports, newest first",
    )
    def get(self, request: Request) -> Response:
        paginator = ImportPagination()
        page = paginator.paginate_queryset(
            import_jobs_for_shop(shop=request.auth), request, view=self
        )
        return paginator.get_paginated_response(ImportJobOutput(page, many=True).data)

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "ImportUpload",
                {"file": serializers.FileField(), "dry_run": serializers.BooleanField()},
            ),
            "text/csv": OpenApiTypes.BINARY,
        },
        responses={
            202: ImportJobDetailOutput,
            200: ImportJobDetailOutput,
            409: inline_serializer("ImportConflict", {"error": serializers.CharField()}),
            413: inline_serializer("ImportTooLarge", {"error": serializers.CharField()}),
        },
        parameters=[
            OpenApiParameter(
                "dry_run", bool, description="validate and count what would change; write nothing"
            ),
            *uploads.upload_parameters(replay="the first job (200)"),
        ],
        summary="Import balances from another loyalty program (a CSV file)",
        description=FORMAT,
    )
    def post(self, request: Request) -> Response:
        uploads.content_length_check(request, max_bytes=MAX_BYTES, too_large=FileTooLarge())
        key = uploads.idempotency_key_read(request)
        upload = uploads.upload_read(request, max_bytes=MAX_BYTES, too_large=FileTooLarge())
        dry_run = uploads.flag_read(
            request.query_params.get("dry_run") or request.data.get("dry_run"), "dry_run"
        )
        try:
            job, created = import_job_create(
                shop=request.auth,
                content=upload.read(),
                filename=upload.name or "",
                created_by=str(request.user),
                dry_run=dry_run,
                idempotency_key=key,
            )
        except FileError as exc:
            if exc.too_large:
                raise FileTooLarge(f"{exc.field}: {exc.message}") from exc
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc
        except IdempotencyKeyReused as exc:
            raise Conflict(
                f"Idempotency-Key was already used for another upload (import {exc.job.pk})"
            ) from exc
        # Read again: a worker in eager mode (the demo, the tests) has run it already.
        job = import_job_get(shop=request.auth, job_id=job.pk) or job
        return Response(
            ImportJobDetailOutput(job).data,
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        )


class ImportDetailApi(APIView):
    @extend_schema(
        responses={200: ImportJobDetailOutput},
        summary="One import: its status, counts and rejected lines",
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = import_job_get(shop=request.auth, job_id=job_id)
        if job is None:
            raise NotFound("no such import in this shop")
        return Response(ImportJobDetailOutput(job).data)
