"""Writes for members."""

from __future__ import annotations

from django.db import transaction

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.shops.models import Shop

from .models import Member


@transaction.atomic(savepoint=False)
def member_upsert(*, shop: Shop, customer: CustomerRef) -> Member:
    """Find or create the member for a platform customer, refreshing name and email.

    Concurrent calls for one customer create one row: the insert ignores the
    conflict on (shop, external_id) and the row is then read back.
    """
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
