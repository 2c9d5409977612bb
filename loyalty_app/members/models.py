from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from loyalty_app.shops.models import Shop


class Member(models.Model):
    """A shop's customer in the loyalty program.

    ``points_balance`` is a cache of the sum of the member's ledger entries. It is
    changed only by ``ledger.services.ledger_entry_add``, under this row's lock and
    in the same transaction as the entry, so it always equals the ledger sum.
    It can be negative: a refund may take back points that were already spent.

    ``external_id`` is the platform's customer id. A member who joined with just an
    email (or was imported by email) has none yet; the first order or customer
    event with that email claims the row, so their points follow them.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="members")
    # NULL, not "": members without a customer id must not collide on the unique key.
    external_id = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, help_text="the platform's customer id"
    )
    email = models.EmailField(max_length=254, blank=True)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    points_balance = models.BigIntegerField(default=0)
    birthday_month = models.PositiveSmallIntegerField(null=True, blank=True)
    birthday_day = models.PositiveSmallIntegerField(null=True, blank=True)
    imported_tier = models.CharField(
        max_length=100, blank=True, help_text="tier carried over from another loyalty app"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="member_unique_per_shop"),
            models.UniqueConstraint(
                "shop",
                Lower("email"),
                condition=models.Q(external_id__isnull=True),
                name="member_email_only_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(external_id__isnull=False) | ~models.Q(email=""),
                name="member_has_customer_id_or_email",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(birthday_month__isnull=True, birthday_day__isnull=True)
                    | models.Q(
                        birthday_month__gte=1,
                        birthday_month__lte=12,
                        birthday_day__gte=1,
                        birthday_day__lte=31,
                    )
                ),
                name="member_birthday_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "email"], name="member_shop_email"),
            # Emails are compared without regard to case (joining, claiming, imports).
            models.Index("shop", Lower("email"), name="member_shop_email_lower"),
            # The merchant admin's customer search: names by their start, without regard
            # to case (a range on these indexes, so any collation serves it).
            models.Index("shop", Lower("first_name"), name="member_shop_first_lower"),
            models.Index("shop", Lower("last_name"), name="member_shop_last_lower"),
            models.Index(fields=["shop", "birthday_month", "birthday_day"], name="member_birthday"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id or 'no customer id'} ({self.email or 'no email'})"


class MemberEvent(models.Model):
    """Something that happened to a member that shoppers may be told about (points about
    to expire, points expired, a tier change...). Written once per fact: ``key`` is
    unique per shop, so a job that runs twice records nothing new. A notification layer
    reads these in ``id`` order and marks what it sent in ``delivered_at``.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="member_events")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=64)
    key = models.CharField(max_length=200)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "key"], name="member_event_key_unique"),
        ]
        indexes = [models.Index(fields=["shop", "kind", "-id"], name="member_event_recent")]

    def __str__(self) -> str:
        return f"{self.kind} for member {self.member_id}"
