"""The platform's privacy duties, on the engine's side: answer a customer's data request,
erase a customer's personal data, erase a shop.

Each is idempotent (a redelivered request finds what the first one did) and runs in one
transaction. The bridge translates the platform's requests into these calls and cleans
what it holds itself (stored webhook payloads, its caches).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from loyalty_app.bulk_actions.models import BulkAward
from loyalty_app.common.time import now
from loyalty_app.earning.models import ActionEvent, Campaign, Order, OrderRefund, Program
from loyalty_app.imports.models import ImportJob
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member, MemberEvent
from loyalty_app.referrals.models import Referral
from loyalty_app.referrals.services import referrals_friend_redact
from loyalty_app.shops.models import ApiToken, Shop
from loyalty_app.surveys.services import survey_comments_erase

from .bulkfiles import bulk_content_scrub, bulk_issues_scrub
from .digests import customer_digest, email_digest, request_digest
from .importfiles import Subject, import_content_scrub
from .models import CustomerRedaction, DataRequest, ShopErasure
from .scrub import personal_scrub
from .selectors import customer_data, members_of_customer

logger = logging.getLogger(__name__)

REDACTED_PREFIX = "redacted-"


@transaction.atomic
def data_request_record(
    *, shop: Shop, request_id: str, customer_id: str, email: str, order_ids: list[str]
) -> tuple[DataRequest, bool]:
    """Assemble the customer's loyalty data for the merchant; returns (row, created).

    A request id already seen returns its row untouched: the answer is the data as it
    stood when the request first arrived.
    """
    try:
        with transaction.atomic():
            request = DataRequest.objects.create(
                shop=shop,
                request_id=request_id,
                customer_id=customer_id,
                email=email,
                status=DataRequest.Status.PENDING,
            )
    except IntegrityError:
        return DataRequest.objects.get(shop=shop, request_id=request_id), False
    request.data = customer_data(
        shop=shop, customer_id=customer_id, email=email, order_ids=order_ids
    )
    request.status = DataRequest.Status.DONE
    request.completed_at = now()
    request.save(update_fields=["data", "status", "completed_at"])
    logger.info(
        "data request %s of %s assembled: %d members",
        request.pk,
        shop.domain,
        len(request.data["members"]),
        extra={"shop": shop.domain, "data_request": request.pk},
    )
    return request, True


@dataclass(frozen=True)
class Redaction:
    """What ``customer_redact`` did. ``order_ids`` are the platform ids of the anonymized
    members' orders, for the bridge to scrub what it stored about them."""

    record: CustomerRedaction
    created: bool
    order_ids: tuple[str, ...]


def _member_anonymize(member: Member) -> dict[str, int]:
    """Blank a member's personal data; their ledger, balance and orders stay.

    The customer id becomes ``redacted-<pk>``: the unique key still holds and the row
    still satisfies "a customer id or an email", but no platform id (digits) can ever
    match it again, so no later webhook re-links the row to the customer.
    """
    Member.objects.filter(pk=member.pk).update(
        external_id=f"{REDACTED_PREFIX}{member.pk}",
        email="",
        first_name="",
        last_name="",
        birthday_month=None,
        birthday_day=None,
        updated_at=now(),
    )
    events = 0
    for event in MemberEvent.objects.filter(member=member).only("pk", "data"):
        data, cleared = personal_scrub(event.data)
        if cleared:
            MemberEvent.objects.filter(pk=event.pk).update(data=data)
            events += 1
    # What a reporter said about an action is free-form: nothing of it can be vouched for.
    actions = ActionEvent.objects.filter(member=member).exclude(data={}).update(data={})
    return {"member_events": events, "action_events": actions}


def _order_fingerprints_clear(*, shop: Shop, members: list[Member], order_ids: list[str]) -> int:
    """Clear the salted hashes of the buyer's email, shipping address and card on the
    members' orders and the orders the platform listed; returns how many orders changed.

    A hash of an email or an address identifies its owner to anyone who hashes a guess,
    so it goes with the rest. The orders themselves stay (points, amounts). The rows are
    locked in pk order, as the order path locks one order before anything else; a later
    webhook of these orders is stripped of the same fields by the bridge, so they are not
    written again.
    """
    named = Q(member__in=[m.pk for m in members])
    if order_ids:
        named |= Q(external_id__in=order_ids)
    pks = list(
        Order.objects.select_for_update()
        .filter(shop=shop)
        .filter(named)
        .exclude(email_hash="", shipping_hash="", payment_hash="")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if pks:
        Order.objects.filter(pk__in=pks).update(email_hash="", shipping_hash="", payment_hash="")
    return len(pks)


def _imports_scrub(*, shop: Shop, subject: Subject) -> int:
    """Blank the subject's lines in the shop's stored import files and reports; returns
    how many lines. One file in memory at a time."""
    lines = 0
    pks = list(ImportJob.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True))
    for pk in pks:
        job = (
            ImportJob.objects.select_for_update().only("pk", "content", "rejected_lines").get(pk=pk)
        )
        content, hit = import_content_scrub(bytes(job.content), subject)
        rejected = []
        for item in job.rejected_lines:
            if item.get("line") in hit or subject.text_mentions(str(item.get("raw", ""))):
                item = {**item, "raw": "", "reason": f"{item.get('column', 'line')}: redacted"}
            rejected.append(item)
        if hit or rejected != job.rejected_lines:
            # The sha256 stays the uploaded file's: it names the upload (an idempotent
            # re-upload of the same file is still recognised), not the bytes kept.
            ImportJob.objects.filter(pk=pk).update(content=content, rejected_lines=rejected)
            lines += len(hit)
    return lines


def _bulk_awards_scrub(*, shop: Shop, subject: Subject) -> int:
    """Blank the subject's lines in the shop's stored bulk-award files and their kept
    issues; returns how many lines. One file in memory at a time."""
    lines = 0
    pks = list(BulkAward.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True))
    for pk in pks:
        upload = (
            BulkAward.objects.select_for_update()
            .only("pk", "content", "preview_issues", "issues")
            .get(pk=pk)
        )
        content, hit = bulk_content_scrub(bytes(upload.content), subject)
        preview_issues = bulk_issues_scrub(upload.preview_issues, hit, subject)
        issues = bulk_issues_scrub(upload.issues, hit, subject)
        if hit or preview_issues != upload.preview_issues or issues != upload.issues:
            # The sha256 stays the uploaded file's, as for import files.
            BulkAward.objects.filter(pk=pk).update(
                content=content, preview_issues=preview_issues, issues=issues
            )
            lines += len(hit)
    return lines


@transaction.atomic
def customer_redact(*, shop: Shop, customer_id: str, email: str, order_ids: list[str]) -> Redaction:
    """Erase a customer's personal data from ``shop``; keep the merchant's accounts.

    The members the request names (``members_of_customer``) lose email, names, birthday
    and customer id (``_member_anonymize``); personal fields in their member events go,
    as do their actions' reported data, the lines of stored import files that name
    them, and the answers to their earlier data requests. Their orders and the orders
    the request lists lose the hashes of email, address and card
    (``_order_fingerprints_clear``); referrals that name them as the friend lose the
    friend's email (``referrals_friend_redact``). Their ledger entries, balance and
    orders stay, so the shop's totals do not move. Free text a merchant typed into a
    ledger reason stays as written: the ledger is append-only.

    Idempotent: the same request (same customer id and email) returns the first
    redaction; a member already anonymized is not found again. The record keeps only
    keyed digests and counts.
    """
    key = request_digest(shop_id=shop.pk, customer_id=customer_id, email=email)
    existing = CustomerRedaction.objects.filter(shop=shop, request_digest=key).first()
    if existing is not None:
        return Redaction(record=existing, created=False, order_ids=_order_ids(existing))
    found = members_of_customer(shop=shop, customer_id=customer_id, email=email)
    found_emails = {email} | {m.email for m in found if m.email}
    # Orders, then referrals, then members: the order path's lock order (an order row, its
    # referral, then the members the ledger locks), so the two cannot deadlock.
    fingerprints = _order_fingerprints_clear(shop=shop, members=found, order_ids=order_ids)
    friend_referrals = referrals_friend_redact(shop=shop, members=found, emails=found_emails)
    # Lock in pk order, as every multi-member write does, so two writers cannot deadlock.
    members = list(
        Member.objects.select_for_update().filter(pk__in=[m.pk for m in found]).order_by("pk")
    )
    subject = Subject.of(
        customer_ids={customer_id} | {m.external_id for m in members if m.external_id},
        emails={email} | {m.email for m in members if m.email},
    )
    summary = {
        "members": len(members),
        "member_events": 0,
        "action_events": 0,
        "order_fingerprints": fingerprints,
        "referrals_as_friend": friend_referrals,
    }
    for member in members:
        for name, count in _member_anonymize(member).items():
            summary[name] += count
    summary["import_lines"] = _imports_scrub(shop=shop, subject=subject)
    summary["bulk_award_lines"] = _bulk_awards_scrub(shop=shop, subject=subject)
    # What they wrote in the survey; their scores stay (the figures do not move).
    summary["survey_comments"] = survey_comments_erase(shop=shop, members=members)
    # Earlier answers to the customer's data requests hold everything: they go too (the
    # request's id and dates stay, so the merchant sees it was answered).
    asked = Q(customer_id__in=subject.customer_ids)
    for address in subject.emails:
        asked |= Q(email__iexact=address)
    summary["data_requests"] = (
        DataRequest.objects.filter(shop=shop)
        .filter(asked)
        .update(customer_id="", email="", data={"redacted": True})
    )
    member_orders = list(
        Order.objects.filter(shop=shop, member__in=members).values_list("external_id", flat=True)
    )
    summary["orders_kept"] = len(member_orders)
    try:
        with transaction.atomic():
            record = CustomerRedaction.objects.create(
                shop=shop,
                request_digest=key,
                customer_digest=customer_digest(shop_id=shop.pk, customer_id=customer_id),
                email_digest=email_digest(shop_id=shop.pk, email=email),
                member=members[0] if members else None,
                summary=summary,
            )
    except IntegrityError:  # a concurrent delivery of the same request recorded it first
        record = CustomerRedaction.objects.get(shop=shop, request_digest=key)
        return Redaction(record=record, created=False, order_ids=_order_ids(record))
    logger.info(
        "customer redacted in %s: %s",
        shop.domain,
        summary,
        extra={"shop": shop.domain, "redaction": record.pk},
    )
    return Redaction(
        record=record, created=True, order_ids=tuple(sorted({*member_orders, *order_ids}))
    )


def _order_ids(record: CustomerRedaction) -> tuple[str, ...]:
    if record.member_id is None:
        return ()
    return tuple(
        Order.objects.filter(shop_id=record.shop_id, member_id=record.member_id)
        .order_by("external_id")
        .values_list("external_id", flat=True)
    )


def _ledger_erase(*, shop: Shop) -> int:
    """Delete every ledger entry of ``shop``: the one deliberate way ledger rows go.

    The ledger is append-only: its model and queryset refuse ``delete()``, and on
    PostgreSQL a trigger refuses any UPDATE. A shop's erasure (the platform's duty once
    it has been uninstalled) must take the rows nonetheless, so this issues the DELETE
    itself, for one shop's rows only, inside ``shop_erase``'s transaction.
    """
    table = connection.ops.quote_name(LedgerEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE shop_id = %s", [shop.pk])  # noqa: S608
        return max(cursor.rowcount, 0)


MEMBERS_PER_DELETE = 2000


@transaction.atomic
def shop_erase(*, domain: str, actor: str = "") -> ShopErasure:
    """Delete everything held for an uninstalled shop, the ``Shop`` row last.

    Only an uninstalled shop is erased: one installed again before the request came
    (the merchant came back within the platform's 48 hours) keeps its data, and the
    request is recorded as skipped. An unknown shop is recorded as such. Either way a
    ``ShopErasure`` row says what happened; it outlives the shop.

    Tables are emptied children first: the ledger (``_ledger_erase``), events, orders
    (before programs: an order protects the program it was placed under), members in
    batches, then programs, campaigns, imports with their stored files, API tokens and
    the privacy rows. Deleting the shop then cascades to whatever else still refers to
    it (the bridge's stored webhooks and product facts, other packages' rows). Another
    shop's rows are never touched: every statement is filtered on this shop.
    """
    normalized = domain.strip().lower()
    shop = Shop.objects.select_for_update().filter(domain=normalized).first()
    if shop is None:
        return ShopErasure.objects.create(
            domain=normalized, outcome=ShopErasure.Outcome.UNKNOWN_SHOP, requested_by=actor
        )
    if shop.state == Shop.State.INSTALLED:
        logger.info("shop %s was installed again; erasure skipped", shop.domain)
        return ShopErasure.objects.create(
            domain=normalized,
            shop_pk=shop.pk,
            outcome=ShopErasure.Outcome.SKIPPED_INSTALLED,
            requested_by=actor,
        )
    deleted: dict[str, int] = {"ledger.LedgerEntry": _ledger_erase(shop=shop)}

    def count(result: tuple[int, dict[str, int]]) -> None:
        for name, rows in result[1].items():
            deleted[name] = deleted.get(name, 0) + rows

    count(MemberEvent.objects.filter(shop=shop).delete())
    count(ActionEvent.objects.filter(shop=shop).delete())
    # Referrals before orders and members: each refers to both (its order by SET_NULL,
    # which would otherwise rewrite every row before the cascade deleted it).
    count(Referral.objects.filter(shop=shop).delete())
    count(OrderRefund.objects.filter(order__shop=shop).delete())
    count(Order.objects.filter(shop=shop).delete())
    while batch := list(
        Member.objects.filter(shop=shop)
        .order_by("pk")
        .values_list("pk", flat=True)[:MEMBERS_PER_DELETE]
    ):
        count(Member.objects.filter(pk__in=batch).delete())
    count(Program.objects.filter(shop=shop).delete())
    count(Campaign.objects.filter(shop=shop).delete())
    count(ImportJob.objects.filter(shop=shop).delete())
    count(ApiToken.objects.filter(shop=shop).delete())
    count(DataRequest.objects.filter(shop=shop).delete())
    count(CustomerRedaction.objects.filter(shop=shop).delete())
    shop_pk = shop.pk
    count(shop.delete())
    deleted = {name: rows for name, rows in sorted(deleted.items()) if rows}
    logger.info("shop %s erased: %s", normalized, deleted, extra={"shop": normalized})
    return ShopErasure.objects.create(
        domain=normalized,
        shop_pk=shop_pk,
        outcome=ShopErasure.Outcome.ERASED,
        deleted=deleted,
        requested_by=actor,
    )
