"""POST/GET /api/v1/imports: upload a CSV, follow its job, read the report; 4xx that name
the field; one shop never sees another's imports."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from loyalty_app.imports.models import ImportJob
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member

from .conftest import assert_ledger_matches_balances, csv_of

FILE = csv_of("101,ada@example.com,120,Gold", "102,,50,", ",eve@example.com,30,", "103,,-4,")


class Uploaded:
    """The answer to an upload, and the job as it is once its task has run."""

    def __init__(self, response: Any, job: dict[str, Any] | None) -> None:
        self.response = response
        self.status_code = response.status_code
        self.job = job

    def json(self) -> dict[str, Any]:
        return self.job if self.job is not None else self.response.json()


@pytest.fixture
def upload(api: Client, django_capture_on_commit_callbacks: Any):
    """POST a file as multipart (or as a text/csv body), run the job's task (Celery runs
    in-process here, after the request's commit) and read the job back."""

    def post(
        content: bytes,
        *,
        as_body: bool = False,
        query: str = "",
        client: Client | None = None,
        headers: dict[str, str] | None = None,
    ) -> Uploaded:
        client = client or api
        with django_capture_on_commit_callbacks(execute=True):
            if as_body:
                response = client.post(
                    f"/api/v1/imports{query}",
                    data=content,
                    content_type="text/csv",
                    headers=headers or {},
                )
            else:
                response = client.post(
                    f"/api/v1/imports{query}",
                    data={"file": SimpleUploadedFile("old-app.csv", content, "text/csv")},
                    headers=headers or {},
                )
        if response.status_code not in (200, 202):
            return Uploaded(response, None)
        job = client.get(f"/api/v1/imports/{response.json()['id']}").json()
        return Uploaded(response, job)

    return post


# --- uploading ---------------------------------------------------------------------------


def test_an_upload_is_accepted_at_once_and_processed_by_a_task(api, shop):
    # given a worker that has not run yet (the task is enqueued on commit)
    response = api.post(
        "/api/v1/imports", data={"file": SimpleUploadedFile("old-app.csv", FILE, "text/csv")}
    )

    assert response.status_code == 202
    assert response.json()["status"] == "received"
    assert response.json()["counts"]["lines"] == 4
    assert Member.objects.count() == 0


def test_a_multipart_upload_is_imported_and_reported(upload, shop):
    response = upload(FILE)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "done"
    assert body["dry_run"] is False
    assert body["filename"] == "old-app.csv"
    assert body["counts"] == {
        "lines": 4,
        "processed": 4,
        "imported": 3,
        "unchanged": 0,
        "rejected": 1,
        "members_created": 3,
        "points_total": 200,
        "points_written": 200,
    }
    assert body["rejected_lines"] == [
        {
            "line": 5,
            "column": "points",
            "reason": "points: must not be negative (got -4)",
            "raw": "103,,-4,",
        }
    ]
    assert body["rejected_lines_truncated"] is False
    assert body["columns"]["customer_id"] == "customer_id"
    assert body["created_by"] == "api:alpha-store.myshopify.com"
    assert len(body["sha256"]) == 64
    assert Member.objects.get(shop=shop.shop, external_id="101").points_balance == 120


def test_a_text_csv_body_is_accepted_with_its_name_in_the_query(upload):
    response = upload(FILE, as_body=True, query="?filename=export.csv")

    assert response.status_code == 202
    assert response.json()["filename"] == "export.csv"
    assert response.json()["counts"]["imported"] == 3


def test_the_balances_show_on_the_customer_api(api, upload):
    upload(FILE)

    assert api.get("/api/v1/customers/101").json()["points_balance"] == 120


def test_the_same_file_uploaded_again_is_a_job_whose_lines_are_all_unchanged(upload, shop):
    first = upload(FILE).json()
    entries = LedgerEntry.objects.count()

    second = upload(FILE).json()

    assert second["id"] != first["id"]
    assert second["sha256"] == first["sha256"]
    assert second["counts"]["imported"] == 0
    assert second["counts"]["unchanged"] == 3
    assert second["counts"]["points_written"] == 0
    assert LedgerEntry.objects.count() == entries
    assert_ledger_matches_balances(shop.shop)


def test_a_corrected_file_writes_only_the_corrections(upload, shop):
    upload(FILE)

    body = upload(csv_of("101,ada@example.com,100,Gold", "102,,50,", ",eve@example.com,30,")).json()

    assert (body["counts"]["imported"], body["counts"]["unchanged"]) == (1, 2)
    assert body["counts"]["points_written"] == -20
    assert Member.objects.get(shop=shop.shop, external_id="101").points_balance == 100


def test_a_dry_run_reports_and_writes_nothing(upload):
    response = upload(FILE, query="?dry_run=true")

    assert response.status_code == 202
    body = response.json()
    assert body["dry_run"] is True
    assert body["counts"]["imported"] == 3
    assert body["counts"]["members_created"] == 3
    assert Member.objects.count() == 0
    assert LedgerEntry.objects.count() == 0


def test_a_dry_run_can_be_asked_for_in_the_form_too(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/imports",
            data={"file": SimpleUploadedFile("a.csv", FILE), "dry_run": "1"},
        )

    assert response.json()["dry_run"] is True
    assert Member.objects.count() == 0


def test_an_idempotency_key_replayed_with_the_same_file_returns_the_first_job(upload):
    first = upload(FILE, headers={"Idempotency-Key": "upload-1"})

    again = upload(FILE, headers={"Idempotency-Key": "upload-1"})
    other = upload(csv_of("9,,9,"), headers={"Idempotency-Key": "upload-1"})

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409
    assert other.json()["error"] == (
        f"Idempotency-Key was already used for another upload (import {first.json()['id']})"
    )
    assert ImportJob.objects.count() == 1


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"email,points\xff\na@b.co,1\n", "file: is not UTF-8 text (byte 12 is not); "),
        (b"", "file: a CSV file is required"),
        (b"email,points\n", "file: has a header but no lines"),
        (b"name,points\nAda,1\n", "columns: needs an 'email' or a 'customer_id' column"),
        (b"email,tier\na@b.co,x\n", "columns: needs a 'points' (or 'balance') column"),
        (b"id,customer_id,points\n1,1,1\n", "columns: 'id' and 'customer_id' both give"),
    ],
)
def test_a_file_that_cannot_be_imported_is_400_naming_the_field(upload, content, error):
    response = upload(content, as_body=True)

    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith(error)
    assert list(body["fields"]) == [error.split(":")[0]]
    assert ImportJob.objects.count() == 0


def test_a_multipart_request_without_a_file_is_400_naming_file(api):
    response = api.post("/api/v1/imports", data={"other": "x"})

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "file": ["a CSV file is required: a multipart field 'file', or a text/csv body"]
    }


def test_dry_run_must_be_true_or_false(upload):
    response = upload(FILE, query="?dry_run=perhaps")

    assert response.status_code == 400
    assert response.json()["error"] == "dry_run: must be true or false"


def test_a_json_body_is_415(api):
    response = api.post("/api/v1/imports", data={"file": "x"}, content_type="application/json")

    assert response.status_code == 415


def test_a_file_over_20_mb_is_413_and_nothing_is_stored(upload):
    content = b"id,points\n" + b"1234567890,1\n" * (20 * 1024 * 1024 // 13 + 1)

    as_body = upload(content, as_body=True)
    as_part = upload(content)

    for response in (as_body, as_part):
        assert response.status_code == 413
        assert response.json()["error"].startswith("file: too large (at most 20 MB")
    assert ImportJob.objects.count() == 0


def test_a_file_over_a_million_lines_is_413(upload):
    response = upload(b"id,points\n" + b"1,1\n" * 1_000_001, as_body=True)

    assert response.status_code == 413
    assert response.json()["error"] == "file: has more than 1,000,000 lines; split it"


# --- reading ---------------------------------------------------------------------------------


def test_the_report_of_a_job_lists_its_rejected_lines(api, upload):
    job_id = upload(FILE).json()["id"]

    response = api.get(f"/api/v1/imports/{job_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == job_id
    assert body["counts"]["rejected"] == 1
    assert body["rejected_lines"][0]["line"] == 5


def test_the_list_shows_the_shops_imports_newest_first(api, upload):
    first = upload(FILE).json()["id"]
    second = upload(FILE, query="?dry_run=true").json()["id"]

    response = api.get("/api/v1/imports")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [job["id"] for job in results] == [second, first]
    assert "rejected_lines" not in results[0]
    assert results[1]["counts"]["imported"] == 3


def test_the_list_is_paginated(api, upload):
    ids = [upload(FILE, query="?dry_run=true").json()["id"] for _ in range(3)]

    page = api.get("/api/v1/imports?page_size=2").json()
    rest = api.get(page["next"]).json()

    assert [job["id"] for job in page["results"] + rest["results"]] == ids[::-1]


# --- tenancy and authentication ------------------------------------------------------------


def test_another_shops_token_cannot_see_an_import(upload, other_shop):
    job_id = upload(FILE).json()["id"]
    theirs = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    assert theirs.get(f"/api/v1/imports/{job_id}").status_code == 404
    assert theirs.get(f"/api/v1/imports/{job_id}").json() == {
        "error": "no such import in this shop"
    }
    assert theirs.get("/api/v1/imports").json()["results"] == []


def test_an_upload_with_another_shops_token_imports_into_that_shop_only(upload, shop, other_shop):
    theirs = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    upload(csv_of("101,,5,"), client=theirs)
    upload(csv_of("101,,120,"))

    assert Member.objects.get(shop=other_shop.shop, external_id="101").points_balance == 5
    assert Member.objects.get(shop=shop.shop, external_id="101").points_balance == 120


def test_imports_need_a_token(client, shop):
    assert client.get("/api/v1/imports").status_code == 401
    response = client.post("/api/v1/imports", data={"file": SimpleUploadedFile("a.csv", FILE)})
    assert response.status_code == 401
    assert ImportJob.objects.count() == 0


def test_the_openapi_schema_describes_the_import_routes(client):
    response = client.get("/api/schema/", headers={"Accept": "application/json"})

    assert response.status_code == 200
    text = response.content.decode()
    assert "/api/v1/imports" in text
    assert "/api/v1/imports/{job_id}" in text
