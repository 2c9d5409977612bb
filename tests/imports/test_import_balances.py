"""Importing carried-over balances: each line is a target, so re-uploads and corrections
write only what differs, and the ledger and the cached balances always agree."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.imports import services
from loyalty_app.imports.models import ImportJob
from loyalty_app.imports.services import (
    IdempotencyKeyReused,
    import_job_create,
    import_job_run,
)
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add, points_adjust
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_join_by_email, member_upsert
from shopify_bridge.devstore.payloads import LineSpec, order_payload

from .conftest import assert_ledger_matches_balances, balance_of, csv_of, run_import

FILE = csv_of(
    "101,ada@example.com,120,Gold",
    "102,,50,",
    ",eve@example.com,30,Silver",
    "103,,0,",
)


def counts(job: ImportJob) -> dict[str, int]:
    return {
        "lines": job.lines,
        "imported": job.imported,
        "unchanged": job.unchanged,
        "rejected": job.rejected,
        "members_created": job.members_created,
        "points_total": job.points_total,
        "points_written": job.points_written,
    }


def import_entries(shop) -> list[tuple[str, int, int]]:
    return list(
        LedgerEntry.objects.filter(shop=shop, kind=LedgerEntry.Kind.IMPORT)
        .order_by("id")
        .values_list("idempotency_key", "points", "balance_after")
    )


# --- the first import -----------------------------------------------------------------------


def test_a_file_gives_each_customer_their_carried_over_balance(the_shop):
    job = run_import(the_shop, FILE)

    assert job.status == "done"
    assert counts(job) == {
        "lines": 4,
        "imported": 4,
        "unchanged": 0,
        "rejected": 0,
        "members_created": 4,
        "points_total": 200,
        "points_written": 200,
    }
    assert balance_of(the_shop, "101") == 120
    assert balance_of(the_shop, "102") == 50
    assert balance_of(the_shop, "103") == 0
    eve = Member.objects.get(shop=the_shop, email="eve@example.com")
    assert (eve.external_id, eve.points_balance, eve.imported_tier) == (None, 30, "Silver")
    ada = Member.objects.get(shop=the_shop, external_id="101")
    assert (ada.email, ada.imported_tier) == ("ada@example.com", "Gold")
    assert_ledger_matches_balances(the_shop)


def test_each_import_entry_says_where_it_came_from(the_shop):
    job = run_import(the_shop, csv_of("101,,120,"))

    entry = LedgerEntry.objects.get(shop=the_shop)
    member = Member.objects.get(shop=the_shop, external_id="101")
    assert entry.kind == "import"
    assert entry.idempotency_key == f"import:{member.pk}:r1"
    assert (entry.source_type, entry.source_id) == ("import", str(job.pk))
    assert (
        entry.reason
        == f"Balance carried over from the previous loyalty program (import {job.pk}, line 2)"
    )
    assert entry.actor == f"import:{job.pk} test"


def test_an_existing_member_keeps_what_they_earned_here_and_gains_the_import(the_shop):
    # given a customer who already earned 40 points here
    member = member_upsert(shop=the_shop, customer=CustomerRef(external_id="101"))
    ledger_entry_add(member=member, kind="order", points=40, idempotency_key="order:1:r1")

    # when their old balance of 120 is imported
    job = run_import(the_shop, csv_of("101,,120,"))

    # then the balance is both, and no member was created
    assert (job.imported, job.members_created) == (1, 0)
    assert balance_of(the_shop, "101") == 160
    assert import_entries(the_shop) == [(f"import:{member.pk}:r1", 120, 160)]
    assert_ledger_matches_balances(the_shop)


# --- re-uploads and corrections ---------------------------------------------------------


def test_uploading_the_same_file_again_writes_nothing_and_every_line_is_unchanged(the_shop):
    run_import(the_shop, FILE)
    before = import_entries(the_shop)

    again = run_import(the_shop, FILE)

    assert counts(again) == {
        "lines": 4,
        "imported": 0,
        "unchanged": 4,
        "rejected": 0,
        "members_created": 0,
        "points_total": 200,
        "points_written": 0,
    }
    assert import_entries(the_shop) == before
    assert_ledger_matches_balances(the_shop)


def test_a_corrected_file_writes_only_the_corrections(the_shop):
    # given a first import, then points earned and spent here
    run_import(the_shop, FILE)
    ada = Member.objects.get(shop=the_shop, external_id="101")
    ledger_entry_add(member=ada, kind="order", points=15, idempotency_key="order:9:r1")
    bob = Member.objects.get(shop=the_shop, external_id="102")
    points_adjust(member=bob, points=-50, reason="spent", idempotency_key="spend", actor="t")

    # when the merchant uploads a corrected file: Ada had 100 not 120, Bob 80 not 50,
    # Eve's tier was Gold
    job = run_import(
        the_shop,
        csv_of(
            "101,ada@example.com,100,Gold",
            "102,,80,",
            ",eve@example.com,30,Gold",
            "103,,0,",
        ),
    )

    # then one entry per correction, each from what the member has now
    assert (job.imported, job.unchanged, job.points_written) == (3, 1, 10)
    assert import_entries(the_shop)[-2:] == [
        (f"import:{ada.pk}:r2", -20, 115),
        (f"import:{bob.pk}:r2", 30, 30),
    ]
    assert balance_of(the_shop, "101") == 100 + 15
    assert balance_of(the_shop, "102") == 80 - 50
    assert Member.objects.get(shop=the_shop, email="eve@example.com").imported_tier == "Gold"
    correction = LedgerEntry.objects.filter(member=ada, kind="import").latest("id")
    assert correction.reason.startswith("Carried-over balance corrected from 120 to 100")
    assert_ledger_matches_balances(the_shop)


def test_a_balance_set_back_to_an_earlier_figure_is_written_again(the_shop):
    # 100, then 150, then 100 again: keys by revision, not by target, so nothing collides
    for points in (100, 150, 100):
        run_import(the_shop, csv_of(f"101,,{points},"))

    member = Member.objects.get(shop=the_shop, external_id="101")
    assert [p for _, p, _ in import_entries(the_shop)] == [100, 50, -50]
    assert member.points_balance == 100
    assert [k for k, _, _ in import_entries(the_shop)][-1] == f"import:{member.pk}:r3"


def test_a_correction_below_what_was_spent_takes_the_balance_below_zero(the_shop):
    run_import(the_shop, csv_of("101,,100,"))
    member = Member.objects.get(shop=the_shop, external_id="101")
    points_adjust(member=member, points=-90, reason="reward", idempotency_key="r", actor="t")

    run_import(the_shop, csv_of("101,,10,"))

    assert balance_of(the_shop, "101") == -80
    assert_ledger_matches_balances(the_shop)


# --- tiers and emails -----------------------------------------------------------------------


def test_a_blank_tier_cell_clears_the_tier_but_a_file_without_a_tier_column_keeps_it(the_shop):
    run_import(the_shop, csv_of("101,,10,Gold", "102,,10,Gold"))

    job = run_import(the_shop, csv_of("101,,10,"))
    no_tier_column = run_import(the_shop, b"id,points\n102,10\n")

    assert (job.imported, no_tier_column.unchanged) == (1, 1)
    assert Member.objects.get(shop=the_shop, external_id="101").imported_tier == ""
    assert Member.objects.get(shop=the_shop, external_id="102").imported_tier == "Gold"


def test_an_email_only_line_goes_to_the_customer_with_that_email_whatever_its_case(the_shop):
    member_upsert(shop=the_shop, customer=CustomerRef(external_id="101", email="Ada@Example.com"))

    job = run_import(the_shop, b"email,points\nada@example.COM,75\n")

    assert (job.imported, job.members_created) == (1, 0)
    assert balance_of(the_shop, "101") == 75
    assert Member.objects.filter(shop=the_shop).count() == 1


def test_a_customer_id_line_with_an_email_claims_the_email_only_member(the_shop):
    # given a shopper who joined with their email only, with 10 points
    joined, _ = member_join_by_email(shop=the_shop, email="eve@example.com")
    ledger_entry_add(member=joined, kind="action", points=10, idempotency_key="signup")

    # when the import names them by customer id and that email
    job = run_import(the_shop, csv_of("555,EVE@example.com,30,"))

    # then that member gets the id and keeps both
    member = Member.objects.get(shop=the_shop, external_id="555")
    assert member.pk == joined.pk
    assert member.points_balance == 40
    assert (job.imported, job.members_created) == (1, 0)
    assert Member.objects.filter(shop=the_shop).count() == 1


def test_a_line_with_both_records_the_email_only_where_the_member_has_none(the_shop):
    member_upsert(shop=the_shop, customer=CustomerRef(external_id="101"))
    member_upsert(
        shop=the_shop, customer=CustomerRef(external_id="102", email="bob@shop-email.com")
    )

    run_import(the_shop, csv_of("101,ada@old-app.com,1,", "102,bob@old-app.com,1,"))

    assert Member.objects.get(shop=the_shop, external_id="101").email == "ada@old-app.com"
    assert Member.objects.get(shop=the_shop, external_id="102").email == "bob@shop-email.com"


def test_an_email_only_member_claimed_later_by_an_order_keeps_the_imported_points(
    the_shop, post_webhook
):
    # given Eve imported by email only
    run_import(the_shop, b"email,points\neve@example.com,300\n")
    imported = Member.objects.get(shop=the_shop, email="eve@example.com")

    # when her first order arrives with her new customer id and that email
    payload = order_payload(
        order_id=9001,
        customer_id=777,
        email="eve@example.com",
        lines=[LineSpec(price=Decimal("25.00"))],
    )
    response = post_webhook("orders/create", payload)

    # then the imported member becomes the customer, with both the import and the order
    assert response.status_code == 200
    member = Member.objects.get(shop=the_shop, external_id="777")
    assert member.pk == imported.pk
    kinds = sorted(member.ledger_entries.values_list("kind", "points"))
    assert ("import", 300) in kinds
    assert member.points_balance == sum(p for _, p in kinds) > 300
    assert_ledger_matches_balances(the_shop)

    # and a re-upload of the email-only file still changes nothing
    assert run_import(the_shop, b"email,points\neve@example.com,300\n").unchanged == 1


def test_two_lines_that_turn_out_to_be_one_member_keep_the_first(the_shop):
    # given customer 101 whose email is ada@example.com
    member_upsert(shop=the_shop, customer=CustomerRef(external_id="101", email="ada@example.com"))

    # when the file names her by email, and later by id
    job = run_import(the_shop, csv_of(",ada@example.com,10,", "102,,5,", "101,,99,"))

    assert (job.imported, job.rejected) == (2, 1)
    assert job.rejected_lines == [
        {
            "line": 4,
            "column": "customer_id",
            "reason": "customer_id: 101 is the same customer as line 2",
            "raw": "101,,99,",
        }
    ]
    assert balance_of(the_shop, "101") == 10


def test_one_member_named_in_two_batches_is_also_caught(the_shop):
    member_upsert(shop=the_shop, customer=CustomerRef(external_id="101", email="ada@example.com"))

    job = run_import(the_shop, csv_of(",ada@example.com,10,", "102,,5,", "101,,99,"), batch_size=1)

    assert (job.imported, job.rejected) == (2, 1)
    assert balance_of(the_shop, "101") == 10


# --- rejected lines ------------------------------------------------------------------------


def test_rejected_lines_are_reported_with_reasons_and_the_rest_is_imported(the_shop):
    job = run_import(
        the_shop,
        csv_of("101,,10,", "102,,-5,", "abc,,1,", ",nobody,1,", "101,,20,", "103,,2.5,", "104,,4,"),
    )

    assert (job.lines, job.imported, job.rejected) == (7, 2, 5)
    assert [(r["line"], r["column"]) for r in job.rejected_lines] == [
        (3, "points"),
        (4, "customer_id"),
        (5, "email"),
        (6, "customer_id"),
        (7, "points"),
    ]
    assert job.rejected_lines[0] == {
        "line": 3,
        "column": "points",
        "reason": "points: must not be negative (got -5)",
        "raw": "102,,-5,",
    }
    assert balance_of(the_shop, "101") == 10
    assert balance_of(the_shop, "104") == 4


def test_only_the_first_rejected_lines_are_kept_but_all_are_counted(the_shop, monkeypatch):
    monkeypatch.setattr(ImportJob, "MAX_REJECTED_KEPT", 3)

    job = run_import(the_shop, csv_of(*[f"{n},,-1," for n in range(1, 11)]), batch_size=4)

    assert job.rejected == 10
    assert [r["line"] for r in job.rejected_lines] == [2, 3, 4]


# --- dry runs, re-runs, idempotency keys ------------------------------------------------------


def test_a_dry_run_counts_what_would_change_and_writes_nothing(the_shop):
    run_import(the_shop, csv_of("101,,100,Gold"))
    entries_before = import_entries(the_shop)

    job = run_import(
        the_shop,
        csv_of("101,,100,Gold", "102,,50,", ",eve@example.com,5,", "103,,x,"),
        dry_run=True,
    )

    assert job.dry_run and job.status == "done"
    assert counts(job) == {
        "lines": 4,
        "imported": 2,
        "unchanged": 1,
        "rejected": 1,
        "members_created": 2,
        "points_total": 155,
        "points_written": 55,
    }
    assert import_entries(the_shop) == entries_before
    assert Member.objects.filter(shop=the_shop).count() == 1


def test_a_job_stopped_midway_resumes_after_its_last_committed_batch(the_shop, monkeypatch):
    # given a job whose third batch fails (a worker dies, say)
    content = csv_of(*[f"{n},,{n * 10}," for n in range(1, 8)], "8,,bad,")
    job, _ = import_job_create(
        shop=the_shop, content=content, filename="f.csv", created_by="t", enqueue=False
    )
    real = services._batch_apply
    calls = {"n": 0}

    def failing(**kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return real(**kw)

    monkeypatch.setattr(services, "_batch_apply", failing)
    stopped = import_job_run(job_id=job.pk, batch_size=2)
    assert (stopped.status, stopped.cursor_line, stopped.imported) == ("failed", 5, 4)
    assert "RuntimeError: worker killed" in stopped.error

    # when it is run again
    monkeypatch.setattr(services, "_batch_apply", real)
    finished = import_job_run(job_id=job.pk, batch_size=2)

    # then it carries on where it stopped: nothing twice, the counts are the whole file's
    assert finished.status == "done"
    assert (finished.imported, finished.unchanged, finished.rejected) == (7, 0, 1)
    assert finished.points_written == sum(n * 10 for n in range(1, 8))
    assert LedgerEntry.objects.filter(shop=the_shop).count() == 7
    assert_ledger_matches_balances(the_shop)


def test_a_done_job_run_again_changes_nothing(the_shop):
    job = run_import(the_shop, FILE)

    again = import_job_run(job_id=job.pk)

    assert counts(again) == counts(job)
    assert LedgerEntry.objects.filter(shop=the_shop).count() == 3


def test_the_same_idempotency_key_and_file_return_the_first_job(the_shop):
    first, created = import_job_create(
        shop=the_shop,
        content=FILE,
        filename="a.csv",
        created_by="t",
        idempotency_key="k",
        enqueue=False,
    )

    again, created_again = import_job_create(
        shop=the_shop,
        content=FILE,
        filename="a.csv",
        created_by="t",
        idempotency_key="k",
        enqueue=False,
    )

    assert (created, created_again, again.pk) == (True, False, first.pk)
    with pytest.raises(IdempotencyKeyReused):
        import_job_create(
            shop=the_shop,
            content=csv_of("1,,1,"),
            filename="b.csv",
            created_by="t",
            idempotency_key="k",
            enqueue=False,
        )


# --- tenancy -----------------------------------------------------------------------------


def test_the_same_customer_id_in_two_shops_stays_separate(the_shop, other_shop):
    run_import(the_shop, csv_of("101,,100,"))
    run_import(other_shop.shop, csv_of("101,,7,"))

    assert balance_of(the_shop, "101") == 100
    assert balance_of(other_shop.shop, "101") == 7
    # and a re-import in one shop is judged by that shop's ledger only
    assert run_import(other_shop.shop, csv_of("101,,7,")).unchanged == 1
    assert_ledger_matches_balances(the_shop)
    assert_ledger_matches_balances(other_shop.shop)


def test_many_batches_keep_the_ledger_and_the_cached_balances_equal(the_shop):
    # given members who already have points, some by email only
    for n in range(1, 30, 3):
        member = member_upsert(shop=the_shop, customer=CustomerRef(external_id=str(n)))
        ledger_entry_add(member=member, kind="order", points=n, idempotency_key=f"o{n}")
    lines = [f"{n},,{n * 3},T{n % 3}" for n in range(1, 40)]
    lines += [f",user{n}@example.com,{n}," for n in range(40)]

    first = run_import(the_shop, csv_of(*lines), batch_size=7)
    second = run_import(the_shop, csv_of(*lines), batch_size=13)

    assert (first.imported, first.rejected) == (79, 0)
    assert (second.imported, second.unchanged) == (0, 79)
    assert_ledger_matches_balances(the_shop)
