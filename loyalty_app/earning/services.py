"""Turning purchases and refunds into ledger entries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db import transaction

from loyalty_app.common.time import now
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_upsert
from loyalty_app.shops.models import Shop

from .calculation import eligible_amount, refunded_amount
from .domain import Purchase, PurchaseLine, Refund, RefundLine
from .fingerprints import email_normalized, fingerprint_hash
from .models import Campaign, Order, OrderRefund, Program
from .policies import ProgramConfig, program_from_dict
from .rules import (
    EarnRules,
    OrderContext,
    RuleLine,
    campaign_from_dict,
    order_breakdown,
    refunds_by_line,
)
from .selectors import (
    campaigns_in_force,
    program_config,
    program_in_force,
    shop_product_facts_needed,
)


def _order_lock(*, shop: Shop, external_id: str) -> Order:
    """Create the order row if missing, then lock it for the rest of the transaction.

    Every event about one order serialises on this lock, so concurrent workers
    cannot both compute a difference from the same starting point.
    """
    Order.objects.bulk_create([Order(shop=shop, external_id=external_id)], ignore_conflicts=True)
    return Order.objects.select_for_update().get(shop=shop, external_id=external_id)


def _refund_record(*, order: Order, refund: Refund) -> None:
    OrderRefund.objects.bulk_create(
        [
            OrderRefund(
                order=order,
                external_id=refund.external_id,
                amount=refunded_amount([refund]),
                lines=[
                    {"id": line.line_id, "amount": str(line.amount), "gift_card": line.gift_card}
                    for line in refund.lines
                ],
                extra_amount=refund.extra_amount,
            )
        ],
        ignore_conflicts=True,
    )


def _stored_lines(lines: tuple[PurchaseLine, ...]) -> list[dict[str, object]]:
    stored: list[dict[str, object]] = []
    for line in lines:
        row: dict[str, object] = {
            "id": line.line_id,
            "amount": str(line.amount),
            "quantity": line.quantity,
            "gift_card": line.gift_card,
            "product_id": line.product_id,
            "variant_id": line.variant_id,
            "sku": line.sku,
            "vendor": line.vendor,
        }
        # Product facts only when known: most shops' rules never need them.
        if line.product_type:
            row["product_type"] = line.product_type
        if line.tags:
            row["tags"] = list(line.tags)
        if line.collections:
            row["collections"] = list(line.collections)
        stored.append(row)
    return stored


def _rule_lines(stored: list[dict[str, Any]]) -> list[RuleLine]:
    return [
        RuleLine(
            line_id=str(line["id"]),
            amount=Decimal(line["amount"]),
            quantity=int(line.get("quantity", 1)),
            gift_card=bool(line.get("gift_card", False)),
            product_id=str(line.get("product_id", "")),
            variant_id=str(line.get("variant_id", "")),
            sku=str(line.get("sku", "")),
            vendor=str(line.get("vendor", "")),
            product_type=str(line.get("product_type", "")),
            tags=frozenset(line.get("tags", ())),
            collections=frozenset(line.get("collections", ())),
        )
        for line in stored
    ]


def _order_refunds(order: Order) -> list[Refund]:
    return [
        Refund(
            external_id=row.external_id,
            order_external_id=order.external_id,
            lines=tuple(
                RefundLine(
                    line_id=str(line["id"]),
                    amount=Decimal(line["amount"]),
                    gift_card=bool(line["gift_card"]),
                )
                for line in row.lines
            ),
            extra_amount=row.extra_amount,
        )
        for row in OrderRefund.objects.filter(order=order).only(
            "external_id", "lines", "extra_amount"
        )
    ]


def _order_reconcile(*, order: Order, actor: str) -> None:
    """Write the difference between what the order is worth and what it was given.

    Caller holds the order's row lock.
    """
    refunds = _order_refunds(order)
    order.refunded_amount = refunded_amount(refunds)
    target = 0
    # A program paused when the order was placed awards nothing for it.
    if order.member_id is not None and order.has_snapshot and _config_of(order.program_id).enabled:
        refunded_by_line, refunded_extra = refunds_by_line(refunds)
        target = order_breakdown(
            lines=_rule_lines(order.lines),
            context=OrderContext(
                placed_at=order.placed_at or order.created_at or now(),
                is_first_order=order.first_order,
                tier=order.tier or None,
                tier_multiplier=order.tier_multiplier,
                paid=order.paid,
                cancelled=order.cancelled,
                fully_refunded=order.fully_refunded,
                test=order.test,
            ),
            rules=_rules_of(order.program_id),
            campaigns=[campaign_from_dict(c) for c in order.campaigns],
            refunded_by_line=refunded_by_line,
            refunded_extra=refunded_extra,
            shipping=order.shipping_amount,
            tax=order.tax_amount,
        ).points
    order.points_target = target
    # Pending (inside the return window): nothing is spendable yet, so nothing is written;
    # a refund or cancellation meanwhile just lowers the target.
    spendable = target if order.confirmed else 0
    delta = spendable - order.points_awarded
    if delta != 0 and order.member is not None:
        order.revision += 1
        ledger_entry_add(
            member=order.member,
            kind=LedgerEntry.Kind.ORDER,
            points=delta,
            idempotency_key=f"order:{order.external_id}:r{order.revision}",
            source_type="order",
            source_id=order.external_id,
            reason=_reason(order, delta),
            actor=actor,
        )
        order.points_awarded = spendable
    order.save()
    # Cash-back before the tier: an order earns the rate of the tier held when it was placed.
    from loyalty_app.cashback.services import order_cashback_sync  # cashback imports earning

    order_cashback_sync(order=order)
    from loyalty_app.tiers.services import member_tier_after_order  # tiers imports earning

    member_tier_after_order(order=order)
    from loyalty_app.challenges.services import challenges_after_order  # imports earning

    challenges_after_order(order=order, actor=actor)
    from loyalty_app.referrals.services import referral_order_settle  # referrals imports earning

    referral_order_settle(order=order, actor=actor)


@lru_cache(maxsize=4096)
def _config_of(program_id: int | None) -> ProgramConfig:
    """A program version, parsed once per process: versions are never edited."""
    program = None if program_id is None else Program.objects.get(pk=program_id)
    return program_config(program)


def _rules_of(program_id: int | None) -> EarnRules:
    return _config_of(program_id).earn


def _reason(order: Order, delta: int) -> str:
    label = order.name or order.external_id
    if delta > 0 and order.pending_until is not None:
        return f"Purchase {label} (return window passed)"
    if delta > 0:
        return f"Purchase {label}"
    if order.cancelled:
        return f"Order {label} cancelled"
    return f"Refund on order {label}"


def _member_release(*, order: Order, actor: str) -> None:
    """Take back an order's points from the member who holds them (the order moved)."""
    if order.member is not None and order.points_awarded:
        order.revision += 1
        ledger_entry_add(
            member=order.member,
            kind=LedgerEntry.Kind.ORDER,
            points=-order.points_awarded,
            idempotency_key=f"order:{order.external_id}:r{order.revision}",
            source_type="order",
            source_id=order.external_id,
            reason=f"Order {order.name or order.external_id} moved to another customer",
            actor=actor,
        )
        order.points_awarded = 0


# No savepoint: an error aborts the caller's transaction anyway, and the savepoint
# statements cost a round trip each on the award path.
@transaction.atomic(savepoint=False)
def order_sync(*, shop: Shop, purchase: Purchase, actor: str = "") -> Order:
    """Merge a snapshot of an order into what we know and settle its points.

    Safe to call any number of times, in any order, concurrently: an older snapshot
    never overwrites a newer one, one-way flags are kept once seen, refunds are
    kept by id, and only the difference to the order's target is written.
    """
    order = _order_lock(shop=shop, external_id=purchase.external_id)
    newer = (
        not order.has_snapshot
        or order.source_updated_at is None
        or purchase.updated_at is None
        or purchase.updated_at >= order.source_updated_at
    )
    if newer:
        # A test order (the platform's "send test notification") makes nobody a member.
        customer = purchase.customer if not purchase.test else None
        member = member_upsert(shop=shop, customer=customer) if customer else None
        if order.member_id is not None and (member is None or member.pk != order.member_id):
            _member_release(order=order, actor=actor)
        order.member = member
        order.name = purchase.name or order.name
        order.currency = purchase.currency
        order.eligible_amount = eligible_amount(purchase.lines)
        order.lines = _stored_lines(purchase.lines)
        order.shipping_amount = purchase.shipping
        order.tax_amount = purchase.tax
        order.placed_at = purchase.placed_at or order.placed_at
        _fingerprints_set(order=order, purchase=purchase)
        if purchase.updated_at is not None:
            order.source_updated_at = purchase.updated_at
        if not order.has_snapshot:
            # The rules and campaigns in force when the order was placed, not when we
            # heard of it: a later change (or a late webhook) does not rewrite it.
            placed = order.placed_at or now()
            order.program = program_in_force(shop=shop, at=placed)
            pending_days = _config_of(order.program_id).pending_days
            if pending_days:
                order.pending_until = placed + timedelta(days=pending_days)
                order.confirmed = False
            order.campaigns = [c.definition for c in campaigns_in_force(shop=shop, at=placed)]
            order.tier, order.tier_multiplier = _tier_when_placed(shop=shop, member=member)
            order.first_order = member is not None and not (
                Order.objects.filter(shop=shop, member=member, has_snapshot=True, test=False)
                .exclude(pk=order.pk)
                .filter(placed_at__lt=placed)
                .exists()
            )
        order.has_snapshot = True
    order.paid = order.paid or purchase.paid
    order.cancelled = order.cancelled or purchase.cancelled
    order.fully_refunded = order.fully_refunded or purchase.fully_refunded
    order.test = order.test or purchase.test
    for refund in purchase.refunds:
        _refund_record(order=order, refund=refund)
    _pending_settle(order)
    _order_reconcile(order=order, actor=actor)
    return order


def _fingerprints_set(*, order: Order, purchase: Purchase) -> None:
    """Keep the salted hashes of the buyer's email, address and card (a later snapshot
    without one keeps the earlier), and the codes the order carried."""
    shop_id = order.shop_id
    order.email_hash = (
        fingerprint_hash(shop_id=shop_id, value=email_normalized(purchase.email))
        or order.email_hash
    )
    order.shipping_hash = (
        fingerprint_hash(shop_id=shop_id, value=purchase.shipping_fingerprint)
        or order.shipping_hash
    )
    order.payment_hash = (
        fingerprint_hash(shop_id=shop_id, value=purchase.payment_fingerprint) or order.payment_hash
    )
    if purchase.discount_codes:
        order.discount_codes = [code.casefold() for code in purchase.discount_codes]


def _tier_when_placed(*, shop: Shop, member: Member | None) -> tuple[str, Decimal]:
    """The member's VIP tier now (the order's first snapshot: when it was placed, or as
    soon as we heard of it) and that tier's earn multiplier under the definition in force."""
    if member is None:
        return "", Decimal(1)
    # Imported here: the tiers package builds on earning.
    from loyalty_app.tiers.selectors import member_tier_name, tier_program_current_config

    tier = member_tier_name(shop=shop, member=member)
    if not tier:
        return "", Decimal(1)
    return tier, tier_program_current_config(shop=shop).earn_multiplier(tier)


def _pending_settle(order: Order) -> None:
    """Confirm an order whose return window is over (a late event, or the job's turn)."""
    if not order.confirmed and order.pending_until is not None and order.pending_until <= now():
        order.confirmed = True


@transaction.atomic(savepoint=False)
def order_refund_record(*, shop: Shop, refund: Refund, actor: str = "") -> Order:
    """Record a refund and take back the points of what was refunded.

    A refund for an order we have not seen yet is kept; the order's points are
    computed net of it when the order arrives.
    """
    order = _order_lock(shop=shop, external_id=refund.order_external_id)
    _refund_record(order=order, refund=refund)
    _pending_settle(order)
    _order_reconcile(order=order, actor=actor)
    return order


@transaction.atomic(savepoint=False)
def order_confirm(*, order_id: int, actor: str = "pending-window") -> Order | None:
    """Make a pending order's points spendable once its return window is over.

    Idempotent: an order already confirmed (or not yet due) is left as it is.
    """
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None or order.confirmed:
        return order
    _pending_settle(order)
    if order.confirmed:
        _order_reconcile(order=order, actor=actor)
    return order


def orders_confirm_due(*, batch_size: int = 500) -> int:
    """Confirm every order whose return window has passed; returns how many.

    Each order in its own short transaction, so the job never holds many locks and a
    crash midway loses nothing (the rest are still due next time). An uninstalled
    shop's orders wait: they are confirmed by the first run after a re-install.
    """
    confirmed = 0
    while True:
        due = list(
            Order.objects.filter(
                confirmed=False, pending_until__lte=now(), shop__state=Shop.State.INSTALLED
            )
            .order_by("pending_until", "pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not due:
            return confirmed
        for order_id in due:
            order = order_confirm(order_id=order_id)
            confirmed += int(order is not None and order.confirmed)
        if len(due) < batch_size:
            return confirmed


def program_update(*, shop: Shop, data: object, actor: str) -> tuple[Program, bool]:
    """Validate a shop's new earning rules and store them as a new version.

    Raises ``rules.RulesError`` naming the field. Saving the rules already in force
    creates nothing (returns the current version and False), so a retried request
    is harmless. Versions are numbered under the shop's row lock.
    """
    canonical = program_from_dict(data).to_dict()
    with transaction.atomic():
        Shop.objects.select_for_update().only("id").get(pk=shop.pk)
        current = Program.objects.filter(shop=shop).order_by("-version").first()
        if current is not None and current.rules == canonical:
            return current, False
        program = Program.objects.create(
            shop=shop,
            version=(current.version + 1) if current else 1,
            rules=canonical,
            created_by=actor[:200],
        )
        _product_facts_flag_refresh(shop)
    return program, True


def _product_facts_flag_refresh(shop: Shop) -> None:
    """Keep ``Shop.uses_product_facts`` in step with the versions and campaigns."""
    needed = shop_product_facts_needed(shop=shop)
    if needed != shop.uses_product_facts:
        Shop.objects.filter(pk=shop.pk).update(uses_product_facts=needed)
        shop.uses_product_facts = needed


def campaign_save(*, shop: Shop, data: object, campaign: Campaign | None = None) -> Campaign:
    """Create a campaign, or replace an existing one's definition. Times without a UTC
    offset are the shop's wall-clock time. Raises ``rules.RulesError`` naming the field."""
    parsed = campaign_from_dict(data, tz_name=shop.timezone or "UTC")
    definition = parsed.to_dict()
    with transaction.atomic():
        if campaign is None:
            campaign = Campaign(shop=shop)
        campaign.definition = definition
        campaign.starts_at = parsed.starts_at
        campaign.ends_at = parsed.ends_at
        campaign.save()
        if not definition.get("id"):
            campaign.definition = {**definition, "id": str(campaign.pk)}
            campaign.save(update_fields=["definition"])
        _product_facts_flag_refresh(shop)
    return campaign


def campaign_delete(*, campaign: Campaign) -> None:
    """Orders placed while it ran keep their copy of it (and their product facts: the
    shop keeps looking them up while any order may still need them)."""
    campaign.delete()
