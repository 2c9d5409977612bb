"""Imports racing order awards, other imports and themselves, on real PostgreSQL with one
connection per thread: no update is lost, nothing is written twice, the counts are true."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.imports.models import ImportJob
from loyalty_app.imports.services import import_job_create, import_job_run
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_upsert
from loyalty_app.shops.services import shop_create
from shopify_bridge.devstore.payloads import LineSpec, order_payload
from shopify_bridge.handlers import webhook_handle

from .conftest import assert_ledger_matches_balances, csv_of, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def new_job(shop: Any, content: bytes) -> ImportJob:
    job, _ = import_job_create(
        shop=shop, content=content, filename="race.csv", created_by="test", enqueue=False
    )
    return job


def test_an_import_while_orders_award_the_same_members_loses_no_points():
    # given 30 customers, a third of them members already with 5 points, and a file
    # giving each 100 imported points
    shop = shop_create(domain="import-race-a.myshopify.com").shop
    customers = list(range(5001, 5031))
    for customer in customers[::3]:
        member = member_upsert(shop=shop, customer=CustomerRef(external_id=str(customer)))
        ledger_entry_add(member=member, kind="order", points=5, idempotency_key=f"seed:{customer}")
    job = new_job(shop, csv_of(*[f"{c},,100," for c in customers]))
    workers, rounds = 6, 3

    def work(i: int) -> None:
        if i == workers:  # the import, in batches of 2: fifteen transactions
            import_job_run(job_id=job.pk, batch_size=2)
            return
        # Each worker walks the customers in the import's order, so awards and batches
        # meet on the same rows; each customer gets one 10-point order per worker a round.
        for round_ in range(rounds):
            for customer in customers:
                payload = order_payload(
                    order_id=(customer * 100 + i) * 10 + round_,
                    customer_id=customer,
                    lines=[LineSpec(price=Decimal("10.00"))],
                )
                webhook_handle(shop=shop, topic="orders/create", payload=payload, actor="w")

    # when the import and the orders run at the same moment
    _, errors = run_concurrently(work, n=workers + 1)

    # then every customer is one member with all of it: imported + ordered (+ seeded)
    assert errors == []
    job.refresh_from_db()
    assert (job.status, job.imported, job.rejected) == ("done", 30, 0)
    assert Member.objects.filter(shop=shop).count() == 30
    for k, customer in enumerate(customers):
        member = Member.objects.get(shop=shop, external_id=str(customer))
        seeded = 5 if k % 3 == 0 else 0
        assert member.points_balance == 100 + 10 * workers * rounds + seeded, customer
    assert_ledger_matches_balances(shop)


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def test_an_import_batch_waits_for_an_award_holding_the_member_and_builds_on_it():
    # given an order award that holds Ada's row lock, not yet committed
    shop = shop_create(domain="import-race-b.myshopify.com").shop
    ada = member_upsert(shop=shop, customer=CustomerRef(external_id="101"))
    job = new_job(shop, csv_of("101,,100,"))
    award_in, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def award() -> None:
        try:
            with transaction.atomic():
                ledger_entry_add(
                    member=Member.objects.get(pk=ada.pk),
                    kind="order",
                    points=7,
                    idempotency_key="order:1:r1",
                )
                award_in.set()
                assert release.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def importer() -> None:
        try:
            assert award_in.wait(timeout=30)
            import_job_run(job_id=job.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=award), threading.Thread(target=importer)]
    for thread in threads:
        thread.start()

    # when the import reaches Ada's row it waits for the award's commit
    deadline = time.monotonic() + 20
    while _waiting_on_a_lock() == 0:
        assert time.monotonic() < deadline, "the import never waited for the row lock"
        time.sleep(0.02)
    job.refresh_from_db()
    assert job.cursor_line == 0  # nothing committed while it waits
    release.set()
    for thread in threads:
        thread.join(timeout=30)

    # then the import's entry starts from the award's balance: 7 + 100, nothing lost
    assert errors == []
    entries = list(
        LedgerEntry.objects.filter(member=ada).order_by("id").values_list("kind", "balance_after")
    )
    assert entries == [("order", 7), ("import", 107)]
    ada.refresh_from_db()
    assert ada.points_balance == 107
    assert_ledger_matches_balances(shop)


def test_the_same_file_uploaded_three_times_at_once_is_imported_once():
    # given three jobs for one file (a double click, a retry), 30 new customers
    shop = shop_create(domain="import-race-c.myshopify.com").shop
    content = csv_of(
        *[f"{700 + n},,{n + 1}," for n in range(20)],
        *[f",user{n}@example.com,{n + 1}," for n in range(10)],
    )
    jobs = [new_job(shop, content) for _ in range(3)]

    # when they run at the same moment
    _, errors = run_concurrently(lambda i: import_job_run(job_id=jobs[i].pk, batch_size=5), n=3)

    # then each member is created and given their points once, and the jobs' counts
    # together say exactly that
    assert errors == []
    finished = [ImportJob.objects.get(pk=job.pk) for job in jobs]
    assert all(job.status == "done" for job in finished)
    assert sum(job.imported for job in finished) == 30
    assert sum(job.members_created for job in finished) == 30
    assert all(job.imported + job.unchanged == 30 for job in finished)
    assert Member.objects.filter(shop=shop).count() == 30
    assert LedgerEntry.objects.filter(shop=shop).count() == 30
    assert sum(job.points_written for job in finished) == sum(range(1, 21)) + sum(range(1, 11))
    assert_ledger_matches_balances(shop)


def test_one_job_run_by_two_workers_at_once_counts_every_line_once():
    # given one job whose message was delivered twice
    shop = shop_create(domain="import-race-d.myshopify.com").shop
    job = new_job(shop, csv_of(*[f"{900 + n},,{n + 1}," for n in range(25)], "1,,bad,"))

    _, errors = run_concurrently(lambda i: import_job_run(job_id=job.pk, batch_size=3), n=2)

    assert errors == []
    job.refresh_from_db()
    assert (job.status, job.imported, job.unchanged, job.rejected) == ("done", 25, 0, 1)
    assert job.points_written == sum(range(1, 26))
    assert LedgerEntry.objects.filter(shop=shop).count() == 25
    assert_ledger_matches_balances(shop)
