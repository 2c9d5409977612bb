"""Rollups of the analytics figures, maintained incrementally (services.rollups_refresh).

They hold what the report would otherwise sum over the whole ledger and every order of a
shop: the ledger's points per local day, and each member's orders to date. They are
derived data: deleting them and running the refresh again rebuilds the same rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import models

from loyalty_app.shops.models import Shop


class RollupWatermark(models.Model):
    """How far a shop's rollups have read. One row per shop, locked by each refresh
    (``select_for_update``), so two refreshes of a shop run one after the other.

    Invariants: every ledger entry with ``id <= ledger_id`` (cash-back entry with
    ``id <= cashback_id``) and every order with
    ``updated_at <= orders_at`` (less the lag the refresh reads again) is counted in the
    rollups; ``zone`` is the time zone of the rollup days and ``version`` the layout of
    the rollups (another one rebuilds them).
    """

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="rollup_watermark")
    zone = models.CharField(max_length=64, blank=True)
    # The rollups' layout the rows were built with (services.ROLLUP_VERSION): a new
    # rollup table is filled by a full rebuild, as a new zone is.
    version = models.IntegerField(default=0)
    ledger_id = models.BigIntegerField(default=0)
    ledger_at = models.DateTimeField(null=True, blank=True)
    action_id = models.BigIntegerField(default=0)
    cashback_id = models.BigIntegerField(default=0)
    orders_at = models.DateTimeField(null=True, blank=True)
    order_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.shop_id} @ {self.refreshed_at}"


class AnalyticsDay(models.Model):
    """A shop's ledger and membership per local day (the shop's time zone).

    Points are sums of the ledger entries written that day (``created_at``), signed as the
    report shows them (issued, taken back, redeemed, expired: positive). ``members_joined``
    counts the members who became members that day: the later of their record's creation
    and their first proof of joining (a ledger entry, an action, an order with points).
    A day's row is always recomputed whole, so a rerun writes the same values.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="analytics_days")
    day = models.DateField()
    points_net = models.BigIntegerField(default=0)
    points_issued = models.BigIntegerField(default=0)
    points_taken_back = models.BigIntegerField(default=0)
    points_redeemed = models.BigIntegerField(default=0)
    points_expired = models.BigIntegerField(default=0)
    members_joined = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "day"], name="analytics_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id} {self.day}"


class CustomerStats(models.Model):
    """One member's counted orders to date and when they joined (guest orders are one
    customer each and need no row).

    Counted orders are the report's (paid, not cancelled, not fully refunded, not a test);
    ``revenue`` is their net merchandise; ``max_points_target`` is the most points one of
    them aims at (the report's proof of membership). ``joined_at``: the member's first ledger entry, action or order with points
    (null: not a member yet); ``joined_day`` is the local day the member counts from, the
    later of the record's creation and ``joined_at``. A row is always recomputed whole from the member's rows.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="customer_stats")
    member_id = models.BigIntegerField()
    member_created_at = models.DateTimeField()
    joined_at = models.DateTimeField(null=True, blank=True)
    joined_day = models.DateField(null=True, blank=True)
    orders_count = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    max_points_target = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "member_id"], name="customer_stats_unique"),
        ]
        indexes = [
            # The period's new members: index only (the join time decides who counts).
            models.Index(
                fields=["shop", "member_created_at", "joined_at"],
                name="customer_stats_created_at_join",
            ),
            models.Index(fields=["shop", "joined_day"], name="customer_stats_joined_day"),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id}/{self.member_id}"


class AnalyticsActiveDay(models.Model):
    """A shop's activity entries (points earned, or a redemption) per local day and per
    the local day of the same member's previous activity entry (``NO_PREVIOUS``: none).

    The members active in a period of whole days are then a sum: each active member has
    exactly one entry in the period whose previous entry (in ``created_at``, ``id``
    order) is before the period's first day, so ``SUM(entries) WHERE day in the period
    AND previous_day < first_day`` counts each of them once. A day's rows are always
    recomputed whole.
    """

    NO_PREVIOUS = "0001-01-01"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="analytics_active_days")
    day = models.DateField()
    previous_day = models.DateField()
    entries = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "day", "previous_day"], name="analytics_active_day_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id} {self.day} after {self.previous_day}"


class ExactNumberField(models.Field):  # type: ignore[type-arg]
    """A PostgreSQL ``numeric`` without a fixed scale: a quotient stored with every digit
    the database computed it with, so sums of it equal the report's own aggregates."""

    description = "A number of any scale"

    def db_type(self, connection: Any) -> str:
        return "numeric"


class AnalyticsOrder(models.Model):
    """One counted order (paid, not cancelled, not fully refunded, not a test) and its
    place among its customer's counted orders in (``placed_at``, order id) order.

    A member's rows are always rewritten together from the member's orders; a guest order
    is its own customer (no previous or next order). ``revenue_to_date`` and
    ``orders_to_date`` sum the customer's counted orders up to and including this one;
    ``days_between`` is ``(placed_at - first order) / 86400 s / (orders_to_date - 1)``
    computed as the report computes it (null for a first order). ``joined_day``: the local
    day of the member's ``CustomerStats.joined_at`` (null: not a member, or a guest). Days
    are local days of the shop's zone. ``AnalyticsBuyerDay`` is the sum of these rows'
    contributions (services.BUYER_CONTRIBUTIONS).
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="analytics_orders")
    order_id = models.BigIntegerField()
    member_id = models.BigIntegerField(null=True, blank=True)
    placed_at = models.DateTimeField()
    day = models.DateField()
    previous_day = models.DateField(null=True, blank=True)
    next_day = models.DateField(null=True, blank=True)
    revenue = models.DecimalField(max_digits=18, decimal_places=4)
    orders_to_date = models.IntegerField()
    revenue_to_date = models.DecimalField(max_digits=20, decimal_places=4)
    days_between = ExactNumberField(null=True, blank=True)
    joined_day = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "order_id"], name="analytics_order_unique"),
        ]
        indexes = [
            models.Index(fields=["shop", "member_id"], name="analytics_order_member"),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id}/{self.order_id}"


class AnalyticsBuyerDay(models.Model):
    """Signed sums of the customers' counted orders, keyed so that the buyers of any
    period of whole days are one sum: for the period ``[first, last]``, the rows with
    ``anchor_day >= first`` and ``day <= last`` add up to

    - ``orders``, ``revenue``, ``guest_orders``: the period's orders (their rows have
      ``day == anchor_day``, the order's day);
    - ``customers``, ``revenue_to_date``, ``days_between_sum`` / ``days_between_count``:
      one term per customer who bought in the period, that of the customer's last order
      up to ``last`` (each order adds its term on its day and takes it back on the day of
      the customer's next order, both anchored at the order's day);
    - ``repeat_customers``: one per customer with two orders or more in the period (each
      order adds one on its day and takes it back on the next order's day, anchored at
      the day of the customer's previous order);
    - ``period_days_between_sum``: per such customer, the days between the first and the
      last of its orders in the period over their number less one (each order adds, for
      each earlier order ``j`` orders back and at most ``MAX_DAYS`` before, anchored at
      that order's day, ``(its time - that one's) / j - (its time - the next one's) /
      (j - 1)``: the terms of the orders before the period's first cancel out);

    split by membership at the period's end: the member's joined day when it is after
    the anchor day (``joined_day <= last``: a member then), ``JOINED`` when the customer
    was a member by the anchor day (in every period these rows count in), ``NEVER`` for a
    guest or a customer who never joined. Invariant: each row is the sum of the
    contributions of the shop's ``AnalyticsOrder`` rows; rows that sum to nothing are
    removed.
    """

    JOINED = date(1, 1, 1)
    NEVER = date(9999, 12, 31)

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="analytics_buyer_days")
    day = models.DateField()
    anchor_day = models.DateField()
    joined_day = models.DateField()
    orders = models.BigIntegerField(default=0)
    revenue = models.DecimalField(max_digits=22, decimal_places=4, default=0)
    guest_orders = models.BigIntegerField(default=0)
    customers = models.BigIntegerField(default=0)
    revenue_to_date = models.DecimalField(max_digits=24, decimal_places=4, default=0)
    days_between_sum = ExactNumberField(default=0)
    days_between_count = models.BigIntegerField(default=0)
    repeat_customers = models.BigIntegerField(default=0)
    period_days_between_sum = ExactNumberField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "day", "anchor_day", "joined_day"],
                name="analytics_buyer_day_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "anchor_day", "day"], name="analytics_buyer_day_anchor"),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id} {self.day} from {self.anchor_day}"


class AnalyticsCashbackDay(models.Model):
    """A shop's cash-back entries per local day and currency: what was credited (positive)
    and reversed (negative, as the entries are). Cash-back entries are append-only, so a
    day changes only by new entries; a day's rows are always recomputed whole."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="analytics_cashback_days")
    day = models.DateField()
    currency = models.CharField(max_length=3)
    credited = models.DecimalField(max_digits=22, decimal_places=4, default=0)
    reversed = models.DecimalField(max_digits=22, decimal_places=4, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "day", "currency"], name="analytics_cashback_day_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id} {self.day} {self.currency}"
