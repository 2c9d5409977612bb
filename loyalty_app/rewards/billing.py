"""Billing by redemption: the merchant pays when points become a reward, not when they
are earned.

Every delivered redemption records one ``UsageCharge`` (its billable value) in the
transaction that makes it delivered: ``issued`` for a code, a credit, a donation; for an
experience, when the merchant fulfils the request (a declined request costs nothing).
A periodic job (``usage_charges_record_missing``) records the charge of any delivered
redemption that has none (a delivery path that did not record it), so none is missed.

The billable value (``billable_amount``, a pure function), in the shop's currency,
rounded to cents:

- a reward with a money value (amount off, store credit, points for credit, donation):
  that value (``rule = "value"``);
- a percentage off, free shipping, a free product, an experience: the points spent at the
  shop's point value, i.e. its cheapest fixed-amount reward's value per point (the
  least a point is worth in its catalog) (``"points_at_rate"``);
- when that cannot be computed (no fixed-amount reward in the catalog, or a granted
  reward that cost no points): ``settings.LOYALTY_BILLING_FLAT_FEE`` (default 0)
  (``"flat_fee"``).

The platform is told of each charge with an amount above zero
(``redemption usage_charge_send`` of the platform port, in the same transaction, through
its outbox); when the shop has no billing set up, the charge is recorded and never sent
(``send_status = not_configured``): the development mode and the demo work this way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum

from loyalty_app.common.time import now
from loyalty_app.shops.models import Shop

from .models import Redemption, Reward, UsageCharge

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ZERO = Decimal("0")
VALUE_KINDS = frozenset({"fixed_amount", "store_credit", "variable_credit", "donation"})
# Delivered: a charge is owed (an experience only once fulfilled, see the module's doc).
DELIVERED = (
    Redemption.Status.ISSUED,
    Redemption.Status.USED,
    Redemption.Status.EXPIRED,
)
SendStatus = UsageCharge.SendStatus


def billable_amount(
    *,
    kind: str,
    value: Decimal | None,
    points: int,
    point_value: Decimal | None,
    flat_fee: Decimal,
) -> tuple[Decimal, str]:
    """The billable value of a redemption and the rule that gave it (see the module)."""
    if kind in VALUE_KINDS and value is not None:
        amount, rule = value, "value"
    elif points > 0 and point_value is not None and point_value > 0:
        amount, rule = point_value * points, "points_at_rate"
    else:
        amount, rule = flat_fee, "flat_fee"
    return max(ZERO, amount).quantize(CENT, rounding=ROUND_HALF_UP), rule


def flat_fee() -> Decimal:
    raw = getattr(settings, "LOYALTY_BILLING_FLAT_FEE", "0")
    try:
        fee = Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(
            f"LOYALTY_BILLING_FLAT_FEE must be a decimal amount, got {raw!r}"
        ) from None
    if not fee.is_finite() or fee < 0:
        raise ValueError(f"LOYALTY_BILLING_FLAT_FEE must be 0 or more, got {raw!r}")
    return fee


def shop_point_value(*, shop: Shop) -> Decimal | None:
    """What one point is worth in the shop's catalog: the lowest value per point of its
    fixed-amount rewards (archived ones left out); None when it has none."""
    rows = Reward.objects.filter(
        shop=shop,
        kind=Reward.Kind.FIXED_AMOUNT,
        archived_at__isnull=True,
        points_cost__gt=0,
        value__gt=0,
    ).values_list("value", "points_cost")
    ratios = [Decimal(value) / points for value, points in rows]
    return min(ratios) if ratios else None


def _zone(shop: Shop) -> ZoneInfo:
    try:
        return ZoneInfo(shop.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def month_of(*, shop: Shop, moment: datetime) -> str:
    """``YYYY-MM`` of ``moment`` in the shop's time zone."""
    return moment.astimezone(_zone(shop)).strftime("%Y-%m")


def _description(redemption: Redemption) -> str:
    what = redemption.title or redemption.kind
    return f"Reward redeemed: {what} (redemption {redemption.pk})"[:255]


def owes_charge(redemption: Redemption) -> bool:
    """Whether the redemption was delivered, so a charge is owed for it."""
    if redemption.kind == Reward.Kind.EXPERIENCE:
        return redemption.fulfilled_at is not None
    return redemption.status in DELIVERED


def usage_charge_record(*, redemption: Redemption) -> UsageCharge:
    """Record the charge of a delivered redemption, and hand it to the platform when
    there is something to charge and the shop's billing is set up.

    Idempotent: the second call returns the first charge (one per redemption, held by the
    one-to-one). Runs in the caller's transaction (the one that marks the redemption
    delivered) or its own; the platform's outbox records its call in the same one.
    """
    existing = UsageCharge.objects.filter(redemption=redemption).first()
    if existing is not None:
        return existing
    shop = redemption.shop
    amount, rule = billable_amount(
        kind=redemption.kind,
        value=redemption.value,
        points=redemption.points,
        point_value=shop_point_value(shop=shop),
        flat_fee=flat_fee(),
    )
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a twin that won leaves ours intact
                charge = UsageCharge.objects.create(
                    shop=shop,
                    redemption=redemption,
                    kind=redemption.kind,
                    amount=amount,
                    currency=redemption.currency or shop.currency,
                    rule=rule,
                    description=_description(redemption),
                    month=month_of(shop=shop, moment=now()),
                    send_status=SendStatus.NOT_SENT if amount <= 0 else SendStatus.NOT_CONFIGURED,
                )
        except IntegrityError:
            first = UsageCharge.objects.filter(redemption=redemption).first()
            if first is None:
                raise
            return first
        if amount > 0:
            from .redemption import platform_port

            queued = platform_port().usage_charge_send(
                shop=shop,
                charge_id=charge.pk,
                amount=charge.amount,
                currency=charge.currency,
                description=charge.description,
            )
            if queued:
                charge.send_status = SendStatus.PENDING
                charge.save(update_fields=["send_status", "updated_at"])
    logger.info(
        "usage charge %s of %s %s recorded for redemption %s (%s)",
        charge.pk,
        charge.amount,
        charge.currency,
        redemption.pk,
        charge.send_status,
        extra={"shop": shop.domain, "redemption": redemption.pk},
    )
    return charge


def usage_charge_record_if_issued(*, redemption: Redemption) -> UsageCharge | None:
    """``usage_charge_record`` when the redemption is delivered, else nothing."""
    return usage_charge_record(redemption=redemption) if owes_charge(redemption) else None


def usage_charge_sent(
    *, shop: Shop, charge_id: int, ok: bool, reference: str = "", reason: str = ""
) -> UsageCharge | None:
    """What the platform answered to a charge: ``sent`` (with its record's id) or
    ``failed`` (why). Idempotent; a charge of another shop is never touched (None)."""
    with transaction.atomic():
        charge = UsageCharge.objects.select_for_update().filter(shop=shop, pk=charge_id).first()
        if charge is None:
            return None
        charge.send_status = SendStatus.SENT if ok else SendStatus.FAILED
        charge.platform_reference = reference[:255] if ok else charge.platform_reference
        charge.send_error = "" if ok else reason[:2000]
        charge.save(update_fields=["send_status", "platform_reference", "send_error", "updated_at"])
        return charge


def usage_charges_record_missing(*, batch_size: int = 500) -> int:
    """Record the charge of every delivered redemption that has none; returns how many.

    The backstop of the delivery paths: a path that marks a redemption delivered without
    recording its charge is caught here. One short transaction per redemption, read in
    batches. Uninstalled shops are skipped (no usage can be charged to them).
    """
    missing = Q(usage_charge__isnull=True, shop__state=Shop.State.INSTALLED) & (
        (~Q(kind=Reward.Kind.EXPERIENCE) & Q(status__in=DELIVERED))
        | Q(kind=Reward.Kind.EXPERIENCE, fulfilled_at__isnull=False)
    )
    recorded = 0
    after = 0
    while True:
        ids = list(
            Redemption.objects.filter(missing, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return recorded
        for redemption_id in ids:
            with transaction.atomic():
                redemption = (
                    Redemption.objects.select_for_update()
                    .select_related("shop")
                    .filter(pk=redemption_id)
                    .first()
                )
                if redemption is not None and owes_charge(redemption):
                    before = UsageCharge.objects.filter(redemption=redemption).exists()
                    usage_charge_record(redemption=redemption)
                    recorded += int(not before)
        after = ids[-1]
        if len(ids) < batch_size:
            return recorded


# --- reads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillingSummary:
    month: str
    currency: str
    count: int
    total: Decimal
    by_kind: list[dict[str, Any]]


def billing_month_parse(value: str) -> str:
    """``YYYY-MM`` as given, checked; ``ValueError`` otherwise."""
    try:
        parsed = date.fromisoformat(f"{value.strip()}-01")
    except (ValueError, AttributeError):
        raise ValueError("month must be YYYY-MM, e.g. 2026-11") from None
    return parsed.strftime("%Y-%m")


def billing_summary(*, shop: Shop, month: str) -> BillingSummary:
    """The shop's charges of one month (``YYYY-MM``, its time zone): how many, their
    total, and both per reward kind."""
    charges = UsageCharge.objects.filter(shop=shop, month=month)
    rows = charges.values("kind").annotate(count=Count("pk"), total=Sum("amount")).order_by("kind")
    by_kind = [
        {"kind": row["kind"], "count": row["count"], "total": row["total"] or ZERO} for row in rows
    ]
    return BillingSummary(
        month=month,
        currency=shop.currency,
        count=sum(row["count"] for row in by_kind),
        total=sum((row["total"] for row in by_kind), ZERO),
        by_kind=by_kind,
    )
