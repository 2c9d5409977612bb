"""Awarding an action from a CSV file: the preview, the award, re-uploads, limits,
crashes, formats and tenancy, on small hand-checked files."""

from __future__ import annotations

import pytest

from loyalty_app.actions.services import ActionInvalid
from loyalty_app.bulk_actions import services
from loyalty_app.bulk_actions.fileformat import FileError
from loyalty_app.bulk_actions.models import BulkAward
from loyalty_app.bulk_actions.services import bulk_award_confirm, bulk_award_run
from loyalty_app.earning.models import ActionEvent
from loyalty_app.earning.services import program_update
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.merchant_admin.models import AuditEntry

from .conftest import members, upload

pytestmark = pytest.mark.django_db

# 7 lines: Ann twice in May (limit 2 a month), a third time in May (over), Bob once,
# a new email, a bad email, an unknown customer id, a duplicate of line 3.
MIXED = (
    "customer_id,email,occurred_at\n"
    "501,,2025-01-10\n"
    "501,,2025-01-11\n"
    "501,,2025-01-12\n"
    ",bob@example.com,2025-01-10T18:30:00\n"
    ",new@example.com,2025-01-10\n"
    ",not-an-email,2025-01-10\n"
    "999,,2025-01-10\n"
    "501,,2025-01-11\n"
)


def balance(shop, customer_id="", email=""):
    member = Member.objects.get(
        shop=shop, **({"external_id": customer_id} if customer_id else {"email": email})
    )
    return member.points_balance


def test_the_preview_says_what_each_line_would_do_and_writes_nothing(shop, program, clock):
    ann, bob = members(shop.shop)

    award = upload(shop.shop, MIXED)

    assert award.status == BulkAward.Status.PREVIEWED
    assert (award.preview_valid, award.preview_limit_reached, award.preview_invalid) == (4, 1, 3)
    assert award.preview_new_members == 1
    assert award.preview_points == 4 * 40
    assert [(i["line"], i["status"], i["reason"]) for i in award.preview_issues] == [
        (4, "limit_reached", "the action's limit is reached"),
        (7, "invalid", "is not a valid email address"),
        (8, "invalid", "no member has customer id 999"),
        (9, "invalid", "duplicate of line 3"),
    ]
    assert not ActionEvent.objects.exists() and not LedgerEntry.objects.exists()
    assert Member.objects.filter(shop=shop.shop).count() == 2


def test_customer_ids_are_read_as_the_balance_import_reads_them(shop, program, clock):
    # Given Ann (501) named with leading zeros and as a gid, and ids that are not ids
    members(shop.shop)
    text = (
        "customer_id,occurred_at\n"
        "000501,2025-01-10\n"
        "gid://shopify/Customer/501,2025-01-11\n"
        "0,2025-01-10\n"
        "6.2E+12,2025-01-10\n"
        "abc,2025-01-10\n"
    )

    award = upload(shop.shop, text)

    # Then both of Ann's lines would earn, and each other line says why it is refused
    assert (award.preview_valid, award.preview_invalid) == (2, 3)
    assert [(i["line"], i["reason"]) for i in award.preview_issues] == [
        (4, "0 is not a customer id"),
        (
            5,
            "6.2E+12 is a rounded number (a spreadsheet's scientific notation); "
            "export the column as text",
        ),
        (6, "'abc' is not a customer id (digits, or gid://shopify/Customer/N)"),
    ]


def test_confirming_awards_through_the_actions_rules_and_is_audited(shop, program, clock):
    ann, bob = members(shop.shop)
    award = upload(shop.shop, MIXED)

    bulk_award_confirm(shop=shop.shop, award_id=award.pk, actor="staff:42", enqueue=False)
    award = bulk_award_run(award_id=award.pk)

    assert award.status == BulkAward.Status.DONE
    assert (award.awarded, award.limit_reached, award.replayed, award.rejected) == (4, 1, 0, 3)
    assert award.points_awarded == 160
    assert balance(shop.shop, "501") == 80
    assert balance(shop.shop, "502") == 40
    assert balance(shop.shop, email="new@example.com") == 40  # joined as an email-only member
    assert ActionEvent.objects.filter(status=ActionEvent.Status.LIMIT_REACHED).count() == 1
    assert [(i["line"], i["reason"]) for i in award.issues] == [
        (7, "is not a valid email address"),
        (8, "no member has customer id 999"),
        (9, "duplicate of line 3"),
    ]
    entry = AuditEntry.objects.get(action="actions.bulk_award")
    assert (entry.actor, entry.object_id) == ("staff:42", str(award.pk))
    assert entry.after["preview_points"] == 160


def test_uploading_the_same_file_again_awards_nothing_new(shop, program, clock):
    members(shop.shop)
    first = upload(shop.shop, MIXED)
    bulk_award_confirm(shop=shop.shop, award_id=first.pk, actor="staff:42", enqueue=False)
    bulk_award_run(award_id=first.pk)

    again = upload(shop.shop, MIXED)
    assert (again.preview_valid, again.preview_already) == (0, 5)
    bulk_award_confirm(shop=shop.shop, award_id=again.pk, actor="staff:42", enqueue=False)
    again = bulk_award_run(award_id=again.pk)

    assert (again.awarded, again.replayed, again.rejected) == (0, 5, 3)
    assert balance(shop.shop, "501") == 80
    assert LedgerEntry.objects.filter(shop=shop.shop).count() == 4


def test_lines_without_a_time_are_one_event_per_file(shop, program, clock):
    members(shop.shop)
    text = "email\nann@example.com\n"
    first = upload(shop.shop, text, confirm=True)
    same = upload(shop.shop, text, confirm=True)
    other = upload(shop.shop, "email\r\nann@example.com\r\n", confirm=True)  # another file

    assert (first.awarded, same.replayed, other.awarded) == (1, 1, 1)
    assert balance(shop.shop, "501") == 80


def test_event_keys_from_the_file_are_kept_and_a_reused_key_is_refused(shop, program, clock):
    members(shop.shop)
    text = "customer_id;event_key;occurred_at\n501;ev-1;2025-01-10\n502;ev-1;2025-01-10\n"
    award = upload(shop.shop, text, confirm=True)

    assert (award.awarded, award.rejected) == (1, 1)
    assert award.issues[0]["reason"] == "duplicate of line 2"
    assert ActionEvent.objects.get().event_key == "bulk:ev-1"


def test_a_file_with_bom_crlf_semicolons_and_quotes_is_read(shop, program, clock):
    members(shop.shop)
    text = (
        '\ufeffsep=;\r\n"Email";"Name";"Date"\r\n"ann@example.com";"Ann; A.";"2025-01-10"\r\n\r\n'
    )
    award = upload(shop.shop, text.encode("utf-8"), confirm=True)

    assert award.columns == {"email": "Email", "occurred_at": "Date", "ignored": ["Name"]}
    assert (award.lines, award.awarded) == (1, 1)


def test_per_target_and_per_line_actions(shop, clock):
    program_update(
        shop=shop.shop,
        data={
            "actions": [
                {
                    "key": "class",
                    "points": 10,
                    "limit": {"count": 1, "period": "lifetime", "per_target": True},
                },
                {"key": "workshop", "points": 15},
            ]
        },
        actor="t",
    )
    members(shop.shop)
    text = (
        "customer_id,action,target\n"
        "501,class,Pottery\n"
        "501,class,pottery\n"  # the same target (targets ignore case): duplicate
        "501,class,\n"  # a per-target action needs a target
        "501,workshop,\n"
        "501,yoga,\n"  # not an action of the program
    )
    award = upload(shop.shop, text, action="", confirm=True)

    assert (award.awarded, award.rejected) == (2, 3)
    assert [(i["line"], i["reason"]) for i in award.issues] == [
        (3, "duplicate of line 2"),
        (4, "is required: this action is limited per target (a network, a product)"),
        (6, "'yoga' is not an action of this shop's program (enabled: class, workshop)"),
    ]
    assert balance(shop.shop, "501") == 25


def test_a_file_or_an_action_that_cannot_be_used_is_refused_whole(shop, program):
    with pytest.raises(FileError, match="columns: a column 'email' or 'customer_id'"):
        upload(shop.shop, "name,points\nAnn,5\n")
    with pytest.raises(FileError, match="file: is not UTF-8"):
        upload(shop.shop, "email\nann@exämple.com\n".encode("latin-1"))
    with pytest.raises(ActionInvalid, match="unknown action 'yoga'"):
        upload(shop.shop, "email\nann@example.com\n", action="yoga")
    with pytest.raises(ActionInvalid, match="birthday"):
        upload(shop.shop, "email\nann@example.com\n", action="birthday")
    assert not BulkAward.objects.exists()


def test_a_paused_program_awards_nothing(shop, program, clock):
    members(shop.shop)
    award = upload(shop.shop, "customer_id\n501\n")
    program_update(shop=shop.shop, data={"actions": [], "enabled": False}, actor="t")
    bulk_award_confirm(shop=shop.shop, award_id=award.pk, actor="staff:42", enqueue=False)

    award = bulk_award_run(award_id=award.pk)

    assert (award.awarded, award.rejected) == (0, 1)
    assert award.issues[0]["reason"] == "the shop's loyalty program is paused"


def test_old_and_future_lines_are_refused(shop, program, clock):
    members(shop.shop)
    award = upload(
        shop.shop,
        "customer_id,occurred_at\n501,2024-09-01\n501,2025-02-01\n501,yesterday\n",
        confirm=True,
    )

    assert [i["reason"] for i in award.issues] == [
        "must be within the last 90 days",
        "must not be in the future",
        "is not a date or date and time (2026-05-17)",
    ]


def test_an_award_stopped_by_a_crash_resumes_after_its_last_batch(
    shop, program, clock, monkeypatch
):
    # given 5 members in a file awarded 2 lines per batch, and a crash on the 4th line
    for n in range(5):
        Member.objects.create(shop=shop.shop, external_id=str(600 + n), email=f"m{n}@example.com")
    text = "customer_id\n" + "".join(f"{600 + n}\n" for n in range(5))
    award = upload(shop.shop, text)
    bulk_award_confirm(shop=shop.shop, award_id=award.pk, actor="staff:42", enqueue=False)
    real = services._line_award
    calls = []

    def crashing(award, line, key):
        calls.append(line.line)
        if line.line == 5 and calls.count(5) == 1:
            raise RuntimeError("worker killed")
        return real(award, line, key)

    monkeypatch.setattr(services, "_line_award", crashing)
    failed = bulk_award_run(award_id=award.pk, batch_size=2)
    assert failed.status == BulkAward.Status.FAILED
    assert (failed.award_cursor, failed.awarded) == (3, 2)  # lines 2-3 committed, 4-5 rolled back
    assert LedgerEntry.objects.count() == 2

    # when it runs again
    done = bulk_award_run(award_id=award.pk, batch_size=2)

    # then it carried on after line 3 and every member has the points once
    assert done.status == BulkAward.Status.DONE
    assert (done.awarded, done.replayed, done.rejected) == (5, 0, 0)
    assert calls == [2, 3, 4, 5, 4, 5, 6]
    assert sorted(Member.objects.values_list("points_balance", flat=True)) == [40] * 5


def test_confirming_twice_or_before_the_preview_is_harmless(shop, program, clock):
    members(shop.shop)
    award, _ = services.bulk_award_create(
        shop=shop.shop,
        content=b"customer_id\n501\n",
        filename="a.csv",
        action="store_event",
        created_by="staff:42",
        enqueue=False,
    )
    with pytest.raises(services.NotReady):
        bulk_award_confirm(shop=shop.shop, award_id=award.pk, actor="staff:42", enqueue=False)
    bulk_award_run(award_id=award.pk)
    bulk_award_confirm(shop=shop.shop, award_id=award.pk, actor="staff:42", enqueue=False)
    bulk_award_confirm(shop=shop.shop, award_id=award.pk, actor="staff:43", enqueue=False)
    bulk_award_run(award_id=award.pk)
    bulk_award_run(award_id=award.pk)

    assert balance(shop.shop, "501") == 40
    assert AuditEntry.objects.filter(action="actions.bulk_award").count() == 1


def test_one_shop_cannot_confirm_or_award_to_another_shops_members(
    shop, other_shop, program, clock
):
    members(shop.shop)
    program_update(
        shop=other_shop.shop, data={"actions": [{"key": "store_event", "points": 5}]}, actor="t"
    )
    # the other shop's file names the first shop's customer id and email
    theirs = upload(other_shop.shop, "customer_id,email\n501,\n,ann@example.com\n", confirm=True)

    assert (theirs.awarded, theirs.rejected) == (1, 1)  # the email joins the other shop
    assert theirs.issues[0]["reason"] == "no member has customer id 501"
    assert balance(shop.shop, "501") == 0
    assert Member.objects.get(shop=other_shop.shop, email="ann@example.com").points_balance == 5
    mine = upload(shop.shop, "customer_id\n501\n")
    with pytest.raises(BulkAward.DoesNotExist):
        bulk_award_confirm(shop=other_shop.shop, award_id=mine.pk, actor="x", enqueue=False)
