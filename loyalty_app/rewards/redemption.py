"""Redeeming a reward: points become a code, a credit, a donation or a request.

``reward_redeem`` is the one way points buy a reward. In one transaction it locks the
member (as ``ledger_entry_add`` does, first), then the reward (its stock), checks every
rule, debits the ledger, takes one from the stock, records the ``Redemption`` and hands
its delivery to the platform (``platform_port().redemption_deliver``), which records the
Admin API call in the same transaction: the debit and "the shop must create the code"
are kept together or not at all. The slow call to the shop runs after commit, in a
worker, and reports back through ``redemption_issued`` or ``redemption_fail``.

Lock order, everywhere in this module: member row, then reward row, then redemption
row. ``ledger_entry_add`` locks the member row itself; taking it first here means it
never waits behind a reward lock that another redemption of the same member holds. The
reward row is locked only when it has a stock to count.

Why a double spend cannot happen: the balance is read and debited under the member's
row lock (two redemptions of one member run one after the other), the ledger refuses a
debit below zero as a backstop, and the stock is taken under the reward's lock with a
``CheckConstraint`` (never below 0) behind it. A retried request (the same idempotency
key) finds the first redemption; the unique (shop, idempotency key) constraint settles
two that race.

The reads of redemptions (``redemptions_for_member``, ``redemption_get``) are at the
end of this module.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet

from loyalty_app.common.time import now
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import InsufficientPoints, ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.tiers import selectors as tier_selectors

from .models import Redemption, Reward
from .policies import CODE_KINDS

Status = Redemption.Status

# Readable and hard to guess: no 0/O or 1/I, 8 random characters (40 bits) per code.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_PREFIX = "LOYAL"
CODE_TRIES = 5
MAX_KEY_LENGTH = 150
CREDIT_KINDS = frozenset({"store_credit", "variable_credit"})
# Recorded and done at once: the merchant honours them; no code is created in the shop.
IMMEDIATE_KINDS = frozenset({"donation", "experience"})
# Kinds whose value is money in the shop's currency (a percentage is in percent).
MONEY_KINDS = frozenset({"fixed_amount", "store_credit", "variable_credit", "donation"})
NOT_DELIVERED = "Reward not delivered"


@dataclass
class RedemptionRefused(Exception):
    """A redemption the rules refuse; nothing was written.

    ``code`` names the reason for programs (``insufficient_points``, ``reward_inactive``,
    ``tier_required``, ``limit_reached``, ``out_of_stock``, ``points_invalid``,
    ``grant_only``, ``customer_unknown``); ``message`` says it to people; ``fields``
    points at the input at fault, if any.
    """

    code: str
    message: str
    fields: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class RedemptionConflict(Exception):
    """The idempotency key was already used for a different redemption."""

    def __init__(self, redemption: Redemption) -> None:
        super().__init__(f"idempotency key already used for redemption {redemption.pk}")
        self.redemption = redemption


class _Replay(Exception):
    """Leaves the transaction of a redemption that lost a race on its idempotency key."""


def platform_port() -> Any:
    return import_module(settings.LOYALTY_PLATFORM_PORT)


def redemption_code_new() -> str:
    """A code like ``LOYAL-7KQ2-XM4P``: unpredictable, easy to read out and type."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{CODE_PREFIX}-{chars[:4]}-{chars[4:]}"


def _tier_check(shop: Shop, member: Member, reward: Reward) -> None:
    if not reward.min_tier:
        return
    names = [t.name.casefold() for t in tier_selectors.tier_program_current_config(shop=shop).tiers]
    wanted = reward.min_tier.casefold()
    # The tier the member holds by the tiers' own evaluation (the tier carried over from
    # another app where the shop has no tier definition).
    held = (tier_selectors.member_tier_name(shop=shop, member=member) or "").casefold()
    if held == wanted:
        return
    if wanted in names and held in names and names.index(held) >= names.index(wanted):
        return
    raise RedemptionRefused(
        "tier_required", f"this reward needs the {reward.min_tier} tier or above"
    )


def _points_for(reward: Reward, points: int | None) -> int:
    """The points the redemption costs: the reward's price, or the shopper's choice for a
    variable credit (whole steps within the bounds)."""
    if reward.kind == Reward.Kind.VARIABLE_CREDIT:
        step = reward.points_per_step or 0
        low = reward.min_points or step
        high = reward.max_points or 0
        if points is None:
            raise RedemptionRefused(
                "points_invalid",
                "choose how many points to spend",
                {"points": [f"is required: {low} to {high} in steps of {step}"]},
            )
        if step <= 0 or points % step or not low <= points <= high:
            raise RedemptionRefused(
                "points_invalid",
                f"spend {low} to {high} points in steps of {step}",
                {"points": [f"must be {low} to {high} in steps of {step}"]},
            )
        return points
    cost = reward.points_cost or 0
    if points is not None and points != cost:
        raise RedemptionRefused(
            "points_invalid",
            f"this reward costs {cost} points",
            {"points": [f"must be empty or {cost}: the reward's price"]},
        )
    return cost


def _value_for(reward: Reward, points: int) -> Decimal | None:
    if reward.kind == Reward.Kind.VARIABLE_CREDIT:
        steps = points // (reward.points_per_step or 1)
        return (reward.value_per_step or Decimal(0)) * steps
    if reward.kind in MONEY_KINDS or reward.kind == Reward.Kind.PERCENTAGE:
        return reward.value
    return None  # free shipping (its value is a cap, not what was bought), product, experience


def _rules_check(*, shop: Shop, member: Member, reward: Reward, points: int | None) -> int:
    """Every rule of the catalog for this member now; returns the points it costs.
    Runs under the member's and the reward's locks."""
    if reward.kind == Reward.Kind.PUNCH_CARD or reward.grant_only:
        raise RedemptionRefused(
            "grant_only", "this reward is given (by a punch card or a tier), never bought"
        )
    moment = now()
    if (
        reward.archived_at is not None
        or not reward.active
        or (reward.active_from is not None and moment < reward.active_from)
        or (reward.active_until is not None and moment >= reward.active_until)
    ):
        raise RedemptionRefused("reward_inactive", "this reward cannot be redeemed now")
    needs_customer = (
        reward.kind in CODE_KINDS
        or reward.kind in CREDIT_KINDS
        or (reward.kind == Reward.Kind.EXPERIENCE and reward.customer_tag)
    )
    if needs_customer and not member.external_id:
        raise RedemptionRefused(
            "customer_unknown",
            "the customer has no account in the shop yet (joined with an email only)",
        )
    _tier_check(shop, member, reward)
    cost = _points_for(reward, points)
    if reward.per_customer_limit is not None:
        taken = (
            Redemption.objects.filter(reward=reward, member=member)
            .exclude(status=Status.FAILED)
            .count()
        )
        if taken >= reward.per_customer_limit:
            raise RedemptionRefused(
                "limit_reached",
                f"this reward can be redeemed {reward.per_customer_limit} time(s) per customer",
            )
    if reward.stock_remaining is not None and reward.stock_remaining <= 0:
        raise RedemptionRefused("out_of_stock", "this reward is out of stock")
    if member.points_balance < cost:
        raise RedemptionRefused(
            "insufficient_points",
            f"the balance is {member.points_balance} points; this reward costs {cost}",
        )
    return cost


def _same_request(
    redemption: Redemption, *, member: Member, reward_id: int, points: int | None
) -> bool:
    return (
        redemption.member_id == member.pk
        and redemption.reward_id == reward_id
        and (points is None or points == redemption.points)
    )


def _replayed(
    *, shop: Shop, member: Member, key: str, reward_id: int, points: int | None
) -> Redemption | None:
    first = Redemption.objects.filter(shop=shop, idempotency_key=key).first()
    if first is None:
        return None
    if not _same_request(first, member=member, reward_id=reward_id, points=points):
        raise RedemptionConflict(first)
    return first


def _created(
    *, shop: Shop, member: Member, reward: Reward, key: str, points: int, actor: str
) -> Redemption:
    """Insert the redemption, with a fresh code for a code kind (a clash with another
    code of the shop draws again; a clash on the key means a twin request won)."""
    moment = now()
    immediate = reward.kind in IMMEDIATE_KINDS
    expires_at = (
        moment + timedelta(days=reward.code_valid_days)
        if reward.kind in CODE_KINDS and reward.code_valid_days
        else None
    )
    for _ in range(CODE_TRIES):
        try:
            with (
                transaction.atomic()
            ):  # a savepoint: a clash must not spoil the debit's transaction
                return Redemption.objects.create(
                    shop=shop,
                    member=member,
                    reward=reward,
                    kind=reward.kind,
                    title=reward.title,
                    points=points,
                    value=_value_for(reward, points),
                    currency=shop.currency,
                    code=redemption_code_new() if reward.kind in CODE_KINDS else "",
                    status=Status.ISSUED if immediate else Status.PENDING,
                    expires_at=expires_at,
                    issued_at=moment if immediate else None,
                    idempotency_key=key,
                    actor=actor[:200],
                )
        except IntegrityError:
            if Redemption.objects.filter(shop=shop, idempotency_key=key).exists():
                raise _Replay from None
    raise RuntimeError(f"no free code after {CODE_TRIES} draws")


def reward_redeem(
    *,
    shop: Shop,
    member: Member,
    reward_id: int,
    idempotency_key: str,
    points: int | None = None,
    actor: str,
) -> tuple[Redemption, bool]:
    """Spend a member's points on a reward of the shop's catalog.

    Returns the redemption and True, or the first redemption made with this idempotency
    key and False (nothing more is spent). Raises ``Reward.DoesNotExist`` for a reward
    not in this shop, ``RedemptionRefused`` naming the rule that refuses it (nothing is
    written), ``RedemptionConflict`` when the key was used for another reward, member or
    number of points, and ``ValueError`` for an unusable key.

    ``points`` is the shopper's choice for a variable credit; for other kinds it may only
    repeat the reward's price.
    """
    key = idempotency_key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValueError(f"the idempotency key must be 1 to {MAX_KEY_LENGTH} printable characters")
    if member.shop_id != shop.pk:
        raise Member.DoesNotExist("no such member in this shop")
    try:
        with transaction.atomic():
            locked = Member.objects.select_for_update().get(pk=member.pk, shop=shop)
            # A replay is found here, under the member's lock: a twin request still in
            # flight is waited for, and then seen (each statement reads what is committed).
            first = _replayed(shop=shop, member=locked, key=key, reward_id=reward_id, points=points)
            if first is not None:
                return first, False
            reward = Reward.objects.get(shop=shop, pk=reward_id)
            if reward.stock_remaining is not None:
                # Only a limited stock needs the reward's lock: redemptions of one reward
                # by different members would otherwise wait for each other's commit.
                # (No key update: the redemption rows' foreign-key checks may go on.)
                reward = Reward.objects.select_for_update(no_key=True).get(pk=reward.pk)
            cost = _rules_check(shop=shop, member=locked, reward=reward, points=points)
            redemption = _created(
                shop=shop, member=locked, reward=reward, key=key, points=cost, actor=actor
            )
            if cost:
                ledger_entry_add(
                    member=locked,
                    kind=LedgerEntry.Kind.REDEMPTION,
                    points=-cost,
                    idempotency_key=f"redemption:{redemption.pk}",
                    source_type="redemption",
                    source_id=str(redemption.pk),
                    reason=f"Redeemed: {reward.title}",
                    actor=actor,
                    allow_negative_balance=False,
                )
            if reward.stock_remaining is not None:
                # Under the reward's lock; the CheckConstraint (>= 0) is the backstop.
                Reward.objects.filter(pk=reward.pk).update(stock_remaining=F("stock_remaining") - 1)
                reward.stock_remaining -= 1
            redemption.member = locked
            redemption.reward = reward
            platform_port().redemption_deliver(shop=shop, redemption=redemption)
    except _Replay:
        first = _replayed(shop=shop, member=member, key=key, reward_id=reward_id, points=points)
        assert first is not None  # noqa: S101 - the clash says it exists
        return first, False
    except InsufficientPoints as exc:  # the ledger's backstop; the check above comes first
        raise RedemptionRefused(
            "insufficient_points", f"the balance is {exc.balance} points"
        ) from exc
    member.points_balance = locked.points_balance
    return redemption, True


def _locked(shop: Shop, redemption_id: int) -> tuple[Redemption, Member]:
    """The redemption and its member under lock, in this module's order (member, reward,
    redemption). Raises ``Redemption.DoesNotExist`` for one not in ``shop``."""
    ids = (
        Redemption.objects.filter(shop=shop, pk=redemption_id)
        .values_list("member_id", "reward_id")
        .first()
    )
    if ids is None:
        raise Redemption.DoesNotExist(f"no redemption {redemption_id} in this shop")
    member = Member.objects.select_for_update().get(pk=ids[0])
    # The reward only when it counts a stock, as reward_redeem does.
    Reward.objects.select_for_update(no_key=True).filter(
        pk=ids[1], stock_remaining__isnull=False
    ).values_list("pk").first()
    redemption = Redemption.objects.select_for_update().get(pk=redemption_id)
    return redemption, member


def redemption_issued(*, shop: Shop, redemption_id: int, actor: str) -> Redemption:
    """The platform delivered the reward: the code exists in the shop, or the credit was
    given. Idempotent: an issued, used or expired redemption stays as it is.

    A redemption that had failed (points returned) and was delivered after all, when the
    merchant retried the call, is issued and its points are taken again: the code exists,
    so they were spent (the balance may go below zero, as after a refund).
    """
    with transaction.atomic():
        # The usual case needs the redemption's row only: no member or reward lock, so
        # deliveries never wait for redemptions in progress.
        redemption = Redemption.objects.select_for_update().get(shop=shop, pk=redemption_id)
        if redemption.status == Status.PENDING:
            redemption.status = Status.ISSUED
            redemption.issued_at = now()
            redemption.delivery_error = ""
            redemption.save(update_fields=["status", "issued_at", "delivery_error", "updated_at"])
            return redemption
        if redemption.status != Status.FAILED:
            return redemption
    return _issued_after_failure(shop=shop, redemption_id=redemption_id, actor=actor)


def _issued_after_failure(*, shop: Shop, redemption_id: int, actor: str) -> Redemption:
    with transaction.atomic():
        redemption, member = _locked(shop, redemption_id)
        if redemption.status != Status.FAILED:
            return redemption
        if redemption.points_returned:
            ledger_entry_add(
                member=member,
                kind=LedgerEntry.Kind.REDEMPTION,
                points=-redemption.points_returned,
                idempotency_key=f"redemption:{redemption.pk}:delivered-late",
                source_type="redemption",
                source_id=str(redemption.pk),
                reason=f"Redeemed: {redemption.title} (delivered after a retry)",
                actor=actor,
            )
            Reward.objects.filter(pk=redemption.reward_id, stock_remaining__gt=0).update(
                stock_remaining=F("stock_remaining") - 1
            )
        redemption.status = Status.ISSUED
        redemption.issued_at = now()
        redemption.points_returned = 0
        redemption.delivery_error = ""
        redemption.save(
            update_fields=["status", "issued_at", "points_returned", "delivery_error", "updated_at"]
        )
        return redemption


def redemption_fail(*, shop: Shop, redemption_id: int, reason: str, actor: str) -> Redemption:
    """The platform gave up delivering the reward: the redemption fails, its points come
    back with a ledger entry saying why (``reason``: the cause in plain words, e.g. "the
    shop refused the discount (Code is already taken)"), and its stock is returned.

    Idempotent: only a pending redemption fails; the points come back at most once (the
    entry's key is the redemption's).
    """
    with transaction.atomic():
        redemption, member = _locked(shop, redemption_id)
        if redemption.status != Status.PENDING:
            return redemption
        why = f"{NOT_DELIVERED}: {reason.strip() or 'the shop did not accept it'}"
        back = redemption.points - redemption.points_returned
        if back > 0:
            ledger_entry_add(
                member=member,
                kind=LedgerEntry.Kind.REDEMPTION_RETURN,
                points=back,
                idempotency_key=f"redemption:{redemption.pk}:returned",
                source_type="redemption",
                source_id=str(redemption.pk),
                reason=why,
                actor=actor,
            )
        # What was taken goes back; a total lowered meanwhile caps it.
        Reward.objects.filter(
            pk=redemption.reward_id,
            stock_remaining__isnull=False,
            stock_remaining__lt=F("stock_total"),
        ).update(stock_remaining=F("stock_remaining") + 1)
        redemption.status = Status.FAILED
        redemption.points_returned = redemption.points
        redemption.delivery_error = why[:2000]
        redemption.save(update_fields=["status", "points_returned", "delivery_error", "updated_at"])
        return redemption


def redemption_delivery_problem(*, shop: Shop, redemption_id: int, message: str) -> Redemption:
    """Note that a side delivery failed (an experience's customer tag was not set) without
    changing what was redeemed: the merchant sees it and fulfils the request anyway."""
    with transaction.atomic():
        redemption = Redemption.objects.select_for_update().get(shop=shop, pk=redemption_id)
        redemption.delivery_error = message[:2000]
        redemption.save(update_fields=["delivery_error", "updated_at"])
        return redemption


# --- reads --------------------------------------------------------------------------------


def redemptions_for_member(*, member: Member) -> QuerySet[Redemption]:
    """A member's redemptions, newest first."""
    return (
        Redemption.objects.filter(shop_id=member.shop_id, member=member)
        .select_related("member")
        .order_by("-id")
    )


def redemption_get(*, shop: Shop, redemption_id: object) -> Redemption | None:
    """One redemption of ``shop``; never another shop's."""
    try:
        pk = int(str(redemption_id))
    except ValueError:
        return None
    if not 0 < pk < 2**63:
        return None
    return Redemption.objects.filter(shop=shop, pk=pk).select_related("member").first()
