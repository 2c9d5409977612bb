"""Points expiry and its reminders, written to the ledger by a periodic job.

The rule itself is pure (``policies.points_expiring`` / ``next_expiry``); this module
feeds it a member's ledger and writes what it says. Expiry is an entry of its own
(kind ``expiry``), never an edit of history. Each member is settled under their row
lock, and asking again right after gives 0, so running the job twice, or two jobs at
once, expires nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef

from loyalty_app.common.time import now
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_event_add
from loyalty_app.shops.models import Shop

from .policies import (
    ExpiryPolicy,
    PointsMove,
    add_months,
    next_expiry,
    points_expiring,
)
from .selectors import program_config, program_current

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
EXPIRED_EVENT = "points_expired"
EXPIRING_EVENT = "points_expiring"


@dataclass(frozen=True)
class ExpiryResult:
    members_checked: int = 0
    members_expired: int = 0
    points_expired: int = 0
    reminders: int = 0


def member_moves(*, member: Member) -> list[PointsMove]:
    rows = LedgerEntry.objects.filter(shop_id=member.shop_id, member=member).values_list(
        "points", "created_at", "kind", "source_type", "source_id"
    )
    return [
        PointsMove(
            points=points,
            at=created_at,
            kind=kind,
            source=f"{source_type}:{source_id}" if source_type == "order" else "",
        )
        for points, created_at, kind, source_type, source_id in rows
    ]


@transaction.atomic
def member_points_expire(*, member: Member, policy: ExpiryPolicy, at: datetime) -> tuple[int, bool]:
    """Expire what ``policy`` says has expired for ``member`` by ``at`` and record the
    reminder for what expires next. Returns (points expired, reminder recorded)."""
    locked = Member.objects.select_for_update().get(pk=member.pk)
    moves = member_moves(member=locked)
    points, expired_at = points_expiring(moves, policy, at=at, balance=locked.points_balance)
    if points > 0 and expired_at is not None:
        last_id = (
            LedgerEntry.objects.filter(shop_id=locked.shop_id, member=locked)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
        )
        # The key is the ledger's state: the same state can only be expired once.
        key = f"expiry:{locked.pk}:{last_id}"
        ledger_entry_add(
            member=locked,
            kind=LedgerEntry.Kind.EXPIRY,
            points=-points,
            idempotency_key=key,
            source_type="expiry",
            source_id=str(locked.pk),
            reason=_expired_reason(policy),
            actor="expiry",
        )
        member_event_add(
            member=locked,
            kind=EXPIRED_EVENT,
            key=f"{EXPIRED_EVENT}:{key}",
            data={"points": points, "expired_at": expired_at.isoformat()},
        )
        moves = member_moves(member=locked)
    reminded = False
    if policy.reminder_days:
        upcoming = next_expiry(moves, policy, at=at, balance=locked.points_balance)
        if upcoming is not None and upcoming[1] <= at + timedelta(days=policy.reminder_days):
            points_soon, expires_at = upcoming
            reminded = member_event_add(
                member=locked,
                kind=EXPIRING_EVENT,
                key=f"{EXPIRING_EVENT}:{locked.pk}:{expires_at.date().isoformat()}",
                data={
                    "points": points_soon,
                    "expires_at": expires_at.isoformat(),
                    "balance": locked.points_balance,
                },
            )
    return points, reminded


def _expired_reason(policy: ExpiryPolicy) -> str:
    if policy.mode == "per_earning":
        return f"Points earned more than {policy.months} months ago expired"
    return f"Points expired after {policy.months} months without activity"


def shop_points_expire(*, shop: Shop, at: datetime | None = None) -> ExpiryResult:
    """Run expiry and reminders for one shop under its current program.

    Only members with a positive balance and an entry old enough to matter are looked
    at (an entry older than ``at`` - months + reminder days), in pk order.
    """
    at = at or now()
    policy = program_config(program_current(shop=shop)).expiry
    if not policy.enabled:
        return ExpiryResult()
    horizon = add_months(at + timedelta(days=policy.reminder_days), -policy.months)
    old_entry = LedgerEntry.objects.filter(
        shop_id=shop.pk, member=OuterRef("pk"), created_at__lte=horizon
    )
    candidates = (
        Member.objects.filter(shop=shop, points_balance__gt=0)
        .filter(Exists(old_entry))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    checked = expired_members = expired_points = reminders = 0
    last_pk = 0
    while batch := list(candidates.filter(pk__gt=last_pk)[:BATCH_SIZE]):
        for member_pk in batch:
            member = Member(pk=member_pk, shop_id=shop.pk)
            points, reminded = member_points_expire(member=member, policy=policy, at=at)
            checked += 1
            expired_members += int(points > 0)
            expired_points += points
            reminders += int(reminded)
        last_pk = batch[-1]
    if expired_points or reminders:
        logger.info(
            "points expired",
            extra={
                "shop": shop.domain,
                "members": expired_members,
                "points": expired_points,
                "reminders": reminders,
            },
        )
    return ExpiryResult(checked, expired_members, expired_points, reminders)
