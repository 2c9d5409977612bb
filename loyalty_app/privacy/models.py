"""What the platform's privacy duties left behind: data requests answered, customers
redacted, shops erased. None of these rows holds more personal data than its duty
needs (a data request keeps the answer the merchant must hand over)."""

from __future__ import annotations

from django.db import models

from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop


class DataRequest(models.Model):
    """A customer asked the merchant for their data: the loyalty part of the answer.

    Invariants: one row per (shop, platform request id), so a redelivered request finds
    the row it made; ``data`` is assembled once, in the transaction that creates the row,
    and is what the merchant reads (``status`` is ``done`` from then on). The row keeps
    the customer's id and email because the merchant must know whom the answer is for;
    it goes when the shop is erased.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="data_requests")
    request_id = models.CharField(max_length=64, help_text="the platform's data request id")
    customer_id = models.CharField(max_length=64, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "request_id"], name="data_request_unique_per_shop"
            ),
        ]
        indexes = [models.Index(fields=["shop", "-id"], name="data_request_recent")]

    def __str__(self) -> str:
        return f"data request {self.request_id} ({self.status})"


class CustomerRedaction(models.Model):
    """A customer's personal data was erased at the platform's request.

    No personal data here: the customer is named only by keyed digests of their id and
    email (``privacy.digests``), enough to recognise a redelivered request (unique
    ``request_digest`` per shop) and a late order webhook of the same customer, never
    enough to read the id or email back. ``member`` is the anonymized member whose
    ledger stayed for the merchant's accounts (null when the customer was never a
    member). ``summary`` counts what was done.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="customer_redactions")
    request_digest = models.CharField(max_length=64)
    customer_digest = models.CharField(max_length=64, blank=True)
    email_digest = models.CharField(max_length=64, blank=True)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "request_digest"], name="customer_redaction_unique_request"
            ),
        ]
        indexes = [
            models.Index(
                fields=["shop", "customer_digest"],
                name="redaction_customer",
                condition=~models.Q(customer_digest=""),
            ),
            models.Index(
                fields=["shop", "email_digest"],
                name="redaction_email",
                condition=~models.Q(email_digest=""),
            ),
        ]

    def __str__(self) -> str:
        return f"redaction {self.pk} of shop {self.shop_id}"


class ShopErasure(models.Model):
    """The platform asked for a shop's data to be erased: what was done about it.

    Outlives the shop it describes (no foreign key): it is the proof that the duty was
    carried out, with the shop's domain (the merchant's, not a customer's), the counts
    of rows deleted per table, or why nothing was deleted (the shop had been installed
    again, or was not known).
    """

    class Outcome(models.TextChoices):
        ERASED = "erased"
        SKIPPED_INSTALLED = "skipped_installed", "Skipped: installed again"
        UNKNOWN_SHOP = "unknown_shop", "Nothing held for this shop"

    domain = models.CharField(max_length=255)
    shop_pk = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=32, choices=Outcome.choices)
    deleted = models.JSONField(default=dict, blank=True, help_text="rows deleted, per table")
    requested_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["domain", "-id"], name="shop_erasure_domain")]

    def __str__(self) -> str:
        return f"{self.domain}: {self.outcome}"
