"""Referral writes: the program's settings, members' codes, a friend's invitation (and its
welcome code), and what a friend's order does to a referral.

Lock order, on the order path (``referral_order_settle``, called by
``earning.services._order_reconcile`` with the order row locked): order row, then the
referral row, then the referrer's ``ReferralCode`` row (the cap), then the member rows
that ``ledger_entry_add`` locks. Nothing here locks an order while holding a referral,
so the order path cannot deadlock with the invitation path (which locks nothing but its
own new row).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat

from loyalty_app.actions.selectors import shop_zone
from loyalty_app.common.time import now
from loyalty_app.earning.fingerprints import email_normalized, fingerprint_hash
from loyalty_app.earning.models import Order
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.rewards.lifecycle import reward_grant
from loyalty_app.rewards.models import Redemption, Reward
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.services import member_tier_after_points

from .models import Referral, ReferralCode, ReferralProgram
from .policies import (
    ProgramError,
    ProgramSettings,
    cap_window_start,
    program_settings_from_dict,
)
from .selectors import (
    REDACTED_PREFIX,
    program_settings,
    referral_code_by_code,
    referral_program_forget,
    referral_program_get,
    referrals_naming,
)

logger = logging.getLogger(__name__)

Status = Referral.Status
Refusal = Referral.Refusal
# Codes people type: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10  # 31^10: about 8e14, so a code cannot be guessed by trying
WELCOME_PREFIX = "FRIEND-"
CODE_TRIES = 5
CONVERTED = (Status.PENDING, Status.REWARDED, Status.REVERSED)
# How the referrer's ledger names the friend. Never the email: the ledger is append-only
# and outlives a redaction of the friend, so it must hold nothing of them.
FRIEND_LABEL = "a friend"


def platform_port() -> Any:
    return import_module(settings.LOYALTY_PLATFORM_PORT)


def _code(length: int = CODE_LENGTH) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


# --- the program --------------------------------------------------------------------------


def referral_program_update(*, shop: Shop, data: Any, actor: str) -> tuple[ReferralProgram, bool]:
    """Validate and save the shop's referral settings, with an audit entry naming ``actor``.

    Raises ``ProgramError`` naming each wrong field (a catalog reward must be the shop's
    and not archived). Returns ``(program, changed)``; saving the same settings again
    changes and records nothing.
    """
    wanted = program_settings_from_dict(data)
    if wanted.referrer_kind == "reward" and not (
        Reward.objects.filter(
            shop=shop, pk=wanted.referrer_reward_id, archived_at__isnull=True
        ).exists()
    ):
        raise ProgramError({"referrer_reward.reward_id": "Choose a reward of your catalog."})
    # Imported here: the admin's services import every domain's, referrals among them.
    from loyalty_app.merchant_admin.services import audit_entry_add

    with transaction.atomic():
        ReferralProgram.objects.get_or_create(shop=shop)
        program = ReferralProgram.objects.select_for_update().get(shop=shop)
        before = program_settings(program).to_dict()
        after = wanted.to_dict()
        if before == after:
            return program, False
        program.enabled = wanted.enabled
        program.friend_kind = wanted.friend_kind
        program.friend_value = wanted.friend_value
        program.friend_min_subtotal = wanted.friend_min_subtotal
        program.friend_days_valid = wanted.friend_days_valid
        program.referrer_kind = wanted.referrer_kind
        program.referrer_points = wanted.referrer_points or program.referrer_points
        program.referrer_reward_id = wanted.referrer_reward_id
        program.cap_count = wanted.cap_count
        program.cap_period = wanted.cap_period
        program.save()
        audit_entry_add(
            shop=shop,
            actor=actor,
            action="referrals.update",
            object_type="referral_program",
            object_id=program.pk,
            before=before,
            after=after,
        )
    referral_program_forget(shop_id=shop.pk)
    return program, True


# --- codes --------------------------------------------------------------------------------


def referral_code_for(*, member: Member) -> ReferralCode:
    """The member's referral code, made on first use. Stable: the same code every time.
    Safe concurrently: one row per member (the second writer reads the first's)."""
    existing = ReferralCode.objects.filter(member=member).first()
    if existing is not None:
        return existing
    for _ in range(CODE_TRIES):
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(
                    shop_id=member.shop_id, member=member, code=_code()
                )
        except IntegrityError:
            existing = ReferralCode.objects.filter(member=member).first()
            if existing is not None:
                return existing
    raise RuntimeError(f"no free referral code after {CODE_TRIES} draws")


# --- invitations --------------------------------------------------------------------------


class InviteRefused(Exception):
    """No welcome code for this friend; ``message`` says why, for the friend."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Invite:
    referral: Referral
    created: bool
    offer_text: str


def _has_orders(shop: Shop, email: str) -> bool:
    """Whether a customer with this email (or an order with it) bought here before."""
    paid = Order.objects.filter(shop=shop, has_snapshot=True, test=False)
    if paid.filter(email_hash=fingerprint_hash(shop_id=shop.pk, value=email)).exists():
        return True
    return paid.filter(member__email__iexact=email).exists()


def referral_invite(*, shop: Shop, code: str, email: str) -> Invite:
    """A friend who opened ``code``'s link asks for the welcome offer with ``email``.

    Creates the referral and its single-use welcome code (delivered to the shop through
    the platform's outbox after commit) or returns the one this email already has (one
    per email, whichever link it came through). Raises ``InviteRefused`` when the program
    is off or the link unknown (``not_found``), for the referrer's own email
    (``own_link``) and for someone who already ordered here (``existing_customer``).
    """
    program = referral_program_get(shop=shop)
    referrer_code = referral_code_by_code(shop=shop, code=code)
    if program is None or not program.enabled or referrer_code is None:
        raise InviteRefused("not_found", "This referral link is not valid any more.")
    referrer = referrer_code.member
    normalized = email_normalized(email)
    existing = Referral.objects.filter(shop=shop, friend_email__iexact=normalized).first()
    if existing is not None:
        return Invite(existing, False, existing.offer.get("friend_text", ""))
    if referrer.email and email_normalized(referrer.email) == normalized:
        raise InviteRefused(
            "own_link", "This is your own referral link: share it with a friend instead."
        )
    if _has_orders(shop, normalized):
        raise InviteRefused(
            "existing_customer",
            "This offer is for new customers: this email has already ordered here.",
        )
    config = program_settings(program)
    offer = _offer(shop, config)
    moment = now()
    for _ in range(CODE_TRIES):
        try:
            with transaction.atomic():
                referral = Referral.objects.create(
                    shop=shop,
                    referrer=referrer,
                    friend_email=normalized,
                    friend_email_hash=fingerprint_hash(shop_id=shop.pk, value=normalized),
                    welcome_code=WELCOME_PREFIX + _code(8),
                    welcome_expires_at=moment + timedelta(days=config.friend_days_valid),
                    offer=offer,
                    currency=shop.currency,
                )
                platform_port().referral_welcome_deliver(shop=shop, referral=referral)
        except IntegrityError:
            existing = Referral.objects.filter(shop=shop, friend_email__iexact=normalized).first()
            if existing is not None:  # the same friend at the same moment: theirs stands
                return Invite(existing, False, existing.offer.get("friend_text", ""))
            continue  # the welcome code was taken: draw another
        logger.info(
            "referral %s: a friend invited by member %s",
            referral.pk,
            referrer.pk,
            extra={"shop": shop.domain, "referral": referral.pk},
        )
        return Invite(referral, True, offer["friend_text"])
    raise RuntimeError(f"no free welcome code after {CODE_TRIES} draws")


def _offer(shop: Shop, config: ProgramSettings) -> dict[str, Any]:
    """The terms a friend is invited under, kept with the referral: changing the program
    later changes neither the friend's code nor what the referrer was promised."""
    return {
        "friend_kind": config.friend_kind,
        "friend_value": str(config.friend_value),
        "friend_min_subtotal": (
            None if config.friend_min_subtotal is None else str(config.friend_min_subtotal)
        ),
        "friend_days_valid": config.friend_days_valid,
        "friend_text": config.friend_offer(currency=shop.currency),
        "referrer_kind": config.referrer_kind,
        "referrer_points": config.referrer_points,
        "referrer_reward_id": config.referrer_reward_id,
    }


@transaction.atomic
def referral_welcome_result(*, shop: Shop, referral_id: int, ok: bool, reason: str) -> None:
    """The platform's word on a welcome code: created (``issued``) or given up (``failed``,
    with the cause, shown to the merchant; the outbox's retry button tries it again and
    a later success makes it ``issued``). Idempotent."""
    referral = Referral.objects.select_for_update().filter(shop=shop, pk=referral_id).first()
    if referral is None:
        return
    if ok:
        referral.welcome_status = Referral.Welcome.ISSUED
        referral.welcome_error = ""
    elif referral.welcome_status != Referral.Welcome.ISSUED:
        referral.welcome_status = Referral.Welcome.FAILED
        referral.welcome_error = reason[:2000]
    referral.save(update_fields=["welcome_status", "welcome_error", "updated_at"])


# --- the friend's order -------------------------------------------------------------------


def _kept(order: Order) -> Decimal:
    return max(Decimal("0"), order.eligible_amount - order.refunded_amount)


def _undone(order: Order) -> bool:
    """Cancelled, or refunded in full: nothing of the order is kept."""
    return order.cancelled or order.fully_refunded or (order.paid and _kept(order) <= 0)


def _find(order: Order) -> Referral | None:
    """The invitation this order answers: its welcome code, else the friend's email."""
    open_ones = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("referrer", "shop")
        .filter(shop_id=order.shop_id, order__isnull=True, status=Status.INVITED)
    )
    codes = [
        c.upper() for c in (order.discount_codes or []) if c.upper().startswith(WELCOME_PREFIX)
    ]
    if codes:
        found = open_ones.filter(welcome_code__in=codes).first()
        if found is not None:
            return found
    if order.email_hash and order.first_order:
        return open_ones.filter(friend_email_hash=order.email_hash).first()
    return None


def _refusal(referral: Referral, order: Order) -> str:
    """The fraud rule this conversion breaks, or ""."""
    referrer = referral.referrer
    friend = order.member
    if friend is None:
        return ""
    if friend.pk == referrer.pk:
        return Refusal.SELF_CUSTOMER
    referrer_email = email_normalized(referrer.email)
    if referrer_email and (
        email_normalized(friend.email) == referrer_email
        or order.email_hash == fingerprint_hash(shop_id=order.shop_id, value=referrer_email)
    ):
        return Refusal.SELF_EMAIL
    theirs = Order.objects.filter(shop_id=order.shop_id, member=referrer).exclude(pk=order.pk)
    if order.shipping_hash and theirs.filter(shipping_hash=order.shipping_hash).exists():
        return Refusal.SELF_ADDRESS
    if order.payment_hash and theirs.filter(payment_hash=order.payment_hash).exists():
        return Refusal.SELF_PAYMENT
    if (
        Referral.objects.filter(shop_id=order.shop_id, friend_member=friend, status__in=CONVERTED)
        .exclude(pk=referral.pk)
        .exists()
    ):
        return Refusal.ALREADY_REFERRED
    if not order.first_order:
        return Refusal.NOT_FIRST_ORDER
    return ""


def _attach(referral: Referral, order: Order) -> None:
    referral.order = order
    referral.order_external_id = order.external_id
    referral.order_name = order.name
    referral.friend_member = order.member
    referral.converted_at = order.placed_at or now()
    referral.currency = order.currency or referral.currency
    refusal = _refusal(referral, order)
    if refusal:
        referral.status = Status.REFUSED
        referral.refusal = refusal
        referral.note = Refusal(refusal).label
    else:
        referral.status = Status.PENDING
        referral.note = f"Order {order.name or order.external_id} placed"


def _cap_reached(referral: Referral) -> bool:
    """Whether the referrer already has their cap's rewards in the current period. The
    caller holds the referrer's code row, so counting and rewarding are one step."""
    program = referral_program_get(shop=referral.shop)
    if program is None or not program.cap_count:
        return False
    start = cap_window_start(period=program.cap_period, at=now(), zone=shop_zone(referral.shop))
    rewarded = Referral.objects.filter(
        shop_id=referral.shop_id, referrer_id=referral.referrer_id, status=Status.REWARDED
    )
    if start is not None:
        rewarded = rewarded.filter(rewarded_at__gte=start)
    return rewarded.count() >= program.cap_count


def _reward(referral: Referral, actor: str) -> None:
    # The referrer's row first: the cap is counted and used under it.
    ReferralCode.objects.select_for_update().filter(member_id=referral.referrer_id).first()
    if _cap_reached(referral):
        referral.status = Status.REFUSED
        referral.refusal = Refusal.CAP_REACHED
        referral.note = Refusal.CAP_REACHED.label
        return
    key = f"referral:friend:{referral.friend_member_id}"
    offer = referral.offer
    if offer.get("referrer_kind") == "reward":
        try:
            grant = reward_grant(
                shop=referral.shop,
                member=referral.referrer,
                reward_id=int(offer.get("referrer_reward_id") or 0),
                reason=f"referral:{referral.pk}",
                key=key,
            )
        except Reward.DoesNotExist:
            referral.status = Status.REFUSED
            referral.refusal = Refusal.REWARD_UNAVAILABLE
            referral.note = Refusal.REWARD_UNAVAILABLE.label
            return
        referral.reward_redemption = grant.redemption
        referral.note = f"Reward {grant.redemption.title} given"
    else:
        points = int(offer.get("referrer_points") or 0)
        write = ledger_entry_add(
            member=referral.referrer,
            kind=LedgerEntry.Kind.REFERRAL,
            points=points,
            idempotency_key=key,
            source_type="referral",
            source_id=str(referral.pk),
            reason=f"Referred {FRIEND_LABEL} (order {referral.order_name})",
            actor=actor,
        )
        referral.reward_points = write.entry.points
        referral.note = f"{referral.reward_points} points given"
        # Referral points count toward a points-earned tier: an upgrade happens now.
        member_tier_after_points(member=referral.referrer, actor="referral")
    referral.status = Status.REWARDED
    referral.rewarded_at = now()


def _reverse(referral: Referral, actor: str) -> None:
    """Take the referrer's reward back: points with a negative ``referral`` entry; a
    catalog reward's redemption is left as the rewards lifecycle has it (see the note)."""
    if referral.reward_points:
        ledger_entry_add(
            member=referral.referrer,
            kind=LedgerEntry.Kind.REFERRAL,
            points=-referral.reward_points,
            idempotency_key=f"referral:friend:{referral.friend_member_id}:reversed",
            source_type="referral",
            source_id=str(referral.pk),
            reason=f"Referral of {FRIEND_LABEL}: order {referral.order_name} refunded or cancelled",
            actor=actor,
        )
        referral.note = f"{referral.reward_points} points taken back: the order was undone"
    elif referral.reward_redemption_id is not None:
        redemption = Redemption.objects.only("status", "code").get(pk=referral.reward_redemption_id)
        referral.note = (
            f"Order undone after the reward; its code {redemption.code or ''} is "
            f"{redemption.status}: not taken back automatically"
        ).replace("  ", " ")
    referral.status = Status.REVERSED
    referral.reversed_at = now()


def referral_order_settle(*, order: Order, actor: str) -> Referral | None:
    """What the order does to a referral: attach it (the friend's first order, checked
    against the fraud rules), reward the referrer once it is paid and past its return
    window, take the reward back when it is cancelled or refunded in full.

    Runs inside ``order_sync``/``order_refund_record``/``order_confirm``'s transaction,
    with the order row locked. Idempotent: a replayed or concurrent event finds the
    referral already moved on (the ledger keys are per referred customer).
    """
    if order.test or not order.has_snapshot:
        return None
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("referrer", "shop")
        .filter(shop_id=order.shop_id, order_id=order.pk)
        .first()
    )
    if referral is None:
        if order.member_id is None:
            return None
        referral = _find(order)
        if referral is None:
            return None
        _attach(referral, order)
    referral.order_amount = _kept(order) if order.paid else order.eligible_amount
    if referral.status == Status.PENDING:
        if _undone(order):
            referral.status = Status.CANCELLED
            referral.note = f"Order {order.name or order.external_id} cancelled or refunded"
        elif order.paid and order.confirmed:
            _reward(referral, actor)
    elif referral.status == Status.REWARDED and _undone(order):
        _reverse(referral, actor)
    referral.save()
    return referral


# --- privacy ------------------------------------------------------------------------------


def referrals_friend_redact(*, shop: Shop, members: list[Member], emails: set[str]) -> int:
    """Blank the friend's email on ``shop``'s referrals naming a redacted customer (as
    ``members`` or by one of ``emails``); returns how many rows changed.

    The row stays, with its status, welcome code, order and reward accounting: the
    referrer's points and the shop's figures do not move. The email becomes
    ``redacted-<pk>`` (the unique index on the shop's friend emails still holds, and no
    address can match it: it has no ``@``) and its hash goes, so no later order is
    matched to the friend by email. Idempotent: a redacted row is not found again.
    Call it in the redaction's transaction, before the members are locked (the order
    path locks a referral before members).
    """
    pks = list(
        referrals_naming(shop=shop, members=members, emails=emails)
        .exclude(friend_email__startswith=REDACTED_PREFIX)
        .values_list("pk", flat=True)
    )
    if not pks:
        return 0
    rows = list(
        Referral.objects.select_for_update()
        .filter(shop=shop, pk__in=pks)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if rows:
        Referral.objects.filter(pk__in=rows).update(
            friend_email=Concat(Value(REDACTED_PREFIX), Cast("pk", CharField())),
            friend_email_hash="",
            updated_at=now(),
        )
    return len(rows)
