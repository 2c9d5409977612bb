"""Punch cards: "buy N, get one". A ``punch_card`` reward counts, per member, the units
of a product (or of a collection's products) in their orders; each time the count
reaches another N the member is granted the card's ``punch_reward`` (``reward_grant``).

The count is a function of the member's orders as they are now (``punch_units``), so
it can be computed again at any time, in any order of events, and gives the same answer:

- an order counts when it is paid, confirmed (past the program's return window), not
  cancelled, not fully refunded and not a test, and was placed while the card counts:
  from the minute the card was created (or its ``active_from``, if later) until its
  ``active_until``;
- a line counts its quantity when its product id is the card's product, or when one of
  the collections stored with the line (the product facts of the order: id, handle and
  title) is the card's collection (ids compared by their number, so ``123`` and
  ``gid://shopify/Collection/123`` are one);
- a refund takes its units back: the refunded quantity where the refund says it, else
  the refunded amount divided by the line's price per unit, rounded (at least one unit).

Fills are granted once each: the n-th fill's grant has the key
``punch:<card>:<member>:<n>``, and is given when the count reaches n x N. A refund after
a fill does not take the granted reward back (it was delivered: a code, a credit); the
units refunded are missing from the next card instead, whose progress shows
``count - fills x N`` (never below 0).

``punch_cards_evaluate`` runs on the order path (after the order's points are settled,
in the same transaction) and from a periodic sweep of recently changed orders (the
return-window job confirms orders outside any webhook). It locks the member row first,
so two orders of one member processed at once are counted one after the other and the
second sees the first (no fill is lost, none is granted twice).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from loyalty_app.common.time import now
from loyalty_app.earning.models import Order, OrderRefund
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

from .lifecycle import Grant, reward_grant
from .models import Redemption, Reward

logger = logging.getLogger(__name__)

# The sweep looks at orders changed this recently (it runs more often than this).
SWEEP_WINDOW = timedelta(hours=2)


def grant_key(card_id: int, member_id: int, fill: int) -> str:
    return f"punch:{card_id}:{member_id}:{fill}"


def _id(value: object) -> str:
    """An id as compared: the number of a global id, trimmed, without regard to case."""
    return str(value or "").strip().rsplit("/", 1)[-1].casefold()


def _decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def line_qualifies(line: Mapping[str, Any], *, target: str, target_id: str) -> bool:
    """Whether an order line (as stored with the order) is of the card's product or
    collection."""
    if line.get("gift_card"):
        return False
    wanted = _id(target_id)
    if not wanted:
        return False
    if target == Reward.PunchTarget.PRODUCT:
        return _id(line.get("product_id")) == wanted
    return any(_id(name) == wanted for name in line.get("collections") or ())


def line_units(
    line: Mapping[str, Any], *, refunded_amount: Decimal, refunded_quantity: int | None
) -> int:
    """The units of a line still bought after its refunds (see the module's doc)."""
    try:
        quantity = int(line.get("quantity") or 0)
    except (TypeError, ValueError):
        return 0
    if quantity <= 0:
        return 0
    if refunded_quantity is not None:
        return max(0, quantity - refunded_quantity)
    if refunded_amount <= 0:
        return quantity
    amount = _decimal(line.get("amount"))
    if amount <= 0:
        return 0  # a free line that was refunded: nothing can tell how much is left
    back = (refunded_amount * quantity / amount).to_integral_value(rounding=ROUND_HALF_UP)
    return quantity - min(quantity, max(1, int(back)))


def order_units(
    lines: Iterable[Mapping[str, Any]],
    refunds: Iterable[Iterable[Mapping[str, Any]]],
    *,
    target: str,
    target_id: str,
) -> int:
    """The card's units in one order: its qualifying lines less what was refunded.
    ``refunds`` holds each refund's lines (``id``, ``amount``, maybe ``quantity``)."""
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    quantities: dict[str, int] = {}
    for refund_lines in refunds:
        for refunded in refund_lines:
            line_id = str(refunded.get("id") or "")
            amounts[line_id] += _decimal(refunded.get("amount"))
            if refunded.get("quantity") is not None:
                quantities[line_id] = quantities.get(line_id, 0) + int(refunded["quantity"])
    return sum(
        line_units(
            line,
            refunded_amount=amounts.get(str(line.get("id")), Decimal(0)),
            refunded_quantity=quantities.get(str(line.get("id"))),
        )
        for line in lines
        if line_qualifies(line, target=target, target_id=target_id)
    )


# --- reads --------------------------------------------------------------------------------


def punch_cards_live(*, shop: Shop) -> QuerySet[Reward]:
    """The shop's punch cards that count and grant: active, not archived, with a reward
    to grant."""
    return Reward.objects.filter(
        shop=shop,
        kind=Reward.Kind.PUNCH_CARD,
        archived_at__isnull=True,
        active=True,
        punch_reward__isnull=False,
        punch_count__gte=1,
    ).order_by("position", "pk")


def punch_cards_need_collections(*, shop: Shop) -> bool:
    """Whether a live card counts a collection: the order's lines then need their
    collections (product facts) even when no earning rule uses them."""
    return punch_cards_live(shop=shop).filter(punch_target=Reward.PunchTarget.COLLECTION).exists()


def _counting_since(card: Reward) -> datetime:
    # From the minute of creation: an order's time has whole seconds, and one placed in
    # the same minute as the card was placed under it.
    start = card.created_at.replace(second=0, microsecond=0)
    return max(start, card.active_from) if card.active_from else start


def punch_units(*, card: Reward, member: Member) -> int:
    """The member's units of the card, from their orders as they are now."""
    window = Q(placed_at__gte=_counting_since(card))
    if card.active_until is not None:
        window &= Q(placed_at__lt=card.active_until)
    orders = list(
        Order.objects.filter(
            window,
            shop_id=card.shop_id,
            member=member,
            has_snapshot=True,
            paid=True,
            confirmed=True,
            cancelled=False,
            fully_refunded=False,
            test=False,
        ).values_list("pk", "lines")
    )
    if not orders:
        return 0
    refunds: dict[int, list[list[dict[str, Any]]]] = defaultdict(list)
    for order_id, lines in OrderRefund.objects.filter(
        order_id__in=[pk for pk, _ in orders]
    ).values_list("order_id", "lines"):
        refunds[order_id].append(lines or [])
    return sum(
        order_units(
            lines or [],
            refunds.get(order_id, []),
            target=card.punch_target,
            target_id=card.punch_target_id,
        )
        for order_id, lines in orders
    )


def _fills_granted(card: Reward, member: Member) -> set[int]:
    prefix = f"punch:{card.pk}:{member.pk}:"
    keys = Redemption.objects.filter(
        shop_id=card.shop_id, member=member, idempotency_key__startswith=prefix
    ).values_list("idempotency_key", flat=True)
    return {int(key[len(prefix) :]) for key in keys if key[len(prefix) :].isdigit()}


@dataclass(frozen=True)
class PunchProgress:
    card: Reward
    units: int
    fills: int
    count: int


def punch_cards_progress(*, shop: Shop, member: Member) -> list[PunchProgress]:
    """The member's progress on each live card of the shop."""
    progress = []
    for card in punch_cards_live(shop=shop):
        units = punch_units(card=card, member=member)
        fills = len(_fills_granted(card, member))
        size = card.punch_count or 1
        progress.append(
            PunchProgress(card=card, units=units, fills=fills, count=max(0, units - fills * size))
        )
    return progress


# --- writes -------------------------------------------------------------------------------


def punch_cards_evaluate(*, shop: Shop, member: Member, actor: str = "") -> list[Grant]:
    """Grant the member every fill of the shop's live cards their orders have reached and
    that was not granted yet; returns the grants made now. Idempotent, and safe to run
    concurrently for one member (the member's row lock orders the runs)."""
    cards = list(punch_cards_live(shop=shop))
    if not cards or member.shop_id != shop.pk:
        return []
    made: list[Grant] = []
    with transaction.atomic():
        locked = Member.objects.select_for_update().get(pk=member.pk)
        for card in cards:
            size = card.punch_count or 1
            fills = punch_units(card=card, member=locked) // size
            if not fills:
                continue
            granted = _fills_granted(card, locked)
            for fill in range(1, fills + 1):
                if fill in granted or card.punch_reward_id is None:
                    continue
                try:
                    grant = reward_grant(
                        shop=shop,
                        member=locked,
                        reward_id=card.punch_reward_id,
                        reason=f"Punch card '{card.title}' full ({fill})",
                        key=grant_key(card.pk, locked.pk, fill),
                    )
                except Reward.DoesNotExist:
                    # Archived meanwhile (the catalog refuses that while a card grants
                    # it, so only a race gets here): the fill is granted once it is
                    # given a reward again.
                    logger.warning(
                        "punch card %s: reward %s cannot be granted",
                        card.pk,
                        card.punch_reward_id,
                        extra={"shop": shop.domain},
                    )
                    break
                if grant.created:
                    made.append(grant)
    return made


def punch_cards_sweep(*, window: timedelta = SWEEP_WINDOW, limit: int = 5000) -> int:
    """Evaluate the cards of members whose orders changed recently (an order confirmed
    by the return-window job, outside any webhook); returns the grants made."""
    since = now() - window
    pairs = list(
        Order.objects.filter(
            updated_at__gte=since,
            member__isnull=False,
            shop__state=Shop.State.INSTALLED,
            shop__rewards__kind=Reward.Kind.PUNCH_CARD,
            shop__rewards__archived_at__isnull=True,
        )
        .values_list("shop_id", "member_id")
        .distinct()
        .order_by("shop_id", "member_id")[:limit]
    )
    made = 0
    shops: dict[int, Shop] = {}
    for shop_id, member_id in pairs:
        shop = shops.get(shop_id) or Shop.objects.get(pk=shop_id)
        shops[shop_id] = shop
        member = Member.objects.filter(pk=member_id, shop=shop).first()
        if member is not None:
            made += len(punch_cards_evaluate(shop=shop, member=member, actor="punch-card-sweep"))
    return made
