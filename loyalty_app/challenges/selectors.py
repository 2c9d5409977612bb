"""Reading challenges and badges, and the facts a member's progress is computed from.

Every read is scoped to one shop (and, for a member, to that member). The widget and the
API read the cached ``ChallengeProgress`` rows: a member's challenges cost two queries
whatever their history.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q, QuerySet

from loyalty_app.earning.models import ActionEvent, Order, OrderRefund
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

from .models import Badge, Challenge, ChallengeProgress, MemberBadge
from .policies import (
    BADGE_COLOURS,
    BADGE_ICONS,
    BLOCK_LABELS,
    CountedLine,
    CountedOrder,
    DoneAction,
    percent,
    progress_text,
    zone_of,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

ORDER_BLOCKS = frozenset({"orders_count", "amount_spent", "distinct_categories", "monthly_streak"})
ZERO = Decimal(0)


def _pk(value: object) -> int | None:
    try:
        pk = int(str(value))
    except ValueError:
        return None
    return pk if 0 < pk < 2**63 else None


# --- definitions --------------------------------------------------------------------------


def challenges_list(*, shop: Shop, status: str = "") -> QuerySet[Challenge]:
    """The shop's challenges, newest first, of one status if given, with the number of
    members who completed each (``completed_count``)."""
    rows = Challenge.objects.filter(shop=shop).select_related("badge", "reward")
    if status:
        rows = rows.filter(status=status)
    return rows.annotate(
        completed_count=Count("progress", filter=Q(progress__completed=True))
    ).order_by("-pk")


def challenge_get(*, shop: Shop, challenge_id: object) -> Challenge | None:
    """One challenge of ``shop``; never another shop's."""
    pk = _pk(challenge_id)
    if pk is None:
        return None
    return Challenge.objects.filter(shop=shop, pk=pk).select_related("badge", "reward").first()


def challenges_live(*, shop: Shop | int) -> list[Challenge]:
    """The shop's active challenges (those that count and give)."""
    shop_id = shop if isinstance(shop, int) else shop.pk
    return list(
        Challenge.objects.filter(shop_id=shop_id, status=Challenge.Status.ACTIVE)
        .select_related("badge", "reward")
        .order_by("ends_at", "pk")
    )


def challenges_need_product_facts(*, shop: Shop) -> bool:
    """Whether an active challenge counts product types or collections: the order's lines
    then need their product facts even when no earning rule uses them."""
    return Challenge.objects.filter(
        shop=shop, status=Challenge.Status.ACTIVE, block="distinct_categories"
    ).exists()


def challenge_completions(*, challenge: Challenge, limit: int = 500) -> list[ChallengeProgress]:
    """The members who hold the challenge's reward now, latest first."""
    return list(
        ChallengeProgress.objects.filter(challenge=challenge, completed=True)
        .select_related("member")
        .order_by("-completed_at", "-pk")[:limit]
    )


def challenge_as_data(challenge: Challenge) -> dict[str, Any]:
    """A challenge as the API and the admin form read and write it."""
    return {
        "name": challenge.name,
        "description": challenge.description,
        "block": challenge.block,
        **challenge.params,
        "starts_on": challenge.starts_on.isoformat(),
        "ends_on": challenge.ends_on.isoformat(),
        "reward_points": challenge.reward_points,
        "reward_id": challenge.reward_id,
        "badge_id": challenge.badge_id,
    }


def badges_list(*, shop: Shop, include_archived: bool = False) -> QuerySet[Badge]:
    rows = Badge.objects.filter(shop=shop)
    if not include_archived:
        rows = rows.filter(archived_at__isnull=True)
    return rows.order_by("name", "pk")


def badge_get(*, shop: Shop, badge_id: object) -> Badge | None:
    pk = _pk(badge_id)
    if pk is None:
        return None
    return Badge.objects.filter(shop=shop, pk=pk).first()


def badge_as_data(badge: Badge) -> dict[str, Any]:
    """A badge with what draws it: the glyph's SVG path (24x24) and the colour."""
    return {
        "id": badge.pk,
        "name": badge.name,
        "description": badge.description,
        "icon": badge.icon,
        "colour": badge.colour,
        "colour_hex": BADGE_COLOURS.get(badge.colour, BADGE_COLOURS["grey"]),
        "path": BADGE_ICONS.get(badge.icon, BADGE_ICONS["star"]),
        "archived": badge.archived_at is not None,
    }


# --- the facts progress is computed from ----------------------------------------------------


def _kept_lines(
    lines: list[dict[str, Any]], refunds: list[list[dict[str, Any]]]
) -> tuple[CountedLine, ...]:
    refunded: dict[str, Decimal] = defaultdict(Decimal)
    for refund_lines in refunds:
        for line in refund_lines:
            refunded[str(line.get("id"))] += Decimal(str(line.get("amount") or 0))
    counted = []
    for line in lines or []:
        if line.get("gift_card"):
            continue
        amount = Decimal(str(line.get("amount") or 0))
        left = amount - refunded.get(str(line.get("id")), ZERO)
        # A free line counts until a refund names it; a paid one while some of it is left.
        kept = left > 0 or (amount == 0 and str(line.get("id")) not in refunded)
        counted.append(
            CountedLine(
                product_type=str(line.get("product_type") or ""),
                collections=tuple(str(c) for c in line.get("collections") or ()),
                kept=kept,
            )
        )
    return tuple(counted)


def members_counted_orders(
    *,
    shop_id: int,
    member_ids: Sequence[int],
    since: datetime,
    until: datetime,
    with_lines: bool = False,
) -> dict[int, list[CountedOrder]]:
    """The counted orders placed in [since, until) of each of ``member_ids`` (members of
    ``shop_id``; a member with none is absent): paid, not cancelled, not fully refunded,
    not a test, with merchandise left after refunds. ``with_lines``: with each line's
    product facts and whether a refund took all of it (one more query). One query (two
    with lines) whatever the number of members: the catch-up reads a batch at once."""
    if not member_ids:
        return {}
    rows = list(
        Order.objects.filter(
            shop_id=shop_id,
            member_id__in=member_ids,
            has_snapshot=True,
            paid=True,
            cancelled=False,
            fully_refunded=False,
            test=False,
            placed_at__gte=since,
            placed_at__lt=until,
        ).values_list(
            "pk",
            "member_id",
            "placed_at",
            "eligible_amount",
            "refunded_amount",
            "confirmed",
            *(("lines",) if with_lines else ()),
        )
    )
    refunds: dict[int, list[list[dict[str, Any]]]] = defaultdict(list)
    if with_lines and rows:
        for order_id, lines in OrderRefund.objects.filter(
            order_id__in=[row[0] for row in rows]
        ).values_list("order_id", "lines"):
            refunds[order_id].append(lines or [])
    counted: dict[int, list[CountedOrder]] = defaultdict(list)
    for pk, member_id, placed_at, eligible, refunded, confirmed, *lines in rows:
        net = max(eligible - refunded, ZERO)
        if net <= 0:
            continue
        counted[member_id].append(
            CountedOrder(
                placed_at=placed_at,
                net_amount=net,
                confirmed=confirmed,
                lines=_kept_lines(lines[0], refunds.get(pk, [])) if with_lines else (),
            )
        )
    return dict(counted)


def member_counted_orders(
    *, member: Member, since: datetime, until: datetime, with_lines: bool = False
) -> list[CountedOrder]:
    """The member's counted orders placed in [since, until) (``members_counted_orders``
    for one member)."""
    return members_counted_orders(
        shop_id=member.shop_id,
        member_ids=[member.pk],
        since=since,
        until=until,
        with_lines=with_lines,
    ).get(member.pk, [])


def members_done_actions(
    *,
    shop_id: int,
    member_ids: Sequence[int],
    actions: set[str],
    since: datetime,
    until: datetime,
) -> dict[int, list[DoneAction]]:
    """The awarded actions among ``actions`` that happened in [since, until), of each of
    ``member_ids`` (members of ``shop_id``; a member with none is absent). One query."""
    if not actions or not member_ids:
        return {}
    done: dict[int, list[DoneAction]] = defaultdict(list)
    for member_id, action, at in ActionEvent.objects.filter(
        shop_id=shop_id,
        member_id__in=member_ids,
        action__in=sorted(actions),
        status=ActionEvent.Status.AWARDED,
        occurred_at__gte=since,
        occurred_at__lt=until,
    ).values_list("member_id", "action", "occurred_at"):
        done[member_id].append(DoneAction(action=action, occurred_at=at))
    return dict(done)


def member_done_actions(
    *, member: Member, actions: set[str], since: datetime, until: datetime
) -> list[DoneAction]:
    """The member's awarded actions among ``actions`` that happened in [since, until)."""
    return members_done_actions(
        shop_id=member.shop_id, member_ids=[member.pk], actions=actions, since=since, until=until
    ).get(member.pk, [])


# --- what a member sees ---------------------------------------------------------------------


def _days_left(challenge: Challenge, today: date) -> tuple[int, str]:
    days = (challenge.ends_on - today).days
    if days <= 0:
        return 0, "Last day"
    return days, f"{days} day{'s' if days != 1 else ''} left"


def _number(value: Decimal, block: str) -> str:
    if block == "amount_spent":
        return str(value.quantize(Decimal("0.01")))
    return str(int(value))


def _reward_data(challenge: Challenge) -> dict[str, Any]:
    return {
        "points": challenge.reward_points,
        "reward": (
            {"id": challenge.reward_id, "title": challenge.reward.title}
            if challenge.reward is not None
            else None
        ),
        "badge": badge_as_data(challenge.badge) if challenge.badge is not None else None,
    }


def member_challenges(
    *,
    shop: Shop,
    member: Member,
    at: datetime,
    include_ended: bool = False,
    live: list[Challenge] | None = None,
) -> list[dict[str, Any]]:
    """Each active challenge running at ``at`` (with ``include_ended``: every active one
    that has started) and the member's progress in it, from the cached rows: "2 of 3
    orders", a percent for a progress bar, the days left, whether it is complete or
    waits for orders to pass the return window."""
    zone = zone_of(shop.timezone)
    today = at.astimezone(zone).date()
    live = [
        c
        for c in (challenges_live(shop=shop) if live is None else live)
        if c.starts_at <= at and (include_ended or at < c.ends_at)
    ]
    if not live:
        return []
    rows = {
        row.challenge_id: row
        for row in ChallengeProgress.objects.filter(
            member=member, challenge_id__in=[c.pk for c in live]
        )
    }
    out = []
    for challenge in live:
        row = rows.get(challenge.pk)
        value = row.value if row else ZERO
        confirmed = row.confirmed_value if row else ZERO
        completed = bool(row and row.completed)
        target = challenge.target
        days, days_text = _days_left(challenge, today)
        out.append(
            {
                "id": challenge.pk,
                "name": challenge.name,
                "description": challenge.description,
                "block": challenge.block,
                "block_label": BLOCK_LABELS.get(challenge.block, challenge.block),
                "value": _number(value, challenge.block),
                "confirmed_value": _number(confirmed, challenge.block),
                "target": _number(target, challenge.block),
                "percent": percent(value, target),
                "text": progress_text(
                    block=challenge.block,
                    params=challenge.params,
                    value=value,
                    target=target,
                    currency=shop.currency,
                ),
                "completed": completed,
                "completed_at": row.completed_at.isoformat() if completed and row else None,
                # Reached by orders still inside the return window: given when it passes.
                "waiting": not completed and value >= target,
                "starts_on": challenge.starts_on.isoformat(),
                "ends_on": challenge.ends_on.isoformat(),
                "ended": at >= challenge.ends_at,
                "days_left": days,
                "days_left_text": "Ended" if at >= challenge.ends_at else days_text,
                "reward": _reward_data(challenge),
            }
        )
    return out


def member_badges(*, member: Member) -> list[dict[str, Any]]:
    """The badges the member holds, latest first."""
    rows = (
        MemberBadge.objects.filter(shop_id=member.shop_id, member=member)
        .select_related("badge", "challenge")
        .order_by("-awarded_at", "-pk")
    )
    return [
        {
            **badge_as_data(row.badge),
            "awarded_at": row.awarded_at.isoformat(),
            "challenge": row.challenge.name if row.challenge is not None else None,
        }
        for row in rows
    ]


# The storefront asks for the state on every page view: each process keeps a shop's active
# challenges and whether it has badges for WIDGET_TTL_SECONDS (as the widget keeps the
# program), so a shop without challenges costs no query. A change made in this process is
# seen at once (``widget_challenges_forget``); one made in another within that time.
WIDGET_TTL_SECONDS = 5.0
_WIDGET: dict[int, tuple[float, list[Challenge], bool]] = {}


def widget_challenges_forget(*, shop_id: int | None = None) -> None:
    if shop_id is None:
        _WIDGET.clear()
    else:
        _WIDGET.pop(shop_id, None)


def shop_challenges_cached(shop: Shop) -> tuple[list[Challenge], bool]:
    """The shop's active challenges and whether a member may hold a badge (kept per
    process for ``WIDGET_TTL_SECONDS``)."""
    moment = time.monotonic()
    hit = _WIDGET.get(shop.pk)
    if hit is not None and hit[0] > moment:
        return hit[1], hit[2]
    # One query: the active challenges, and the archived ones that gave a badge (members
    # may hold one only if some challenge gave it).
    rows = list(
        Challenge.objects.filter(shop=shop)
        .filter(
            Q(status=Challenge.Status.ACTIVE)
            | Q(status=Challenge.Status.ARCHIVED, badge__isnull=False)
        )
        .select_related("badge", "reward")
        .order_by("ends_at", "pk")
    )
    live = [c for c in rows if c.status == Challenge.Status.ACTIVE]
    has_badges = any(c.badge_id for c in rows)
    if len(_WIDGET) > 10_000:
        _WIDGET.clear()
    _WIDGET[shop.pk] = (moment + WIDGET_TTL_SECONDS, live, has_badges)
    return live, has_badges


def widget_challenges(*, shop: Shop, member: Member, at: datetime) -> dict[str, Any] | None:
    """The widget's "Challenges" and "Your badges": the running challenges with the
    member's progress, and the badges they hold (None: neither, the widget shows nothing).
    One query for the progress rows when a challenge runs, one for the badges when the
    shop has any."""
    live, has_badges = shop_challenges_cached(shop)
    running = member_challenges(shop=shop, member=member, at=at, live=live)
    badges = member_badges(member=member) if has_badges else []
    if not running and not badges:
        return None
    return {"running": running, "badges": badges}


def member_challenges_data(*, member: Member) -> dict[str, Any]:
    """What a data request returns of a member's challenges: the progress stored for each
    challenge (any status) and the badges held. Nothing here is personal beyond the link to
    the member; a redaction anonymizes the member, and these rows stay with it."""
    progress = (
        ChallengeProgress.objects.filter(shop_id=member.shop_id, member=member)
        .select_related("challenge")
        .order_by("pk")
    )
    return {
        "progress": [
            {
                "challenge": row.challenge.name,
                "value": str(row.value.normalize()),
                "confirmed_value": str(row.confirmed_value.normalize()),
                "completed": row.completed,
                "completed_at": row.completed_at.isoformat() if row.completed_at else None,
                "times_given": row.completions,
                "times_taken_back": row.revocations,
            }
            for row in progress
        ],
        "badges": [
            {"badge": b["name"], "awarded_at": b["awarded_at"], "challenge": b["challenge"]}
            for b in member_badges(member=member)
        ],
    }


def member_challenges_of_shop(
    *, shop: Shop, member: Member, at: datetime, live: list[Challenge]
) -> list[dict[str, Any]]:
    """``member_challenges`` over the given active challenges, ended ones included."""
    return member_challenges(shop=shop, member=member, at=at, include_ended=True, live=live)
