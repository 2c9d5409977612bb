"""Writes for members."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Lower

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.shops.models import Shop

from .models import Member, MemberEvent


@transaction.atomic(savepoint=False)
def member_upsert(*, shop: Shop, customer: CustomerRef) -> Member:
    """Find or create the member for a platform customer, refreshing name and email.

    A member who joined with just this email (no customer id yet) is claimed: the row
    gets the customer id and keeps its points. Concurrent calls for one customer
    create one row: the insert ignores the conflict on (shop, external_id) and the
    row is then read back.
    """
    member = Member.objects.filter(shop=shop, external_id=customer.external_id).first()
    if member is None and customer.email:
        member = _email_only_claim(shop=shop, customer=customer)
    if member is None:
        Member.objects.bulk_create(
            [
                Member(
                    shop=shop,
                    external_id=customer.external_id,
                    email=customer.email,
                    first_name=customer.first_name,
                    last_name=customer.last_name,
                )
            ],
            ignore_conflicts=True,
        )
        member = Member.objects.get(shop=shop, external_id=customer.external_id)
    changes = {
        field: value
        for field, value in (
            ("email", customer.email),
            ("first_name", customer.first_name),
            ("last_name", customer.last_name),
        )
        if value and getattr(member, field) != value
    }
    if changes:
        Member.objects.filter(pk=member.pk).update(**changes)
        for field, value in changes.items():
            setattr(member, field, value)
    return member


def _email_only_claim(*, shop: Shop, customer: CustomerRef) -> Member | None:
    """Give the email-only member with this email the customer id, if there is one."""
    candidate = (
        Member.objects.select_for_update()
        .annotate(email_lower=Lower("email"))
        .filter(shop=shop, external_id__isnull=True, email_lower=customer.email.lower())
        .first()
    )
    if candidate is None:
        return None
    try:
        with transaction.atomic():
            Member.objects.filter(pk=candidate.pk).update(external_id=customer.external_id)
    except IntegrityError:
        # The customer got a row of their own meanwhile; the email-only row stays.
        return None
    candidate.external_id = customer.external_id
    return candidate


def member_join_by_email(*, shop: Shop, email: str) -> tuple[Member, bool]:
    """The member with this email (a customer's, or an email-only one), creating an
    email-only member if there is none. Returns (member, created).

    Idempotent under concurrency: the email-only unique constraint lets one insert win.
    """
    email = email.strip()
    if not email:
        raise ValueError("an email is required")
    existing = (
        Member.objects.annotate(email_lower=Lower("email"))
        .filter(shop=shop, email_lower=email.lower())
        .order_by(F("external_id").asc(nulls_last=True), "pk")  # a customer's row first
        .first()
    )
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Member.objects.create(shop=shop, external_id=None, email=email), True
    except IntegrityError:  # a concurrent join with the same email won
        member = (
            Member.objects.annotate(email_lower=Lower("email"))
            .filter(shop=shop, external_id__isnull=True, email_lower=email.lower())
            .get()
        )
        return member, False


def member_birthday_set(*, member: Member, month: int, day: int) -> Member:
    """Record a member's birthday (month and day; the year is never needed)."""
    if not (1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]):
        raise ValueError("not a valid day of the year")
    Member.objects.filter(pk=member.pk).update(birthday_month=month, birthday_day=day)
    member.birthday_month, member.birthday_day = month, day
    return member


_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def member_event_add(
    *, member: Member, kind: str, key: str, data: dict[str, Any] | None = None
) -> bool:
    """Record an event for ``member`` once: a second call with the same key writes
    nothing. Returns whether it was written."""
    try:
        with transaction.atomic():
            MemberEvent.objects.create(
                shop_id=member.shop_id, member=member, kind=kind, key=key, data=data or {}
            )
    except IntegrityError:
        return False
    return True
