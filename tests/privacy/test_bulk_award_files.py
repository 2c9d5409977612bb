"""A customer's lines in stored bulk-award files: in the data request, blanked by a
redaction, with the file's line numbers kept; another shop's files untouched."""

from __future__ import annotations

from typing import Any

from loyalty_app.bulk_actions.models import BulkAward
from loyalty_app.bulk_actions.services import bulk_award_confirm, bulk_award_run
from loyalty_app.earning.services import program_update
from loyalty_app.privacy.bulkfiles import bulk_content_scrub, bulk_lines_about
from loyalty_app.privacy.importfiles import Subject
from loyalty_app.privacy.selectors import customer_data
from loyalty_app.privacy.services import customer_redact
from tests.bulk_actions.conftest import STORE_EVENT, members, upload

FILE = (
    "email;customer_id;event_key\r\n"
    "ann@example.com;;fair-1\r\n"
    ";502;fair-2\r\n"
    "\r\n"
    "not an email;;fair-3\r\n"
    "ANN@example.com;;fair-4\r\n"
)
ANN = Subject.of(customer_ids={"501"}, emails={"ann@example.com"})


def test_the_lines_about_a_customer_are_found_by_email_or_id() -> None:
    content = FILE.encode()
    assert bulk_lines_about(content, ANN) == [
        {"line": 2, "text": "ann@example.com;;fair-1"},
        {"line": 6, "text": "ANN@example.com;;fair-4"},
    ]
    bob = Subject.of(customer_ids={"502"}, emails=set())
    assert bulk_lines_about(content, bob) == [{"line": 3, "text": ";502;fair-2"}]
    assert bulk_lines_about(content, Subject.of(customer_ids=set(), emails=set())) == []


def test_scrubbing_blanks_the_customers_cells_and_keeps_every_line() -> None:
    content = ("\ufeff" + FILE).encode()
    scrubbed, hit = bulk_content_scrub(content, ANN)
    assert hit == [2, 6]
    assert (
        scrubbed
        == (
            "\ufeffemail;customer_id;event_key\r\n"
            ";;fair-1\r\n"
            ";502;fair-2\r\n"
            "\r\n"
            "not an email;;fair-3\r\n"
            ";;fair-4\r\n"
        ).encode()
    )
    # A one-column file keeps a placeholder, never an empty line the reader would skip.
    one, hit = bulk_content_scrub(b"email\nann@example.com\nbob@example.com\n", ANN)
    assert (one, hit) == (b"email\nredacted\nbob@example.com\n", [2])


def test_a_redaction_blanks_the_customer_in_stored_files_and_in_the_data_request(
    shop: Any, other_shop: Any
) -> None:
    for each in (shop.shop, other_shop.shop):
        program_update(shop=each, data={"actions": [STORE_EVENT]}, actor="t")
        members(each)
    mine = upload(shop.shop, FILE)
    theirs = upload(other_shop.shop, FILE)
    # The invalid line is kept with its raw text among the preview's issues.
    assert any(i["line"] == 5 for i in mine.preview_issues)

    before = customer_data(shop=shop.shop, customer_id="501", email="ann@example.com", order_ids=[])
    assert before["bulk_awards"] == [
        {
            "bulk_award_id": mine.pk,
            "action": "store_event",
            "filename": "list.csv",
            "uploaded_at": before["bulk_awards"][0]["uploaded_at"],
            "lines": [
                {"line": 2, "text": "ann@example.com;;fair-1"},
                {"line": 6, "text": "ANN@example.com;;fair-4"},
            ],
        }
    ]

    redaction = customer_redact(
        shop=shop.shop, customer_id="501", email="ann@example.com", order_ids=[]
    )
    assert redaction.record.summary["bulk_award_lines"] == 2
    mine.refresh_from_db()
    assert b"ann@example.com" not in bytes(mine.content).lower()
    assert mine.sha256 == theirs.sha256  # the upload's name stays the uploaded file's
    after = customer_data(shop=shop.shop, customer_id="501", email="ann@example.com", order_ids=[])
    assert after["bulk_awards"] == []
    # The other shop's file still names the customer of the same id and email.
    theirs.refresh_from_db()
    assert bytes(theirs.content) == FILE.encode()

    # Confirmed after the redaction, the blanked lines are rejected, never awarded.
    bulk_award_confirm(shop=shop.shop, award_id=mine.pk, actor="staff:1", enqueue=False)
    done = bulk_award_run(award_id=mine.pk)
    assert (done.status, done.awarded, done.rejected) == (BulkAward.Status.DONE, 1, 3)
