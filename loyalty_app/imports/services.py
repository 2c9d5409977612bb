"""Importing balances carried over from another loyalty program.

What a line means: the customer's balance in the old program. Per member the file is a
target, as an order's points are: the ledger gets one ``import`` entry for the
difference between the line's points and what earlier imports gave that member (the
sum of their ``import`` entries). Therefore

- the same file uploaded again writes nothing: every line comes out "unchanged";
- a corrected file writes only the corrections (up or down), never a balance twice;
- what the member earned or spent here is left alone: their balance is what was
  imported plus what happened here. A correction downwards can take a balance below
  zero when the points were already spent, as a refund can.

Who a line is about: a customer id finds or creates the member with that id, claiming
an email-only member with the line's email as ``member_upsert`` does; an email alone
finds the member with that email (a customer's row first) or creates an email-only
member, as ``member_join_by_email`` does, whom the first order with that email claims
with their points. A line with both uses the id, and records the email on a member
that has none (the platform's email, once known, wins). When the file has a tier
column, its value replaces ``Member.imported_tier``. Two lines of one file that turn
out to be the same member (an email that is a customer's whose id is also in the file)
keep the first; the later one is rejected.

How it is written: ``BATCH_SIZE`` lines per transaction, which

1. takes the shop's import lock (imports of one shop take turns, batch by batch) and
   locks the job row (two runs of one job never count a line twice),
2. creates the missing members (inserts sorted, conflicts ignored),
3. locks the batch's member rows in primary-key order, then reads what earlier imports
   gave them: an order award or adjustment locks its member row too (one member, after
   its order row; an import never locks an order row), so it runs wholly before or
   wholly after the batch, and no update is lost,
4. inserts the entries, each with its ``balance_after``, and updates the cached
   balances and tiers, so the cached balance equals the ledger sum at every commit,
5. moves the job's cursor and counters.

A crash rolls back the open batch only; running the job again resumes after the cursor.
Should a batch be applied twice anyway, the second pass finds the targets met and
writes nothing, and the idempotency keys (``import:<member>:r<n>``) are unique.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce, Lower

from loyalty_app.common.longruns import TRANSIENT_ERRORS, run_fail, shop_runs_lock, upload_save
from loyalty_app.common.time import now
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

from .fileformat import CUSTOMER_ID, EMAIL, FileError, Rejection, Row, file_read, file_rows
from .models import ImportJob

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was already used for another file (or another mode)."""

    def __init__(self, job: ImportJob) -> None:
        super().__init__(f"idempotency key already used for import {job.pk}")
        self.job = job


def import_job_create(
    *,
    shop: Shop,
    content: bytes,
    filename: str,
    created_by: str,
    dry_run: bool = False,
    idempotency_key: str = "",
    enqueue: bool = True,
) -> tuple[ImportJob, bool]:
    """Check a file as a whole and store it as a job; a worker reads its lines.

    Raises ``FileError`` (naming ``file`` or ``columns``) for a file that cannot be
    imported at all. With an ``idempotency_key`` already used for the same file, returns
    that job and False; for another file, raises ``IdempotencyKeyReused``. The job is
    enqueued after the commit (``enqueue=False``: the caller runs it).
    """
    parsed = file_read(content)
    job = ImportJob(
        shop=shop,
        filename=filename[:255],
        sha256=parsed.sha256,
        size_bytes=len(content),
        content=content,
        columns=parsed.columns.as_dict(),
        dry_run=dry_run,
        idempotency_key=idempotency_key,
        lines=parsed.data_lines,
        created_by=created_by[:200],
    )
    existing = upload_save(
        job, then=(lambda: transaction.on_commit(lambda: _enqueue(job.pk))) if enqueue else None
    )
    if existing is not None:
        if existing.sha256 != job.sha256 or existing.dry_run != dry_run:
            raise IdempotencyKeyReused(existing)
        return existing, False
    logger.info(
        "import %s received for %s: %s lines, %s bytes%s",
        job.pk,
        shop.domain,
        job.lines,
        job.size_bytes,
        " (dry run)" if dry_run else "",
        extra={"shop": shop.domain, "import": job.pk},
    )
    return job, True


def _enqueue(job_id: int) -> None:
    from .tasks import import_job_run as task

    try:
        task.delay(job_id)
    except Exception:  # The job is stored; `manage.py import_balances --job N` runs it.
        logger.warning("could not enqueue import %s", job_id, exc_info=True)


def import_job_run(*, job_id: int, batch_size: int = BATCH_SIZE) -> ImportJob:
    """Apply a stored job's file (or, for a dry run, count what it would do).

    Safe to call again at any time: a done job is left alone, a stopped or failed one
    resumes after its last committed line. A transient database error is recorded and
    raised (the task retries it); any other error marks the job failed. An uninstalled
    shop's job is left as it is: the sweep runs it once the shop is installed again.
    """
    if not ImportJob.objects.filter(pk=job_id, shop__state=Shop.State.INSTALLED).exists():
        return ImportJob.objects.defer("content").get(pk=job_id)
    if not _claim(job_id):
        return ImportJob.objects.defer("content").get(pk=job_id)
    job = ImportJob.objects.select_related("shop").get(pk=job_id)
    context = {"shop": job.shop.domain, "import": job.pk}
    try:
        parsed = file_read(bytes(job.content))
        rows = file_rows(parsed)
        seen: dict[int, int] = {}
        while batch := list(islice(rows, batch_size)):
            _batch_run(job=job, items=batch, seen=seen)
        ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PROCESSING).update(
            status=ImportJob.Status.DONE, finished_at=now(), error="", updated_at=now()
        )
    except TRANSIENT_ERRORS as exc:
        logger.warning(
            "import %s hit a transient error, will retry: %s", job.pk, exc, extra=context
        )
        _fail(job_id, exc)
        raise
    except FileError as exc:
        _fail(job_id, exc)
    except Exception as exc:
        # A bug or a broken invariant: keep the job (and its cursor) for an operator.
        logger.exception("import %s failed", job.pk, extra=context)
        _fail(job_id, exc)
    finished = ImportJob.objects.defer("content").get(pk=job_id)
    logger.info(
        "import %s %s: %s imported, %s unchanged, %s rejected of %s lines",
        finished.pk,
        finished.status,
        finished.imported,
        finished.unchanged,
        finished.rejected,
        finished.lines,
        extra=context,
    )
    return finished


def _claim(job_id: int) -> bool:
    moment = now()
    return bool(
        ImportJob.objects.filter(pk=job_id)
        .exclude(status=ImportJob.Status.DONE)
        .update(
            status=ImportJob.Status.PROCESSING,
            started_at=Coalesce(F("started_at"), moment),
            updated_at=moment,
        )
    )


def _fail(job_id: int, error: BaseException) -> None:
    run_fail(ImportJob, job_id, error)


# --- one batch ---------------------------------------------------------------------------


@dataclass
class _Members:
    """Who each valid line is: ``pk`` by line (None: a member a dry run would create)."""

    pk: dict[int, int | None] = field(default_factory=dict)
    created: set[int] = field(default_factory=set)
    claims: dict[int, str] = field(default_factory=dict)  # email-only pk -> customer id


@dataclass
class _Counts:
    imported: int = 0
    unchanged: int = 0
    members_created: int = 0
    points_total: int = 0
    points_written: int = 0


def _batch_run(*, job: ImportJob, items: list[Row | Rejection], seen: dict[int, int]) -> None:
    shop = job.shop
    with transaction.atomic():
        if not job.dry_run:
            _shop_imports_lock(shop)
        cursor, rejected_so_far = (
            ImportJob.objects.select_for_update()
            .values_list("cursor_line", "rejected")
            .get(pk=job.pk)
        )
        done = [r for r in items if isinstance(r, Row) and r.line <= cursor]
        if done:  # committed by an earlier run: only remember whom they were about
            for line, pk in _members_resolve(shop=shop, rows=done, create=False).pk.items():
                if pk is not None:
                    seen.setdefault(pk, line)
        todo = [r for r in items if r.line > cursor]
        if not todo:
            return
        rows = [r for r in todo if isinstance(r, Row)]
        rejections = [r for r in todo if isinstance(r, Rejection)]
        members = _members_resolve(shop=shop, rows=rows, create=not job.dry_run)
        accepted: list[tuple[Row, int | None]] = []
        for row in rows:
            pk = members.pk[row.line]
            if pk is not None and pk in seen:
                rejections.append(_same_member(row, seen[pk]))
                continue
            if pk is not None:
                seen[pk] = row.line
            accepted.append((row, pk))
        if job.dry_run:
            counts = _batch_preview(accepted=accepted, members=members)
        else:
            counts = _batch_apply(job=job, accepted=accepted, members=members)
        update: dict[str, Any] = {
            "cursor_line": todo[-1].line,
            "imported": F("imported") + counts.imported,
            "unchanged": F("unchanged") + counts.unchanged,
            "rejected": F("rejected") + len(rejections),
            "members_created": F("members_created") + counts.members_created,
            "points_total": F("points_total") + counts.points_total,
            "points_written": F("points_written") + counts.points_written,
            "updated_at": now(),
        }
        if rejections and rejected_so_far < ImportJob.MAX_REJECTED_KEPT:
            kept = ImportJob.objects.values_list("rejected_lines", flat=True).get(pk=job.pk)
            rejections.sort(key=lambda r: r.line)
            update["rejected_lines"] = (kept + [r.as_dict() for r in rejections])[
                : ImportJob.MAX_REJECTED_KEPT
            ]
        ImportJob.objects.filter(pk=job.pk).update(**update)


def _shop_imports_lock(shop: Shop) -> None:
    """One import batch at a time per shop, until the transaction ends.

    Two uploads of one file at once (a double click, a retry without an Idempotency-Key)
    then take turns batch by batch: the second finds the first's members and entries,
    so each member is created and imported once, and each job's counts say truly which
    of them did it. Order awards do not take this lock. SQLite has one writer anyway.
    """
    shop_runs_lock(name="loyalty_app.imports", shop_id=shop.pk)


def _same_member(row: Row, first_line: int) -> Rejection:
    column = CUSTOMER_ID if row.customer_id else EMAIL
    who = row.customer_id or row.email
    return Rejection(
        line=row.line,
        column=column,
        reason=f"{column}: {who} is the same customer as line {first_line}",
        raw=row.raw,
    )


def _batch_apply(
    *, job: ImportJob, accepted: list[tuple[Row, int | None]], members: _Members
) -> _Counts:
    """Write a batch's entries under its members' row locks (caller's transaction)."""
    counts = _Counts()
    if not accepted:
        return counts
    pks = sorted({pk for _, pk in accepted if pk is not None})
    # Lock order: the shop's import lock, the job row, then members by ascending pk
    # (PostgreSQL locks the rows in the ORDER BY's order). An order award locks its order
    # row, then its member's: it waits for this batch or this batch waits for it, never
    # both. (An order moved to another customer locks two members; should that ever
    # close a cycle with a batch, PostgreSQL aborts one side and the task retries.)
    locked = {
        row[0]: _Locked(*row)
        for row in Member.objects.select_for_update()
        .filter(pk__in=pks)
        .order_by("pk")
        .values_list(*_Locked.FIELDS)
    }
    moved = _claims_apply(shop=job.shop, members=members, locked=locked)
    claimed = set(members.claims) - set(moved)
    # Every member exists by now (a dry run is the only caller with unknown ones).
    resolved = [(row, moved.get(pk, pk)) for row, pk in accepted if pk is not None]
    imported = _imported_so_far(pks=[pk for _, pk in resolved])
    moment = now()
    actor = f"import:{job.pk} {job.created_by}".strip()[:200]
    entries: list[LedgerEntry] = []
    dirty: list[_Locked] = []
    for row, pk in resolved:
        member = locked[pk]
        total, revisions = imported.get(pk, (0, 0))
        delta = row.points - total
        touched = pk in members.created or pk in claimed
        dirty_member = False
        if delta:
            member.points_balance += delta
            entries.append(
                LedgerEntry(
                    shop_id=job.shop_id,
                    member_id=pk,
                    kind=LedgerEntry.Kind.IMPORT,
                    points=delta,
                    balance_after=member.points_balance,
                    idempotency_key=f"import:{pk}:r{revisions + 1}",
                    source_type="import",
                    source_id=str(job.pk),
                    reason=_reason(job=job, row=row, before=total),
                    actor=actor,
                    created_at=moment,
                )
            )
            counts.points_written += delta
            dirty_member = True
        if row.tier is not None and row.tier != member.imported_tier:
            member.imported_tier = row.tier
            dirty_member = True
        if row.customer_id and row.email and not member.email:
            member.email = row.email
            dirty_member = True
        if dirty_member:
            dirty.append(member)
        counts.points_total += row.points
        if touched or dirty_member:
            counts.imported += 1
        else:
            counts.unchanged += 1
    counts.members_created = len(members.created)
    # No conflict is ignored: under the locks a key can only exist if this very state
    # was already written, and then the batch must fail rather than move a balance
    # without its entry.
    LedgerEntry.objects.bulk_create(entries, batch_size=500)
    _members_update(dirty, moment=moment)
    return counts


@dataclass(slots=True)
class _Locked:
    """A member row as locked by a batch: what the batch reads and writes back."""

    FIELDS = ("pk", "external_id", "email", "points_balance", "imported_tier")

    pk: int
    external_id: str | None
    email: str
    points_balance: int
    imported_tier: str


def _members_update(members: list[_Locked], *, moment: datetime) -> None:
    """Write the locked members' balance, tier and email: one UPDATE ... FROM (VALUES ...)
    per 500 members, where ``bulk_update`` builds a CASE per row and field and costs
    most of an import's time. PostgreSQL and SQLite both name VALUES' columns column1..n.
    """
    if not members:
        return
    quote = connection.ops.quote_name
    table = quote(Member._meta.db_table)
    column = {name: quote(Member._meta.get_field(name).column) for name in _MEMBER_FIELDS}
    when = Member._meta.get_field("updated_at").get_db_prep_value(moment, connection)
    for start in range(0, len(members), 500):
        chunk = members[start : start + 500]
        rows = ", ".join(
            ["(CAST(%s AS bigint), CAST(%s AS bigint), CAST(%s AS text), CAST(%s AS text))"]
            * len(chunk)
        )
        params: list[object] = []
        for member in chunk:
            params += [member.pk, member.points_balance, member.imported_tier, member.email]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {column['points_balance']} = v.column2, "  # noqa: S608 - fixed names
                f"{column['imported_tier']} = v.column3, {column['email']} = v.column4, "
                f"{column['updated_at']} = %s FROM (VALUES {rows}) AS v "
                f"WHERE {table}.{quote('id')} = v.column1",
                [when, *params],
            )


_MEMBER_FIELDS = ("points_balance", "imported_tier", "email", "updated_at")


def _claims_apply(*, shop: Shop, members: _Members, locked: dict[int, _Locked]) -> dict[int, int]:
    """Give locked email-only members their line's customer id. Returns the members
    that could not be claimed (email-only pk -> the customer's own row's pk)."""
    moved: dict[int, int] = {}
    for pk, customer_id in sorted(members.claims.items()):
        try:
            with transaction.atomic():
                Member.objects.filter(pk=pk).update(external_id=customer_id)
            locked[pk].external_id = customer_id
        except IntegrityError:
            # The customer got a row of their own since the batch looked (an order
            # webhook): use that one. One lock out of pk order, on a rare path; a
            # deadlock it might cause is retried by the task.
            own = _Locked(
                *Member.objects.select_for_update()
                .filter(shop=shop, external_id=customer_id)
                .values_list(*_Locked.FIELDS)
                .get()
            )
            locked[own.pk] = own
            moved[pk] = own.pk
    return moved


def _batch_preview(*, accepted: list[tuple[Row, int | None]], members: _Members) -> _Counts:
    """What ``_batch_apply`` would do, reading only (a dry run)."""
    counts = _Counts()
    pks = [pk for _, pk in accepted if pk is not None]
    current = {
        pk: (tier, email)
        for pk, tier, email in Member.objects.filter(pk__in=pks).values_list(
            "pk", "imported_tier", "email"
        )
    }
    imported = _imported_so_far(pks=pks)
    for row, pk in accepted:
        counts.points_total += row.points
        if pk is None:
            counts.members_created += 1
            counts.imported += 1
            counts.points_written += row.points
            continue
        tier, email = current[pk]
        delta = row.points - imported.get(pk, (0, 0))[0]
        counts.points_written += delta
        changed = (
            delta != 0
            or pk in members.claims
            or (row.tier is not None and row.tier != tier)
            or bool(row.customer_id and row.email and not email)
        )
        if changed:
            counts.imported += 1
        else:
            counts.unchanged += 1
    return counts


def _imported_so_far(*, pks: list[int]) -> dict[int, tuple[int, int]]:
    """Per member: the points earlier imports gave them, and how many entries that took."""
    if not pks:
        return {}
    # No shop filter: the pks are the shop's already, and without it the plan is the
    # member index whatever the shop's statistics say (stale during a big first import).
    rows = (
        LedgerEntry.objects.filter(member_id__in=pks, kind=LedgerEntry.Kind.IMPORT)
        .values_list("member_id")
        .annotate(total=Sum("points"), entries=Count("id"))
        .order_by()
    )
    return {member_id: (int(total), entries) for member_id, total, entries in rows}


def _reason(*, job: ImportJob, row: Row, before: int) -> str:
    where = f"import {job.pk}, line {row.line}"
    if before == 0:
        return f"Balance carried over from the previous loyalty program ({where})"
    return f"Carried-over balance corrected from {before} to {row.points} ({where})"


# --- who each line is about -----------------------------------------------------------------


def _members_resolve(*, shop: Shop, rows: list[Row], create: bool) -> _Members:
    """Find (and with ``create``, create) the member of every row.

    A claim of an email-only member by a customer id is only noted here; it is applied
    once that member's row is locked.
    """
    result = _Members()
    if not rows:
        return result
    ids = {row.customer_id for row in rows if row.customer_id}
    by_id = _members_by_id(shop=shop, ids=ids)
    emails = {row.email.lower() for row in rows if row.email and row.customer_id not in by_id}
    by_email, email_only = _members_by_email(shop=shop, emails=emails)
    new_customers: dict[str, str] = {}
    new_emails: dict[str, str] = {}
    for row in rows:
        if row.customer_id:
            pk = by_id.get(row.customer_id)
            if pk is None and row.email and row.email.lower() in email_only:
                pk = email_only.pop(row.email.lower())
                result.claims[pk] = row.customer_id
            if pk is None:
                new_customers[row.customer_id] = row.email
        else:
            pk = by_email.get(row.email.lower())
            if pk is None:
                new_emails[row.email.lower()] = row.email
        result.pk[row.line] = pk
    if not create or not (new_customers or new_emails):
        return result

    # Sorted, so two imports creating the same members wait for each other in one order.
    if new_customers:
        Member.objects.bulk_create(
            [
                Member(shop=shop, external_id=customer_id, email=email)
                for customer_id, email in sorted(new_customers.items())
            ],
            ignore_conflicts=True,
        )
        by_id.update(_members_by_id(shop=shop, ids=set(new_customers)))
    if new_emails:
        Member.objects.bulk_create(
            [
                Member(shop=shop, external_id=None, email=email)
                for _, email in sorted(new_emails.items())
            ],
            ignore_conflicts=True,
        )
        found, _ = _members_by_email(shop=shop, emails=set(new_emails))
        by_email.update(found)
    for row in rows:
        if result.pk[row.line] is not None:
            continue
        pk = by_id.get(row.customer_id) if row.customer_id else by_email.get(row.email.lower())
        if pk is None:  # only if the row was deleted meanwhile; the task retries
            raise OperationalError(f"the member of line {row.line} vanished; try again")
        result.pk[row.line] = pk
        result.created.add(pk)
    return result


def _members_by_id(*, shop: Shop, ids: set[str]) -> dict[str, int]:
    if not ids:
        return {}
    return dict(
        Member.objects.filter(shop=shop, external_id__in=ids).values_list("external_id", "pk")
    )


def _members_by_email(*, shop: Shop, emails: set[str]) -> tuple[dict[str, int], dict[str, int]]:
    """By lower-cased email: the member ``member_join_by_email`` would pick (a customer's
    row before an email-only one, then the lowest id), and the email-only members."""
    if not emails:
        return {}, {}
    rows = (
        Member.objects.filter(shop=shop)
        .annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails)
        .values_list("email_lower", "pk", "external_id")
    )
    best: dict[str, tuple[bool, str, int]] = {}
    email_only: dict[str, int] = {}
    for email, pk, external_id in rows:
        rank = (external_id is None, external_id or "", pk)
        if email not in best or rank < best[email]:
            best[email] = rank
        if external_id is None:
            email_only[email] = pk
    return {email: rank[2] for email, rank in best.items()}, email_only
