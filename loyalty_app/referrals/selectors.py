"""Referral reads, each scoped to one shop: the program, a member's referrals, the list
the admin and the API show, and the figures for a period (``referral_figures``, which the
analytics report can include)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Lower

from loyalty_app.earning.models import Order
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

from .models import Referral, ReferralCode, ReferralProgram
from .policies import ProgramSettings

PROXY_SUBPATH = "/apps/loyalty"  # the app proxy's subpath (shopify.app.toml)
MAX_LIST = 200


def referral_program_get(*, shop: Shop) -> ReferralProgram | None:
    return ReferralProgram.objects.filter(shop=shop).first()


def program_settings(program: ReferralProgram | None) -> ProgramSettings:
    """The settings of a stored program (defaults, switched off, when there is none)."""
    if program is None:
        return ProgramSettings()
    return ProgramSettings(
        enabled=program.enabled,
        friend_kind=program.friend_kind,
        friend_value=program.friend_value,
        friend_min_subtotal=program.friend_min_subtotal,
        friend_days_valid=program.friend_days_valid,
        referrer_kind=program.referrer_kind,
        referrer_points=program.referrer_points if program.referrer_kind == "points" else 0,
        referrer_reward_id=(
            program.referrer_reward_id if program.referrer_kind == "reward" else None
        ),
        cap_count=program.cap_count,
        cap_period=program.cap_period,
    )


def referrer_reward_text(*, shop: Shop, config: ProgramSettings) -> str:
    """The referrer's reward in words ("500 points", "a Free mug"), for each friend."""
    if config.referrer_kind == "reward":
        from loyalty_app.rewards.models import Reward

        title = (
            Reward.objects.filter(shop=shop, pk=config.referrer_reward_id)
            .values_list("title", flat=True)
            .first()
        )
        return title or "a reward"
    points = config.referrer_points
    return f"{points:,d} {'point' if points == 1 else 'points'}"


def referral_link(*, shop: Shop, code: str) -> str:
    """The member's link on the shop's storefront (the app proxy's landing page)."""
    return f"https://{shop.domain}{PROXY_SUBPATH}{referral_path(code)}"


def referral_path(code: str) -> str:
    """The link's path under the app proxy: the code in lower case (codes are matched
    without regard to case, and some proxies only pass lower-case paths)."""
    return f"/r/{code.lower()}"


@dataclass(frozen=True)
class MemberReferrals:
    referred: int  # friends whose first order counted (ordered, rewarded or taken back)
    rewarded: int
    points_earned: int  # net of rewards taken back
    invited: int


def member_referral_counts(*, member: Member) -> MemberReferrals:
    rows = Referral.objects.filter(shop_id=member.shop_id, referrer=member).aggregate(
        invited=Count("id"),
        referred=Count("id", filter=Q(status__in=("pending", "rewarded", "reversed"))),
        rewarded=Count("id", filter=Q(status="rewarded")),
        points=Sum("reward_points", filter=Q(status="rewarded")),
    )
    return MemberReferrals(
        referred=rows["referred"],
        rewarded=rows["rewarded"],
        points_earned=rows["points"] or 0,
        invited=rows["invited"],
    )


# The widget reads the shop's program on every state request: each process keeps it
# PROGRAM_TTL_SECONDS (as the widget keeps the rest of a shop's configuration), so a busy
# storefront reads it a few times a minute. A save shows within that time.
PROGRAM_TTL_SECONDS = 5.0
_PROGRAMS: dict[int, tuple[float, ReferralProgram | None]] = {}


def referral_program_cached(*, shop: Shop) -> ReferralProgram | None:
    hit = _PROGRAMS.get(shop.pk)
    moment = time.monotonic()
    if hit is not None and hit[0] > moment:
        return hit[1]
    program = referral_program_get(shop=shop)
    if len(_PROGRAMS) > 10_000:
        _PROGRAMS.clear()
    _PROGRAMS[shop.pk] = (moment + PROGRAM_TTL_SECONDS, program)
    return program


def referral_program_forget(*, shop_id: int) -> None:
    _PROGRAMS.pop(shop_id, None)


def widget_referral_state(*, shop: Shop, member: Member) -> dict[str, Any] | None:
    """The widget's "Refer a friend" section, or None when the program is off. Makes the
    member's code on first use (one row, once)."""
    program = referral_program_cached(shop=shop)
    if program is None or not program.enabled:
        return None
    from .services import referral_code_for  # a member's code is made when first shown

    code = referral_code_for(member=member).code
    config = program_settings(program)
    counts = member_referral_counts(member=member)
    return {
        "code": code,
        "link": referral_link(shop=shop, code=code),
        "path": referral_path(code),
        "friend_offer": config.friend_offer(currency=shop.currency),
        "referrer_reward": referrer_reward_text(shop=shop, config=config),
        "referrer_points": config.referrer_points if config.referrer_kind == "points" else None,
        "friends_referred": counts.referred,
        "rewards_earned": counts.rewarded,
    }


def referrals_list(
    *, shop: Shop, status: str = "", referrer: Member | None = None
) -> QuerySet[Referral]:
    """The shop's referrals, newest first (filter by status, by referrer)."""
    rows = Referral.objects.filter(shop=shop).select_related("referrer", "friend_member")
    if status:
        rows = rows.filter(status=status)
    if referrer is not None:
        rows = rows.filter(referrer=referrer)
    return rows.order_by("-created_at", "-pk")


def referral_code_by_code(*, shop: Shop, code: str) -> ReferralCode | None:
    return (
        ReferralCode.objects.select_related("member")
        .filter(shop=shop, code=code.strip().upper())
        .first()
    )


@dataclass(frozen=True)
class ReferralFigures:
    """A shop's referrals over ``[start, end)``.

    - ``referrals``: friends invited (welcome codes handed out) in the period;
    - ``conversions``: friends whose first order, placed in the period, counted (pending,
      rewarded, or rewarded and later taken back);
    - ``conversion_rate``: conversions / referrals, percent with one decimal (None: no
      referrals);
    - ``revenue``: merchandise kept (after discounts and refunds, gift cards excluded) of
      every paid, uncancelled order placed in the period by a converted friend, in the
      shop's currency;
    - ``rewards_issued``: referrers rewarded in the period; ``points_issued``: the
      ``referral`` points given less those taken back, in the period.
    """

    referrals: int
    conversions: int
    conversion_rate: Decimal | None
    revenue: Decimal
    currency: str
    rewards_issued: int
    points_issued: int
    refused: int


def referral_figures(
    *, shop: Shop, period_start: datetime, period_end: datetime
) -> ReferralFigures:
    """The period's referral figures (see ``ReferralFigures``); a few indexed queries."""
    from loyalty_app.ledger.models import LedgerEntry

    referrals = Referral.objects.filter(
        shop=shop, created_at__gte=period_start, created_at__lt=period_end
    ).count()
    converted = Referral.objects.filter(
        shop=shop,
        converted_at__gte=period_start,
        converted_at__lt=period_end,
        status__in=("pending", "rewarded", "reversed"),
    ).count()
    refused = Referral.objects.filter(
        shop=shop, converted_at__gte=period_start, converted_at__lt=period_end, status="refused"
    ).count()
    friends = Referral.objects.filter(
        shop=shop, status__in=("pending", "rewarded", "reversed"), friend_member__isnull=False
    ).values("friend_member_id")
    orders = Order.objects.filter(
        shop=shop,
        member_id__in=friends,
        has_snapshot=True,
        paid=True,
        cancelled=False,
        test=False,
        placed_at__gte=period_start,
        placed_at__lt=period_end,
    ).aggregate(kept=Sum("eligible_amount"), refunded=Sum("refunded_amount"))
    revenue = max(Decimal("0"), (orders["kept"] or Decimal("0")) - (orders["refunded"] or 0))
    rewards = Referral.objects.filter(
        shop=shop, rewarded_at__gte=period_start, rewarded_at__lt=period_end
    ).count()
    points = LedgerEntry.objects.filter(
        shop=shop,
        kind=LedgerEntry.Kind.REFERRAL,
        created_at__gte=period_start,
        created_at__lt=period_end,
    ).aggregate(total=Sum("points"))["total"]
    rate = (Decimal(converted * 100) / referrals).quantize(Decimal("0.1")) if referrals else None
    return ReferralFigures(
        referrals=referrals,
        conversions=converted,
        conversion_rate=rate,
        revenue=revenue.quantize(Decimal("0.01")),
        currency=shop.currency,
        rewards_issued=rewards,
        points_issued=int(points or 0),
        refused=refused,
    )


# --- privacy: what a data request returns ---------------------------------------------------

REDACTED_PREFIX = "redacted-"


def email_masked(email: str) -> str | None:
    """Another person's email as a data request may show it: the first letter of the
    local part and the whole domain (``a***@example.com``); None for a redacted one."""
    local, at, domain = email.partition("@")
    if not at or not local or email.startswith(REDACTED_PREFIX):
        return None
    return f"{local[0]}***@{domain}"


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def member_referrals_data(*, member: Member) -> dict[str, Any]:
    """What a data request returns of a member as a referrer: their code and link (None
    when they never had one) and each friend they invited, with the friend's email masked
    (it is the friend's data, not theirs) and what came of the invitation."""
    code = ReferralCode.objects.filter(shop_id=member.shop_id, member=member).first()
    shop = Shop.objects.only("domain").get(pk=member.shop_id)
    made = Referral.objects.filter(shop_id=member.shop_id, referrer=member).order_by("pk")
    return {
        "code": code.code if code is not None else None,
        "link": referral_link(shop=shop, code=code.code) if code is not None else None,
        "referred": [
            {
                "friend_email": email_masked(r.friend_email),
                "status": r.status,
                "refusal": r.refusal or None,
                "invited_at": _when(r.created_at),
                "order_name": r.order_name or None,
                "converted_at": _when(r.converted_at),
                "reward_points": r.reward_points,
                "rewarded_at": _when(r.rewarded_at),
                "reversed_at": _when(r.reversed_at),
            }
            for r in made
        ],
    }


def referrals_naming(*, shop: Shop, members: list[Member], emails: set[str]) -> QuerySet[Referral]:
    """The shop's referrals whose friend is one of ``members`` or has one of ``emails``
    (case ignored; the unique index on the lower-cased email serves it), in pk order."""
    lowered = {e.strip().lower() for e in emails if e.strip()}
    match = Q(friend_member__in=[m.pk for m in members]) if members else Q(pk__in=[])
    if lowered:
        match |= Q(friend_email_lower__in=lowered)
    return (
        Referral.objects.filter(shop=shop)
        .annotate(friend_email_lower=Lower("friend_email"))
        .filter(match)
        .order_by("pk")
    )


def friend_referrals_data(
    *, shop: Shop, members: list[Member], emails: set[str]
) -> list[dict[str, Any]]:
    """What a data request returns of a customer as a referred friend: each invitation
    that names their email (or their member, after an order), with its welcome code and
    status. The referrer is not named: that is the referrer's data."""
    return [
        {
            "email": None if r.friend_email.startswith(REDACTED_PREFIX) else r.friend_email,
            "invited_at": _when(r.created_at),
            "welcome_code": r.welcome_code,
            "welcome_offer": r.offer.get("friend_text", ""),
            "welcome_expires_at": _when(r.welcome_expires_at),
            "status": r.status,
            "refusal": r.refusal or None,
            "order_name": r.order_name or None,
            "converted_at": _when(r.converted_at),
        }
        for r in referrals_naming(shop=shop, members=members, emails=emails)
    ]
