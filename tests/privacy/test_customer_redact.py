"""customer_redact and the data request on the engine's side: import files, data requests,
email-only members, concurrency."""

from __future__ import annotations

import pytest

from loyalty_app.imports.models import ImportJob
from loyalty_app.imports.services import import_job_create, import_job_run
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_join_by_email
from loyalty_app.privacy.importfiles import Subject, import_content_scrub, import_lines_about
from loyalty_app.privacy.models import CustomerRedaction, DataRequest
from loyalty_app.privacy.services import customer_redact, data_request_record
from tests.concurrency import run_concurrently

FILE = (
    "customer_id,email,points,tier\n"
    "301,ann@example.com,120,Gold\n"
    "gid://shopify/Customer/302,bob@example.com,80,\n"
    "303,ANN@example.com,5,\n"
    "not-an-id,ann@example.com,7,\n"
)


def imported(shop) -> ImportJob:
    job, _ = import_job_create(
        shop=shop.shop, content=FILE.encode(), filename="old.csv", created_by="t", enqueue=False
    )
    return import_job_run(job_id=job.pk)


def test_the_lines_of_an_import_file_about_a_customer_are_found_by_id_or_email():
    subject = Subject.of(customer_ids={"302"}, emails={"Ann@example.com"})

    found = import_lines_about(FILE.encode(), subject)

    # The valid lines by id (gid form too) and email, and rejected lines by their text
    assert [(f["line"], f.get("points")) for f in found] == [
        (2, 120),
        (3, 80),
        (4, None),
        (5, None),
    ]


def test_scrubbing_an_import_file_blanks_the_customers_cells_and_keeps_the_lines():
    subject = Subject.of(customer_ids={"302"}, emails=set())

    content, lines = import_content_scrub(("\ufeff" + FILE).encode(), subject)

    text = content.decode("utf-8-sig")
    assert lines == [3]
    assert text.split("\n")[2] == ",,80,"
    assert text.split("\n")[1] == "301,ann@example.com,120,Gold"
    assert len(text.split("\n")) == len(FILE.split("\n"))
    assert content.startswith(b"\xef\xbb\xbf")


def test_a_redaction_blanks_the_customer_in_stored_import_files_and_their_reports(shop):
    # Given an import whose file names ann twice (one line rejected as a duplicate)
    job = imported(shop)
    assert job.rejected >= 1

    # When ann (customer 301) is redacted
    customer_redact(shop=shop.shop, customer_id="301", email="ann@example.com", order_ids=[])

    # Then the stored file and the rejection report no longer name her; bob's line stays
    job.refresh_from_db()
    text = bytes(job.content).decode()
    assert "ann@" not in text.lower() and "\n301," not in text
    assert "bob@example.com" in text
    assert "ann" not in str(job.rejected_lines).lower()
    # And her balance stays
    member = Member.objects.get(shop=shop.shop, points_balance=120)
    assert member.email == "" and member.external_id.startswith("redacted-")
    assert CustomerRedaction.objects.get().summary["import_lines"] >= 2


def test_a_redaction_by_id_also_takes_the_email_only_member_of_the_same_email(shop):
    # Given a member by id, and an email-only member with the same email
    imported(shop)
    joined, created = member_join_by_email(shop=shop.shop, email="carol@example.com")
    assert created

    # When the customer is redacted by id and email
    redaction = customer_redact(
        shop=shop.shop, customer_id="999", email="carol@example.com", order_ids=[]
    )

    # Then the email-only member is anonymized too
    joined.refresh_from_db()
    assert (joined.email, joined.external_id) == ("", f"redacted-{joined.pk}")
    assert redaction.record.summary["members"] == 1


def test_a_data_request_after_a_redaction_finds_nothing_personal(shop):
    # Given a customer who was redacted
    imported(shop)
    customer_redact(shop=shop.shop, customer_id="301", email="ann@example.com", order_ids=[])

    # When a data request names them
    request, created = data_request_record(
        shop=shop.shop, request_id="77", customer_id="301", email="ann@example.com", order_ids=[]
    )

    # Then nothing is held about them
    assert created
    assert request.data["members"] == [] and request.data["imports"] == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_redaction_record_it_once(shop):
    # Given a member
    imported(shop)

    # When the same redaction is processed by four workers at once
    results, errors = run_concurrently(
        lambda i: customer_redact(
            shop=shop.shop, customer_id="301", email="ann@example.com", order_ids=[]
        ),
        4,
    )

    # Then there is one record, every worker answers with it, and the balance is kept
    assert errors == []
    record = CustomerRedaction.objects.get()
    assert {r.record.pk for r in results} == {record.pk}
    assert [r.created for r in results].count(True) == 1
    assert Member.objects.get(pk=record.member_id).points_balance == 120


def test_a_redaction_blanks_the_answers_to_the_customers_earlier_data_requests(shop):
    # Given a data request answered for ann, and one for bob
    imported(shop)
    for request_id, customer_id, email in (("1", "301", "ann@example.com"), ("2", "302", "")):
        data_request_record(
            shop=shop.shop,
            request_id=request_id,
            customer_id=customer_id,
            email=email,
            order_ids=[],
        )

    # When ann is redacted
    customer_redact(shop=shop.shop, customer_id="301", email="ann@example.com", order_ids=[])

    # Then her request keeps its id and dates but nothing about her; bob's is untouched
    ann = DataRequest.objects.get(request_id="1")
    assert (ann.customer_id, ann.email, ann.data) == ("", "", {"redacted": True})
    assert ann.completed_at is not None
    bob = DataRequest.objects.get(request_id="2")
    assert bob.data["members"][0]["points_balance"] == 80
