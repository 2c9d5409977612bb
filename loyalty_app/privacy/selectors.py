"""Reads for the privacy duties: whom a request is about, and everything we hold on them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Lower

from loyalty_app.bulk_actions.models import BulkAward
from loyalty_app.challenges.selectors import member_challenges_data
from loyalty_app.earning.models import ActionEvent, Order
from loyalty_app.earning.selectors import member_points_pending
from loyalty_app.imports.models import ImportJob
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member, MemberEvent
from loyalty_app.referrals.selectors import friend_referrals_data, member_referrals_data
from loyalty_app.shops.models import Shop
from loyalty_app.surveys.selectors import member_responses_data

from .bulkfiles import bulk_lines_about
from .digests import customer_digest, email_digest
from .importfiles import Subject, import_lines_about
from .models import CustomerRedaction, DataRequest


def members_of_customer(*, shop: Shop, customer_id: str, email: str) -> list[Member]:
    """The shop's members a privacy request names, in pk order.

    By customer id when there is one, with an email-only member of the same email (the
    same person, not yet linked to the id); by email (case ignored) when only the email
    is given. Never another shop's member.
    """
    customer_id, email = customer_id.strip(), email.strip().lower()
    members = Member.objects.filter(shop=shop).annotate(email_lower=Lower("email"))
    if customer_id:
        match = Q(external_id=customer_id)
        if email:
            match |= Q(external_id__isnull=True, email_lower=email)
    elif email:
        match = Q(email_lower=email)
    else:
        return []
    return list(members.filter(match).order_by("pk"))


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value: Decimal) -> str:
    return str(value)


def _member_data(member: Member) -> dict[str, Any]:
    ledger = LedgerEntry.objects.filter(shop_id=member.shop_id, member=member).order_by("pk")
    orders = Order.objects.filter(shop_id=member.shop_id, member=member).order_by("pk")
    actions = ActionEvent.objects.filter(shop_id=member.shop_id, member=member).order_by("pk")
    events = MemberEvent.objects.filter(shop_id=member.shop_id, member=member).order_by("pk")
    birthday = (
        {"month": member.birthday_month, "day": member.birthday_day}
        if member.birthday_month
        else None
    )
    return {
        "customer_id": member.external_id,
        "email": member.email,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "birthday": birthday,
        "imported_tier": member.imported_tier,
        "joined_at": _time(member.created_at),
        "points_balance": member.points_balance,
        "points_pending": member_points_pending(member=member),
        "ledger": [
            {
                "id": e.pk,
                "kind": e.kind,
                "points": e.points,
                "balance_after": e.balance_after,
                "source_type": e.source_type,
                "source_id": e.source_id,
                "reason": e.reason,
                "created_at": _time(e.created_at),
            }
            for e in ledger.iterator(chunk_size=1000)
        ],
        "orders": [
            {
                "order_id": o.external_id,
                "name": o.name,
                "placed_at": _time(o.placed_at),
                "currency": o.currency,
                "eligible_amount": _money(o.eligible_amount),
                "refunded_amount": _money(o.refunded_amount),
                "paid": o.paid,
                "cancelled": o.cancelled,
                "points": o.points_awarded,
                "pending_until": _time(o.pending_until) if not o.confirmed else None,
            }
            for o in orders.iterator(chunk_size=1000)
        ],
        "actions": [
            {
                "action": a.action,
                "target": a.target,
                "occurred_at": _time(a.occurred_at),
                "points": a.points,
                "status": a.status,
                "data": a.data,
            }
            for a in actions.iterator(chunk_size=1000)
        ],
        "events": [
            {"kind": e.kind, "data": e.data, "created_at": _time(e.created_at)}
            for e in events.iterator(chunk_size=1000)
        ],
        "survey_responses": member_responses_data(member=member),
        "challenges": member_challenges_data(member=member),
        "referrals": member_referrals_data(member=member),
    }


def _import_data(*, shop: Shop, subject: Subject) -> list[dict[str, Any]]:
    """Lines of the shop's stored import files about the subject. Every file is read
    (a line that was rejected left no ledger entry to find it by); one file in memory
    at a time."""
    found = []
    pks = ImportJob.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True)
    for pk in list(pks):
        job = ImportJob.objects.only("pk", "filename", "created_at", "content").get(pk=pk)
        lines = import_lines_about(bytes(job.content), subject)
        if lines:
            found.append(
                {
                    "import_id": job.pk,
                    "filename": job.filename,
                    "uploaded_at": _time(job.created_at),
                    "lines": lines,
                }
            )
    return found


def _bulk_award_data(*, shop: Shop, subject: Subject) -> list[dict[str, Any]]:
    """Lines of the shop's stored bulk-award files about the subject; one file in memory
    at a time."""
    found = []
    pks = BulkAward.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True)
    for pk in list(pks):
        upload = BulkAward.objects.only("pk", "action", "filename", "created_at", "content").get(
            pk=pk
        )
        lines = bulk_lines_about(bytes(upload.content), subject)
        if lines:
            found.append(
                {
                    "bulk_award_id": upload.pk,
                    "action": upload.action,
                    "filename": upload.filename,
                    "uploaded_at": _time(upload.created_at),
                    "lines": lines,
                }
            )
    return found


def customer_data(
    *, shop: Shop, customer_id: str, email: str, order_ids: list[str]
) -> dict[str, Any]:
    """Everything the loyalty program holds about a customer of ``shop``, as JSON.

    Per member found (``members_of_customer``): the profile, balance and pending points,
    every ledger entry, the orders that earned or took back points, reported actions and
    member events, their referral code and the friends they invited (emails masked);
    then the referrals that name them as the friend, the lines of stored import and
    bulk-award files that name them, and the orders
    the platform asked about that we know (with no member: a guest's order).
    """
    members = members_of_customer(shop=shop, customer_id=customer_id, email=email)
    ids = {customer_id} | {m.external_id for m in members if m.external_id}
    emails = {email} | {m.email for m in members if m.email}
    subject = Subject.of(customer_ids=ids, emails=emails)
    requested = [
        {
            "order_id": o.external_id,
            "name": o.name,
            "placed_at": _time(o.placed_at),
            "points": o.points_awarded,
            "member": o.member_id is not None,
        }
        for o in Order.objects.filter(shop=shop, external_id__in=order_ids).order_by("pk")
    ]
    return {
        "customer": {"customer_id": customer_id, "email": email},
        "members": [_member_data(m) for m in members],
        "imports": _import_data(shop=shop, subject=subject),
        "bulk_awards": _bulk_award_data(shop=shop, subject=subject),
        "referred_as_friend": friend_referrals_data(shop=shop, members=members, emails=emails),
        "orders_requested": requested,
    }


def data_requests_for_shop(*, shop: Shop) -> QuerySet[DataRequest]:
    """The shop's data requests, newest first, without their (possibly large) answers."""
    return DataRequest.objects.filter(shop=shop).defer("data").order_by("-id")


def data_request_get(*, shop: Shop, data_request_id: int) -> DataRequest | None:
    """One of ``shop``'s data requests; another shop's is simply not found."""
    return DataRequest.objects.filter(shop=shop, pk=data_request_id).first()


def customer_redaction_find(
    *, shop: Shop, customer_id: str, email: str
) -> CustomerRedaction | None:
    """The redaction of this customer in ``shop``, if there was one: by customer id, or
    by email for a redaction that only knew the email."""
    match = Q()
    if customer_id.strip():
        match |= Q(customer_digest=customer_digest(shop_id=shop.pk, customer_id=customer_id))
    if email.strip():
        match |= Q(customer_digest="", email_digest=email_digest(shop_id=shop.pk, email=email))
    if not match:
        return None
    return (
        CustomerRedaction.objects.filter(shop=shop)
        .filter(match)
        .order_by(F("member_id").desc(nulls_last=True), "pk")
        .first()
    )
