"""POST /api/v1/actions/bulk and its status; the admin page: upload, preview, confirm."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from loyalty_app.bulk_actions.models import BulkAward
from loyalty_app.members.models import Member
from loyalty_app.merchant_admin.models import AuditEntry
from tests.merchant_admin.conftest import AdminClient

from .conftest import members

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run what a request enqueues after its commit, as the eager worker does."""

    def call(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return call


FILE = (
    "email,occurred_at\nann@example.com,2025-01-10\nbob@example.com,2025-01-10\nnope,2025-01-10\n"
)


def test_the_api_takes_a_csv_body_and_awards_when_asked_to_confirm(api, shop, program, clock, run):
    ann, bob = members(shop.shop)

    response = run(
        api.post,
        "/api/v1/actions/bulk?action=store_event&confirm=true&filename=event.csv",
        FILE,
        content_type="text/csv",
    )

    assert response.status_code == 202
    # (the worker ran after the response was made: the status is read again)
    body = api.get(f"/api/v1/actions/bulk/{response.json()['id']}").json()
    assert body["status"] == "done"
    assert body["filename"] == "event.csv"
    assert body["preview"]["valid"] == 2 and body["preview"]["invalid"] == 1
    assert body["result"]["awarded"] == 2 and body["result"]["points"] == 80
    assert body["result"]["errors"] == [
        {
            "line": 4,
            "status": "rejected",
            "column": "email",
            "reason": "is not a valid email address",
            "raw": "nope,2025-01-10",
        }
    ]
    assert body["progress"] == {"processed": 3, "percent": 100}
    assert AuditEntry.objects.get(action="actions.bulk_award").actor.startswith("api")


def test_the_api_previews_a_multipart_upload_until_it_is_confirmed(api, shop, program, clock, run):
    members(shop.shop)
    upload = SimpleUploadedFile("event.csv", FILE.encode(), content_type="text/csv")

    previewed = run(
        api.post, "/api/v1/actions/bulk", {"file": upload, "action": "store_event"}
    ).json()
    previewed = api.get(f"/api/v1/actions/bulk/{previewed['id']}").json()
    assert previewed["status"] == "previewed"
    assert Member.objects.get(external_id="501").points_balance == 0

    confirmed = run(api.post, f"/api/v1/actions/bulk/{previewed['id']}/confirm")

    assert confirmed.status_code == 202
    assert api.get(f"/api/v1/actions/bulk/{previewed['id']}").json()["status"] == "done"
    assert Member.objects.get(external_id="501").points_balance == 40


def test_the_api_refuses_what_it_cannot_use_with_a_clear_400(api, shop, program):
    no_file = api.post("/api/v1/actions/bulk?action=store_event", {})
    bad_action = api.post("/api/v1/actions/bulk?action=yoga", FILE, content_type="text/csv")
    bad_columns = api.post(
        "/api/v1/actions/bulk?action=store_event", "name\nAnn\n", content_type="text/csv"
    )

    assert no_file.status_code == 400 and "file" in no_file.json()["fields"]
    assert bad_action.status_code == 400
    assert bad_action.json()["fields"] == {"action": ["unknown action 'yoga'"]}
    assert bad_columns.status_code == 400 and "columns" in bad_columns.json()["fields"]
    assert not BulkAward.objects.exists()


def test_a_file_over_the_limit_is_413_with_the_bulk_awards_limit(api, shop, program):
    from loyalty_app.bulk_actions.fileformat import MAX_BYTES
    from loyalty_app.bulk_actions.models import BulkAward

    body = "email\n" + "a@example.com\n" * (MAX_BYTES // 14 + 1)
    raw = api.post("/api/v1/actions/bulk?action=store_event", body, content_type="text/csv")
    declared = api.post(
        "/api/v1/actions/bulk?action=store_event",
        {},
        CONTENT_LENGTH=str(MAX_BYTES + 1024 * 1024),
    )

    for response in (raw, declared):
        assert response.status_code == 413
        assert response.json()["error"] == "file: larger than 5 MB; split it"
    assert not BulkAward.objects.exists()


def test_another_shops_token_sees_and_confirms_nothing(api, shop, other_shop, program, clock):
    members(shop.shop)
    mine = api.post("/api/v1/actions/bulk?action=store_event", FILE, content_type="text/csv")
    theirs = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    assert theirs.get(f"/api/v1/actions/bulk/{mine.json()['id']}").status_code == 404
    assert theirs.post(f"/api/v1/actions/bulk/{mine.json()['id']}/confirm").status_code == 404
    assert BulkAward.objects.get().confirmed_at is None


def test_the_admin_page_uploads_previews_and_confirms(shop, program, clock, run):
    admin = AdminClient(shop.shop)
    members(shop.shop)
    page = admin.get("/app/actions/bulk/")
    assert page.status_code == 200
    assert "Attended the store event (40 points)" in page.content.decode()

    upload = SimpleUploadedFile("event.csv", FILE.encode(), content_type="text/csv")
    response = run(admin.post, "/app/actions/bulk/", {"action": "store_event", "file": upload})
    assert response.status_code == 303
    award = BulkAward.objects.get()
    preview = admin.get(f"/app/actions/bulk/{award.pk}/").content.decode()
    assert 'data-testid="bulk-valid">2</strong>' in preview
    assert "email: is not a valid email address" in preview

    confirmed = run(admin.post, f"/app/actions/bulk/{award.pk}/confirm")

    assert confirmed.status_code == 303
    assert Member.objects.get(external_id="502").points_balance == 40
    assert AuditEntry.objects.get(action="actions.bulk_award").actor == "staff:42"
    other = AdminClient(shop.shop)
    assert "Awarding started" not in other.get(f"/app/actions/bulk/{award.pk}/").content.decode()


def test_the_admin_page_shows_a_bad_file_and_another_shop_gets_404(shop, other_shop, program):
    admin = AdminClient(shop.shop)
    upload = SimpleUploadedFile("x.csv", b"name\nAnn\n", content_type="text/csv")
    response = admin.post("/app/actions/bulk/", {"action": "store_event", "file": upload})
    assert response.status_code == 400
    assert (
        "A column &#x27;email&#x27; or &#x27;customer_id&#x27; is required"
        in response.content.decode()
    )

    mine_upload = SimpleUploadedFile("x.csv", FILE.encode(), content_type="text/csv")
    admin.post("/app/actions/bulk/", {"action": "store_event", "file": mine_upload})
    award = BulkAward.objects.get()
    assert AdminClient(other_shop.shop).get(f"/app/actions/bulk/{award.pk}/").status_code == 404
    assert (
        AdminClient(other_shop.shop).post(f"/app/actions/bulk/{award.pk}/confirm").status_code
        == 404
    )
