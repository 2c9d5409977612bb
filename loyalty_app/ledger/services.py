"""The only writer of the points ledger and of members' cached balances."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

from django.db import connection, transaction

from loyalty_app.common.time import now
from loyalty_app.members.models import Member

from .models import LedgerEntry


class InsufficientPoints(Exception):
    def __init__(self, balance: int, requested: int) -> None:
        super().__init__(f"balance {balance} does not cover {requested} points")
        self.balance = balance
        self.requested = requested


class IdempotencyConflict(Exception):
    """The idempotency key was already used for a different request."""

    def __init__(self, entry: LedgerEntry) -> None:
        super().__init__(f"idempotency key already used for entry {entry.pk}")
        self.entry = entry


@dataclass(frozen=True)
class LedgerWrite:
    entry: LedgerEntry
    created: bool


def ledger_entry_add(
    *,
    member: Member,
    kind: str,
    points: int,
    idempotency_key: str,
    source_type: str = "",
    source_id: str = "",
    reason: str = "",
    actor: str = "",
    allow_negative_balance: bool = True,
) -> LedgerWrite:
    """Append one entry and move the member's cached balance with it.

    Runs in the caller's transaction (or its own). The member row is locked first,
    so concurrent writers for one member are serialised and the balance never
    drifts from the ledger sum. A second call with the same idempotency key writes
    nothing and returns the first entry (``created=False``); the caller decides
    whether that entry matches what it asked for.

    Lock order, everywhere: order row (if any) before member row.
    """
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        raise ValueError("points must be a non-zero integer")
    # Inside the caller's transaction no savepoint is needed (a statement per call on
    # the award path), and no inner atomic block either: one that exits with
    # InsufficientPoints would spoil a caller that catches it and carries on.
    with nullcontext() if connection.in_atomic_block else transaction.atomic():
        locked = (
            Member.objects.select_for_update()
            .only("id", "shop_id", "points_balance")
            .get(pk=member.pk)
        )
        new_balance = locked.points_balance + points
        if not allow_negative_balance and points < 0 and new_balance < 0:
            existing = _entry_by_key(locked.shop_id, idempotency_key)
            if existing is not None:  # a replay of a deduction that already went through
                return LedgerWrite(entry=existing, created=False)
            raise InsufficientPoints(balance=locked.points_balance, requested=-points)
        entry = LedgerEntry(
            shop_id=locked.shop_id,
            member_id=locked.pk,
            kind=kind,
            points=points,
            balance_after=new_balance,
            idempotency_key=idempotency_key,
            source_type=source_type,
            source_id=source_id,
            reason=reason[:500],
            actor=actor[:200],
            created_at=now(),
        )
        if not _insert_unless_key_exists(entry):
            existing = _entry_by_key(locked.shop_id, idempotency_key)
            assert existing is not None  # noqa: S101 - the conflict says it exists
            return LedgerWrite(entry=existing, created=False)
        Member.objects.filter(pk=locked.pk).update(points_balance=new_balance)
        member.points_balance = new_balance
        return LedgerWrite(entry=entry, created=True)


_COLUMNS = (
    "shop_id",
    "member_id",
    "kind",
    "points",
    "balance_after",
    "idempotency_key",
    "source_type",
    "source_id",
    "reason",
    "actor",
    "created_at",
)


def _insert_unless_key_exists(entry: LedgerEntry) -> bool:
    """INSERT ... ON CONFLICT (shop, idempotency key) DO NOTHING: one statement where a
    check, a savepoint and an insert would be four. Returns False when the key exists.

    PostgreSQL and SQLite (3.35+) both speak this dialect.
    """
    table = connection.ops.quote_name(LedgerEntry._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    placeholders = ", ".join(["%s"] * len(_COLUMNS))
    created_at = LedgerEntry._meta.get_field("created_at").get_db_prep_value(
        entry.created_at, connection
    )
    values = [getattr(entry, c) for c in _COLUMNS[:-1]] + [created_at]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "  # noqa: S608 - fixed names
            "ON CONFLICT (shop_id, idempotency_key) DO NOTHING RETURNING id",
            values,
        )
        row = cursor.fetchone()
    if row is None:
        return False
    entry.pk = row[0]
    entry._state.adding = False
    entry._state.db = connection.alias
    return True


def _entry_by_key(shop_id: int, key: str) -> LedgerEntry | None:
    return LedgerEntry.objects.filter(shop_id=shop_id, idempotency_key=key).first()


def points_adjust(
    *, member: Member, points: int, reason: str, idempotency_key: str, actor: str
) -> LedgerWrite:
    """A merchant's manual adjustment. It may not take a balance below zero.

    Replaying the same key with the same points returns the first entry; the same
    key with different points is a conflict.
    """
    if not reason.strip():
        raise ValueError("a reason is required")
    write = ledger_entry_add(
        member=member,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        points=points,
        idempotency_key=f"adjustment:{idempotency_key}",
        source_type="adjustment",
        reason=reason.strip(),
        actor=actor,
        allow_negative_balance=False,
    )
    if not write.created and (write.entry.points != points or write.entry.member_id != member.pk):
        raise IdempotencyConflict(write.entry)
    return write
