"""The only writer of the points ledger and of members' cached balances."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

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
    with transaction.atomic():
        locked = (
            Member.objects.select_for_update()
            .only("id", "shop_id", "points_balance")
            .get(pk=member.pk)
        )
        existing = LedgerEntry.objects.filter(
            shop_id=locked.shop_id, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return LedgerWrite(entry=existing, created=False)
        new_balance = locked.points_balance + points
        if not allow_negative_balance and points < 0 and new_balance < 0:
            raise InsufficientPoints(balance=locked.points_balance, requested=-points)
        try:
            # The savepoint keeps the caller's transaction usable if a writer that did
            # not hold this member's lock (another shop's key space cannot collide)
            # raced us to the key.
            with transaction.atomic():
                entry = LedgerEntry.objects.create(
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
                )
        except IntegrityError:
            existing = LedgerEntry.objects.get(
                shop_id=locked.shop_id, idempotency_key=idempotency_key
            )
            return LedgerWrite(entry=existing, created=False)
        Member.objects.filter(pk=locked.pk).update(points_balance=new_balance)
        member.points_balance = new_balance
        return LedgerWrite(entry=entry, created=True)


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
