from __future__ import annotations

import pytest
from django.db.models import Sum

from loyalty_app.imports.models import ImportJob
from loyalty_app.imports.services import import_job_create, import_job_run
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from tests.concurrency import run_concurrently  # noqa: F401 - used by the import tests

HEADER = "customer_id,email,points,tier"


def csv_of(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def run_import(
    shop: Shop, content: bytes, *, dry_run: bool = False, batch_size: int = 1000
) -> ImportJob:
    """Store a file as a job and run it here, as the command does."""
    job, _ = import_job_create(
        shop=shop,
        content=content,
        filename="balances.csv",
        created_by="test",
        dry_run=dry_run,
        enqueue=False,
    )
    return import_job_run(job_id=job.pk, batch_size=batch_size)


def balance_of(shop: Shop, customer_id: str) -> int:
    return Member.objects.get(shop=shop, external_id=customer_id).points_balance


def assert_ledger_matches_balances(shop: Shop) -> None:
    """Every member's cached balance is their ledger sum, and every entry's balance_after
    is the running sum of that member's entries."""
    for member in Member.objects.filter(shop=shop):
        points = list(
            LedgerEntry.objects.filter(member=member)
            .order_by("id")
            .values_list("points", "balance_after")
        )
        running = 0
        for delta, after in points:
            running += delta
            assert after == running, (member.pk, points)
        total = LedgerEntry.objects.filter(member=member).aggregate(s=Sum("points"))["s"] or 0
        assert member.points_balance == total == running


@pytest.fixture
def the_shop(shop) -> Shop:
    return shop.shop
