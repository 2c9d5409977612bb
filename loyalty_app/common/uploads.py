"""Reading a CSV upload from an API request: a multipart field ``file`` or a raw
``text/csv`` body, within a size limit, with an optional Idempotency-Key header.

The balance-import and bulk-award APIs share these; each gives its own limit and its
own 413 message.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.parsers import BaseParser, DataAndFiles
from rest_framework.request import Request

# A multipart body carries its boundaries and part headers around the file.
MULTIPART_ALLOWANCE = 64 * 1024
MAX_IDEMPOTENCY_KEY_LENGTH = 150


class FileTooLarge(APIException):
    """HTTP 413 for an upload over its limit; each API words its own detail."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "file: too large"
    default_code = "too_large"


class CsvBodyParser(BaseParser):
    """A raw ``text/csv`` body, handed on as the upload named ``file`` (its name from the
    ``filename`` query parameter). A subclass sets ``max_bytes`` and ``too_large``.

    Reads the stream itself, at most one byte past the limit: Django's ``request.body``
    would refuse anything above DATA_UPLOAD_MAX_MEMORY_SIZE, which is sized for webhooks.
    """

    media_type = "text/csv"
    max_bytes: ClassVar[int]
    too_large: ClassVar[type[APIException]] = FileTooLarge

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> DataAndFiles:
        content = stream.read(self.max_bytes + 1) if stream is not None else b""
        if len(content) > self.max_bytes:
            raise self.too_large()
        request = (parser_context or {}).get("request")
        name = request.query_params.get("filename", "") if request is not None else ""
        upload = SimpleUploadedFile(name[:255] or "upload.csv", content, "text/csv")
        return DataAndFiles({}, {"file": upload})


def content_length_check(request: Request, *, max_bytes: int, too_large: APIException) -> None:
    """Refuse a body whose declared length cannot hold a file within ``max_bytes``,
    before a multipart parser spools it to disk."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_bytes + MULTIPART_ALLOWANCE:
        raise too_large


def upload_read(request: Request, *, max_bytes: int, too_large: APIException) -> UploadedFile:
    """The uploaded file (a multipart field ``file`` or a text/csv body). Raises a 400
    naming ``file`` when there is none, ``too_large`` when it is over ``max_bytes``."""
    upload = request.data.get("file")
    if not isinstance(upload, UploadedFile):
        raise serializers.ValidationError(
            {"file": ["a CSV file is required: a multipart field 'file', or a text/csv body"]}
        )
    if upload.size is not None and upload.size > max_bytes:
        raise too_large
    return upload


def flag_read(value: Any, name: str) -> bool:
    """A boolean query or form value; anything but the usual spellings is a 400."""
    text = str(value or "").strip().lower()
    if text in {"", "0", "false", "no", "off"}:
        return False
    if text in {"1", "true", "yes", "on"}:
        return True
    raise serializers.ValidationError({name: ["must be true or false"]})


def idempotency_key_read(request: Request) -> str:
    """The Idempotency-Key header ("" without one); a 400 for an unusable one."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
        raise serializers.ValidationError({"Idempotency-Key": ["at most 150 printable characters"]})
    return key


def upload_parameters(*, replay: str) -> list[OpenApiParameter]:
    """The schema's ``filename`` and ``Idempotency-Key`` parameters; ``replay`` says what
    a retry with the same key and file returns."""
    return [
        OpenApiParameter("filename", str, description="the file's name, for a text/csv body"),
        OpenApiParameter(
            "Idempotency-Key",
            str,
            OpenApiParameter.HEADER,
            description=f"Retrying with the same key and file returns {replay}.",
        ),
    ]
