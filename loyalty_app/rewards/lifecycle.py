"""What becomes of a redemption after it is made: its code used in an order, its code
expired unused, an experience fulfilled or declined, a reward granted without points.

Lock order is ``rewards.redemption``'s, everywhere: member row, then reward row, then
redemption row (``ledger_entry_add`` locks the member itself; taking it first here means
it never waits behind a redemption lock another writer holds).

Use of a code
=============
An order whose discount codes include a redemption's code (the shop's checkout compares
codes without regard to case, and so does ``redemptions_mark_used``) marks it ``used``
with the order's id and the time the order was placed. Only codes of the order's own
shop are looked at. Marking is idempotent: the same order again changes nothing, and a
code already used by another order keeps its first order (the platform makes the app's
codes single-use). A refunded or cancelled order does not make its code usable again,
so the redemption stays used: the platform does not give a code back on a refund
either. A code the expiry job had already expired (an order placed moments before the
end, delivered late) is marked used too; points it gave back stay given back.

Expiry
======
``redemptions_expire_due`` (hourly) marks ``issued`` codes whose end passed more than
``EXPIRY_GRACE`` ago ``expired``, and gives their points back when the reward says
``return_points_if_unused`` (a ``redemption_return`` entry "Code LOYAL-... expired
unused", once per redemption). The grace leaves time for the webhook of an order placed
just before the end. Uninstalled shops are skipped (their codes wait for a re-install).

Experiences
===========
An experience redemption is a request: ``requested`` until the merchant fulfils it
(``redemption_fulfil``: it is then billed, see ``rewards.billing``) or declines it
(``redemption_decline``: its points come back with the merchant's reason).

Grants
======
``reward_grant`` gives a member a reward of the catalog for nothing (a full punch card):
a redemption of 0 points, delivered as a bought one is (``redemption_deliver`` of the
platform), idempotent on its key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Lower

from loyalty_app.common.time import now
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

from . import billing
from .models import Redemption, Reward
from .policies import CODE_KINDS
from .redemption import (
    IMMEDIATE_KINDS,
    MONEY_KINDS,
    platform_port,
    redemption_code_new,
)

logger = logging.getLogger(__name__)

Status = Redemption.Status

# An order placed a moment before its code's end may be delivered (and retried) later:
# the code is expired only once this has passed, so its use is seen first.
EXPIRY_GRACE = timedelta(hours=1)
# A use is recorded against these: an issued code, or one expired a moment before an
# order that was placed in time was delivered.
USABLE = (Status.ISSUED, Status.EXPIRED)
MAX_CODES_PER_ORDER = 50
MAX_REASON = 500
CODE_TRIES = 5
FULFILMENT_STATUSES = ("requested", "fulfilled", "declined")


class RequestNotOpen(Exception):
    """The experience request was already fulfilled or declined (or is not a request)."""


# --- use of a code ------------------------------------------------------------------------


def redemptions_mark_used(
    *,
    shop: Shop,
    order_id: str,
    codes: Iterable[str],
    used_at: datetime | None = None,
    actor: str = "",
) -> list[int]:
    """Mark the shop's redemptions whose code the order carries as used by it.

    Returns the ids of the redemptions marked by this call (empty when there was nothing
    to mark, or it was marked before). Runs in the caller's transaction (the order
    webhook's) or its own.
    """
    wanted = {code.strip().casefold() for code in list(codes)[:MAX_CODES_PER_ORDER] if code}
    wanted.discard("")
    if not wanted or not order_id:
        return []
    # The shop's codes are unique without regard to case (an index on lower(code)).
    found = list(
        Redemption.objects.annotate(code_lower=Lower("code"))
        .filter(shop=shop, code_lower__in=wanted, status__in=USABLE)
        .values_list("pk", "member_id")
    )
    marked: list[int] = []
    with transaction.atomic():
        for redemption_id, member_id in sorted(found):
            # Member first: the module's lock order (an expiry may hold the redemption).
            Member.objects.select_for_update().filter(pk=member_id).values_list("pk").first()
            redemption = (
                Redemption.objects.select_for_update()
                .filter(pk=redemption_id, status__in=USABLE)
                .first()
            )
            if redemption is None:
                continue
            redemption.status = Status.USED
            redemption.used_order_id = order_id[:64]
            redemption.used_at = used_at or now()
            redemption.save(update_fields=["status", "used_order_id", "used_at", "updated_at"])
            marked.append(redemption.pk)
            logger.info(
                "redemption %s used by order %s",
                redemption.pk,
                order_id,
                extra={"shop": shop.domain, "redemption": redemption.pk, "actor": actor},
            )
    return marked


# --- expiry -------------------------------------------------------------------------------


def expired_reason(code: str) -> str:
    return f"Code {code} expired unused"


def redemption_expire(*, redemption_id: int, actor: str = "code-expiry") -> Redemption | None:
    """Expire one issued code past its end (and its grace), giving the points back if
    the reward says so. Idempotent: anything else (used meanwhile, already expired, not
    yet due) is left as it is. None when the redemption does not exist."""
    with transaction.atomic():
        ids = (
            Redemption.objects.filter(pk=redemption_id)
            .values_list("member_id", "reward_id")
            .first()
        )
        if ids is None:
            return None
        member = Member.objects.select_for_update().get(pk=ids[0])
        reward = Reward.objects.only("pk", "return_points_if_unused").get(pk=ids[1])
        redemption = Redemption.objects.select_for_update().get(pk=redemption_id)
        if (
            redemption.status != Status.ISSUED
            or redemption.expires_at is None
            or redemption.expires_at > now() - EXPIRY_GRACE
        ):
            return redemption
        redemption.status = Status.EXPIRED
        changed = ["status", "updated_at"]
        back = redemption.points - redemption.points_returned
        if reward.return_points_if_unused and back > 0:
            ledger_entry_add(
                member=member,
                kind=LedgerEntry.Kind.REDEMPTION_RETURN,
                points=back,
                idempotency_key=f"redemption:{redemption.pk}:expired",
                source_type="redemption",
                source_id=str(redemption.pk),
                reason=expired_reason(redemption.code or redemption.title),
                actor=actor,
            )
            redemption.points_returned = redemption.points
            changed.append("points_returned")
        redemption.save(update_fields=changed)
        return redemption


def redemptions_expire_due(*, batch_size: int = 500) -> int:
    """Expire every issued code of an installed shop past its end and grace; returns how
    many. Each redemption in its own short transaction, read in batches, so the job
    never holds many locks and a crash midway loses nothing (the rest are due next run).
    """
    expired = 0
    after = 0
    while True:
        due = list(
            Redemption.objects.filter(
                status=Status.ISSUED,
                expires_at__lte=now() - EXPIRY_GRACE,
                shop__state=Shop.State.INSTALLED,
                pk__gt=after,
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not due:
            return expired
        for redemption_id in due:
            redemption = redemption_expire(redemption_id=redemption_id)
            expired += int(redemption is not None and redemption.status == Status.EXPIRED)
        after = due[-1]
        if len(due) < batch_size:
            return expired


# --- experiences --------------------------------------------------------------------------


def fulfilment_status(redemption: Redemption) -> str:
    """``requested``, ``fulfilled`` or ``declined`` for an experience; "" otherwise."""
    if redemption.kind != Reward.Kind.EXPERIENCE:
        return ""
    if redemption.fulfilled_at is not None:
        return "fulfilled"
    if redemption.declined_at is not None:
        return "declined"
    return "requested"


def fulfilment_filter(status: str) -> Q:
    """The rows of an experience request in ``status`` (see ``fulfilment_status``). A
    request whose delivery failed (its points already returned) is no request."""
    open_ = Q(status__in=(Status.PENDING, Status.ISSUED))
    return {
        "requested": open_ & Q(fulfilled_at__isnull=True, declined_at__isnull=True),
        "fulfilled": Q(fulfilled_at__isnull=False),
        "declined": Q(declined_at__isnull=False),
    }[status]


def _open_request(shop: Shop, redemption_id: int) -> tuple[Redemption, Member]:
    """The experience request and its member, locked in the module's order. Raises
    ``Redemption.DoesNotExist`` for one not in ``shop`` (or not an experience)."""
    ids = (
        Redemption.objects.filter(shop=shop, pk=redemption_id, kind=Reward.Kind.EXPERIENCE)
        .values_list("member_id", flat=True)
        .first()
    )
    if ids is None:
        raise Redemption.DoesNotExist(f"no experience request {redemption_id} in this shop")
    member = Member.objects.select_for_update().get(pk=ids)
    redemption = Redemption.objects.select_for_update().get(pk=redemption_id)
    return redemption, member


def redemption_fulfil(*, shop: Shop, redemption_id: int, actor: str) -> Redemption:
    """The merchant gave the member the experience: the request is fulfilled and billed.

    Fulfilling a fulfilled request again changes nothing; a declined (or failed) one
    raises ``RequestNotOpen``; another shop's raises ``Redemption.DoesNotExist``.
    """
    with transaction.atomic():
        redemption, _member = _open_request(shop, redemption_id)
        if redemption.fulfilled_at is not None:
            return redemption
        if redemption.declined_at is not None or redemption.status not in (
            Status.PENDING,
            Status.ISSUED,
        ):
            raise RequestNotOpen(f"this request is {fulfilment_status(redemption) or 'closed'}")
        redemption.fulfilled_at = now()
        redemption.fulfilment_by = actor[:200]
        redemption.save(update_fields=["fulfilled_at", "fulfilment_by", "updated_at"])
        billing.usage_charge_record(redemption=redemption)
        return redemption


def redemption_decline(*, shop: Shop, redemption_id: int, reason: str, actor: str) -> Redemption:
    """The merchant cannot give the experience: the request is declined and its points
    come back with a ledger entry that gives the merchant's reason (once). Declining a
    declined request again changes nothing; a fulfilled one raises ``RequestNotOpen``."""
    why = " ".join(reason.split())[:MAX_REASON]
    if not why:
        raise ValueError("a reason is required: the member reads it with the returned points")
    with transaction.atomic():
        redemption, member = _open_request(shop, redemption_id)
        if redemption.declined_at is not None:
            return redemption
        if redemption.fulfilled_at is not None or redemption.status not in (
            Status.PENDING,
            Status.ISSUED,
        ):
            raise RequestNotOpen(f"this request is {fulfilment_status(redemption) or 'closed'}")
        back = redemption.points - redemption.points_returned
        if back > 0:
            ledger_entry_add(
                member=member,
                kind=LedgerEntry.Kind.REDEMPTION_RETURN,
                points=back,
                idempotency_key=f"redemption:{redemption.pk}:declined",
                source_type="redemption",
                source_id=str(redemption.pk),
                reason=f"Request declined: {redemption.title}: {why}"[:MAX_REASON],
                actor=actor,
            )
        redemption.declined_at = now()
        redemption.fulfilment_by = actor[:200]
        redemption.fulfilment_reason = why
        redemption.points_returned = redemption.points
        redemption.save(
            update_fields=[
                "declined_at",
                "fulfilment_by",
                "fulfilment_reason",
                "points_returned",
                "updated_at",
            ]
        )
        return redemption


# --- grants -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    redemption: Redemption
    created: bool


def _grant_value(reward: Reward) -> Any:
    # As a bought redemption records it: money (or percent) for the kinds that have one.
    if reward.kind in MONEY_KINDS or reward.kind == Reward.Kind.PERCENTAGE:
        return reward.value
    return None


def reward_grant(*, shop: Shop, member: Member, reward_id: int, reason: str, key: str) -> Grant:
    """Give ``member`` the catalog's reward ``reward_id`` for no points, delivered as a
    bought one (a code, a credit, a request) through the platform.

    ``key`` is the grant's idempotency key (a redemption's, unique per shop): the same key
    again returns the first grant and gives nothing more. A grant is a promise already
    earned: the reward's price, tier, limits and stock do not apply, only that it is the
    shop's and not archived (``Reward.DoesNotExist`` otherwise). ``reason`` is recorded as
    the redemption's actor. Runs in the caller's transaction or its own.
    """
    if not key or len(key) > 200:
        raise ValueError("key must be 1 to 200 characters")
    if member.shop_id != shop.pk:
        raise Member.DoesNotExist("no such member in this shop")
    first = Redemption.objects.filter(shop=shop, idempotency_key=key).first()
    if first is not None:
        return Grant(first, False)
    reward = Reward.objects.get(shop=shop, pk=reward_id, archived_at__isnull=True)
    moment = now()
    immediate = reward.kind in IMMEDIATE_KINDS
    with transaction.atomic():
        for _ in range(CODE_TRIES):
            try:
                with transaction.atomic():  # a savepoint: a clash leaves the caller's intact
                    redemption = Redemption.objects.create(
                        shop=shop,
                        member=member,
                        reward=reward,
                        kind=reward.kind,
                        title=reward.title,
                        points=0,
                        value=_grant_value(reward),
                        currency=shop.currency,
                        code=redemption_code_new() if reward.kind in CODE_KINDS else "",
                        status=Status.ISSUED if immediate else Status.PENDING,
                        expires_at=(
                            moment + timedelta(days=reward.code_valid_days)
                            if reward.kind in CODE_KINDS and reward.code_valid_days
                            else None
                        ),
                        issued_at=moment if immediate else None,
                        idempotency_key=key,
                        actor=reason[:200],
                    )
                break
            except IntegrityError:
                first = Redemption.objects.filter(shop=shop, idempotency_key=key).first()
                if first is not None:
                    return Grant(first, False)
        else:
            raise RuntimeError(f"no free code after {CODE_TRIES} draws")
        redemption.member = member
        redemption.reward = reward
        platform_port().redemption_deliver(shop=shop, redemption=redemption)
        billing.usage_charge_record_if_issued(redemption=redemption)
    logger.info(
        "reward %s granted to member %s (%s)",
        reward.pk,
        member.pk,
        key,
        extra={"shop": shop.domain, "redemption": redemption.pk},
    )
    return Grant(redemption, True)


# --- reads --------------------------------------------------------------------------------


def redemptions_list(*, shop: Shop, kind: str = "", status: str = "") -> QuerySet[Redemption]:
    """The shop's redemptions, newest first, of one kind and in one status if given.
    ``status`` is a redemption status, or for experiences a fulfilment status
    (``requested``, ``fulfilled``, ``declined``)."""
    rows = Redemption.objects.filter(shop=shop).select_related("member").order_by("-id")
    if kind:
        rows = rows.filter(kind=kind)
    if status in FULFILMENT_STATUSES:
        rows = rows.filter(fulfilment_filter(status), kind=Reward.Kind.EXPERIENCE)
    elif status:
        rows = rows.filter(status=status)
    return rows


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def donations_summary(
    *, shop: Shop, start: date | None = None, end: date | None = None
) -> list[dict[str, Any]]:
    """The shop's donations from ``start`` to ``end`` (days in its time zone, both
    included): per cause, how many and their total, for the merchant to honour and
    report. Counted: donations recorded (issued); failed ones gave their points back."""
    try:
        zone = ZoneInfo(shop.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    rows = Redemption.objects.filter(
        shop=shop, kind=Reward.Kind.DONATION, status__in=(Status.ISSUED, Status.USED)
    )
    if start is not None:
        rows = rows.filter(created_at__gte=_day_start(start, zone))
    if end is not None:
        rows = rows.filter(created_at__lt=_day_start(end + timedelta(days=1), zone))
    return [
        {
            "cause": row["reward__cause"],
            "currency": row["currency"],
            "count": row["count"],
            "total": row["total"] or Decimal(0),
        }
        for row in rows.values("reward__cause", "currency")
        .annotate(count=Count("pk"), total=Sum("value"))
        .order_by("reward__cause", "currency")
    ]
