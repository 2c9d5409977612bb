"""Cash-back: the ledger's writes and the deliveries to the shop.

Lock order, everywhere: the order row (held by the caller of ``order_cashback_sync``), then
the member's ``CashbackAccount`` row, then that member's ``CashbackDelivery`` rows. The
platform is never called here: a delivery is handed to the platform's outbox inside the
same transaction and performed after commit (``settings.LOYALTY_PLATFORM_PORT``'s
``cashback_deliver``), whose outcome comes back through ``cashback_delivery_settle``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from decimal import Decimal
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import transaction

from loyalty_app.common.time import now
from loyalty_app.earning.models import Order
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.models import TierProgram
from loyalty_app.tiers.policies import TierProgramConfig
from loyalty_app.tiers.selectors import member_tier_name, tier_program_config

from .models import CashbackAccount, CashbackDelivery, CashbackEntry, CashbackOrder, Delivery
from .policies import (
    ZERO,
    OrderState,
    credit_split,
    money_quantum,
    order_cashback_target,
)

logger = logging.getLogger(__name__)

Operation = CashbackDelivery.Operation
Status = CashbackDelivery.Status
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a till


def _port() -> Any:
    return import_module(settings.LOYALTY_PLATFORM_PORT)


# --- the ledger ---------------------------------------------------------------------------


def _definition_in_force(
    *, shop: Shop, at: datetime
) -> tuple[TierProgram | None, TierProgramConfig]:
    """The tiers and cash-back definition that was current at ``at`` (as earning does with
    its program versions): a definition saved after the order was placed does not apply."""
    program = TierProgram.objects.filter(shop=shop, created_at__lte=at).order_by("-version").first()
    return program, tier_program_config(program)


def _member_tier(*, shop: Shop, member: Member, config: TierProgramConfig) -> str:
    """The tier the member holds now (the tier evaluation's decision), if ``config`` has it.

    Called when the order is first computed, which is when its first event arrives, so
    before the order itself can have moved the member up: the order earns the rate of the
    tier the member held when placing it.
    """
    if not config.tiers:
        return ""
    tier = config.tier(member_tier_name(shop=shop, member=member))
    return tier.name if tier is not None else ""


def _rate(*, state: CashbackOrder, order: Order, member: Member) -> bool:
    """Record on ``state`` the rate of ``member``'s tier under the definition in force when
    the order was placed. False when cash-back was off then: nothing is recorded, and the
    answer cannot change (the definition in force at a past moment is fixed)."""
    placed = order.placed_at or order.created_at or now()
    program, config = _definition_in_force(shop=order.shop, at=placed)
    if not config.cashback.enabled:
        return False
    tier = _member_tier(shop=order.shop, member=member, config=config)
    state.member = member
    state.rate = config.cashback_rate(tier)
    state.tier_name = tier
    state.tier_program_version = program.version if program else None
    state.delivery = config.cashback.delivery
    state.currency = (order.currency or order.shop.currency or "USD").upper()
    return True


def _entry_add(
    *, state: CashbackOrder, member: Member, order: Order, amount: Decimal, reason: str
) -> CashbackEntry:
    state.revision += 1
    entry = CashbackEntry.objects.create(
        shop_id=state.shop_id,
        member=member,
        order_external_id=order.external_id,
        kind=CashbackEntry.Kind.CREDIT if amount > 0 else CashbackEntry.Kind.REVERSAL,
        amount=amount,
        currency=state.currency,
        rate=state.rate,
        tier_name=state.tier_name,
        # The revision moves only under the order's lock: one key per change of the order.
        idempotency_key=f"cashback:{order.external_id}:r{state.revision}",
        reason=reason[:500],
    )
    state.credited += amount
    _deliver(entry=entry, member=member, delivery=state.delivery)
    return entry


def _reason(order: Order, amount: Decimal, state: CashbackOrder) -> str:
    label = order.name or order.external_id
    if amount > 0:
        return f"Cash-back {state.rate.normalize():f}% on order {label}"
    if order.cancelled:
        return f"Order {label} cancelled"
    return f"Refund on order {label}"


def order_cashback_sync(*, order: Order) -> CashbackEntry | None:
    """Bring an order's cash-back to what the order is worth now; write only the difference.

    The caller holds the order's row lock and has just settled its points
    (``earning.services._order_reconcile``). The target is the order's net merchandise
    (after refunds; gift cards, shipping and tax excluded) times the rate recorded when it
    was first computed, once the order is confirmed (past the return window); before that
    nothing is owed. Any number of calls, in any order, write each change once: a
    duplicate or replayed event finds the target already reached. Returns the entry
    written last, if any.
    """
    member = order.member if order.member_id is not None else None
    state = CashbackOrder.objects.filter(order=order).select_related("member").first()
    written: CashbackEntry | None = None
    if state is None:
        if member is None or not order.has_snapshot:
            return None
        state = CashbackOrder(shop_id=order.shop_id, order=order)
        if not _rate(state=state, order=order, member=member):
            return None
    elif state.member_id != order.member_id:
        # The order moved to another customer (or lost its customer): the first one gives
        # back all of it, and the order is rated afresh for the next one.
        if state.credited and state.member is not None:
            written = _entry_add(
                state=state,
                member=state.member,
                order=order,
                amount=-state.credited,
                reason=f"Order {order.name or order.external_id} moved to another customer",
            )
        state.member = None
        if member is not None:
            _rate(state=state, order=order, member=member)
    if member is not None and state.member_id == member.pk:
        target = order_cashback_target(
            state=OrderState(
                eligible=order.eligible_amount,
                refunded=order.refunded_amount,
                paid=order.paid,
                cancelled=order.cancelled,
                fully_refunded=order.fully_refunded,
                test=order.test,
                confirmed=order.confirmed,
            ),
            rate=state.rate,
            currency=state.currency,
        )
        delta = target - state.credited
        if delta:
            written = _entry_add(
                state=state,
                member=member,
                order=order,
                amount=delta,
                reason=_reason(order, delta, state),
            )
    state.save()
    return written


# --- deliveries -----------------------------------------------------------------------------


def _account_lock(*, member: Member, currency: str) -> CashbackAccount:
    CashbackAccount.objects.bulk_create(
        [CashbackAccount(shop_id=member.shop_id, member=member, currency=currency)],
        ignore_conflicts=True,
    )
    return CashbackAccount.objects.select_for_update().get(member=member, currency=currency)


def _debt_repay(*, account: CashbackAccount, amount: Decimal) -> None:
    """Repay ``amount`` of the account's debt, oldest debt first."""
    left = amount
    debts = CashbackDelivery.objects.select_for_update().filter(
        member_id=account.member_id, currency=account.currency, outstanding__gt=0
    )
    for debt in debts.order_by("pk"):
        if left <= 0:
            break
        taken = min(left, debt.outstanding)
        debt.outstanding -= taken
        debt.save(update_fields=["outstanding", "updated_at"])
        left -= taken
    account.debt -= amount - left
    account.save(update_fields=["debt", "updated_at"])


def _debt_add(*, account: CashbackAccount, delivery: CashbackDelivery, reason: str) -> None:
    delivery.status = Status.DEBT
    delivery.outstanding = delivery.amount
    delivery.last_error = reason[:2000]
    delivery.save(update_fields=["status", "outstanding", "last_error", "updated_at"])
    account.debt += delivery.amount
    account.save(update_fields=["debt", "updated_at"])


def _code() -> str:
    return "CASHBACK-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def _fail(delivery: CashbackDelivery, reason: str) -> None:
    delivery.status = Status.FAILED
    delivery.last_error = reason[:2000]
    delivery.save(update_fields=["status", "last_error", "updated_at"])


def _send(delivery: CashbackDelivery, *, member: Member) -> None:
    """Hand the delivery to the platform's outbox, in the caller's transaction.

    A delivery the platform cannot take (a member known only by email, or one whose
    customer id was redacted) is recorded as failed with the reason; the entry stands, so
    the order's events keep being processed.
    """
    if not member.external_id:
        _fail(delivery, "the customer has no id in the shop")
        return
    try:
        _port().cashback_deliver(
            shop=delivery.shop,
            key=delivery.key,
            customer_id=member.external_id,
            operation=delivery.operation,
            amount=delivery.amount,
            currency=delivery.currency,
            code=delivery.code,
        )
    except ValueError as exc:  # refused before anything was recorded
        _fail(delivery, f"the shop cannot take this delivery: {exc}")


def _deliver(*, entry: CashbackEntry, member: Member, delivery: str) -> CashbackDelivery:
    """Plan and record the delivery of an entry (see ``CashbackDelivery``)."""
    account = _account_lock(member=member, currency=entry.currency)
    row = CashbackDelivery(
        shop_id=entry.shop_id,
        member=member,
        entry=entry,
        currency=entry.currency,
        key=entry.idempotency_key,
    )
    if entry.amount > 0:
        split = credit_split(amount=entry.amount, debt=account.debt)
        if split.repaid:
            _debt_repay(account=account, amount=split.repaid)
        row.repaid = split.repaid
        row.amount = split.sent
        if delivery == Delivery.DISCOUNT_CODE:
            row.operation, row.code = Operation.DISCOUNT_CODE, _code()
        else:
            row.operation = Operation.CREDIT
        row.status = Status.PENDING if split.sent else Status.SETTLED
        row.save()
        if split.sent:
            _send(row, member=member)
        return row
    row.amount = -entry.amount
    if delivery == Delivery.DISCOUNT_CODE:
        # A code cannot be taken back from a shopper (the shop may not even know whether it
        # was used): the reversal is kept as debt that the next credits repay.
        row.operation, row.status = Operation.DEBT, Status.PENDING
        row.save()
        _debt_add(account=account, delivery=row, reason="a discount code cannot be taken back")
        return row
    row.operation, row.status = Operation.DEBIT, Status.PENDING
    row.save()
    _send(row, member=member)
    return row


@transaction.atomic
def cashback_delivery_settle(
    *, shop: Shop, key: str, ok: bool, reason: str = "", reference: str = ""
) -> CashbackDelivery | None:
    """Record the platform's final answer to a delivery (the outbox's result hook).

    - A credit or code that went through is ``delivered``; one given up is ``failed``,
      visible with the reason and sent again when the merchant retries the call (its
      answer comes back here).
    - A debit that went through is ``delivered``. One given up (the shopper had spent the
      credit: insufficient funds; or the shop kept refusing it) becomes debt that the
      member's next credits repay. If the merchant retries it by hand and it goes through
      after all, the debt is cancelled and what later credits had already repaid of it is
      given back as store credit.

    Idempotent: an answer already recorded changes nothing. Returns the delivery (None for
    an unknown key).
    """
    found = (
        CashbackDelivery.objects.filter(shop=shop, key=key).values("member_id", "currency").first()
    )
    if found is None:
        logger.warning("cash-back delivery %s of %s not found", key, shop.domain)
        return None
    member = Member.objects.get(pk=found["member_id"])
    account = _account_lock(member=member, currency=found["currency"])
    delivery = CashbackDelivery.objects.select_for_update().get(shop=shop, key=key)
    done = (Status.DELIVERED, Status.SETTLED)
    if delivery.status in done:
        return delivery
    if ok:
        if delivery.status == Status.DEBT:
            _debt_cancel(account=account, delivery=delivery, member=member)
        delivery.status = Status.DELIVERED
        delivery.reference = reference[:255]
        delivery.last_error = ""
        delivery.save(update_fields=["status", "reference", "last_error", "updated_at"])
        return delivery
    if delivery.operation == Operation.DEBIT:
        if delivery.status != Status.DEBT:
            _debt_add(account=account, delivery=delivery, reason=reason)
        return delivery
    _fail(delivery, reason)
    logger.warning(
        "cash-back delivery %s of %s failed: %s",
        key,
        shop.domain,
        reason,
        extra={"shop": shop.domain, "delivery": delivery.pk},
    )
    return delivery


def _debt_cancel(*, account: CashbackAccount, delivery: CashbackDelivery, member: Member) -> None:
    """A debit kept as debt went through after all: its outstanding part is no longer
    owed, and the part later credits repaid was taken twice, so it goes back."""
    outstanding = delivery.outstanding
    account.debt -= outstanding
    account.save(update_fields=["debt", "updated_at"])
    delivery.outstanding = ZERO
    delivery.save(update_fields=["outstanding", "updated_at"])
    taken_twice = delivery.amount - outstanding
    if taken_twice > 0:
        back = CashbackDelivery.objects.create(
            shop_id=delivery.shop_id,
            member=member,
            operation=Operation.RETURN,
            status=Status.PENDING,
            currency=delivery.currency,
            amount=taken_twice.quantize(money_quantum(delivery.currency)),
            key=f"{delivery.key}:return",
        )
        _send(back, member=member)
