from __future__ import annotations

from django.db.models import QuerySet, Sum

from loyalty_app.members.models import Member

from .models import LedgerEntry


def ledger_entries_for_member(*, member: Member) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(shop_id=member.shop_id, member=member).order_by("-id")


def ledger_balance(*, member: Member) -> int:
    """The balance as the ledger says it: the truth the cached balance must equal."""
    total = LedgerEntry.objects.filter(member=member).aggregate(total=Sum("points"))["total"]
    return int(total or 0)
