"""Awarding an action to many customers from a CSV file.

Every line is recorded through ``actions.services.action_report``, exactly as
``POST /api/v1/events`` records one event, so the program's pause, the action's limit per
period, the ledger entry, the tier and the event-key idempotency are the same:

- **Event keys.** A line's key is ``bulk:<event_key>`` when the file has an event_key
  column, otherwise derived from the line's content (``fileformat.line_event_key``).
  Uploading the same file again therefore awards nothing new: every line is "already
  recorded". Two lines of one file with the same key: the later is refused as a
  duplicate.
- **Unknown emails join.** An email that no member has creates an email-only member (as
  the events API does for a sign-up); their first order with that email lands on the
  same member. An unknown customer id is refused: customer ids come from the shop, and a
  typo must not create a member nobody can log in as.
- **Preview, then confirm.** An upload is first read in full by a worker that writes
  nothing but the upload's own counters: lines that would earn, lines over their limit,
  lines recorded before, invalid lines with the reason. The merchant confirms; then a
  worker awards in batches of ``BATCH_SIZE`` lines, each batch one transaction that also
  moves the cursor and the counters. A crash loses the open batch only; a rerun resumes
  after the cursor (the sweep reruns stalled uploads).
- The preview's limit figures count the awards already recorded plus the file's earlier
  lines; awarding decides for real under each member's row lock, so an order or an API
  event arriving in between can only make the award stricter than the preview, never
  looser.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Lower

from loyalty_app.actions.selectors import action_events_awarded, shop_zone
from loyalty_app.actions.services import (
    BIRTHDAY,
    FUTURE_LEEWAY,
    MAX_AGE,
    ActionEventConflict,
    ActionInvalid,
    MemberNotFound,
    action_report,
)
from loyalty_app.common.longruns import TRANSIENT_ERRORS, run_fail, shop_runs_lock, upload_save
from loyalty_app.common.time import now
from loyalty_app.earning.models import ActionEvent
from loyalty_app.earning.policies import ActionRule, ProgramConfig
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.members.models import Member
from loyalty_app.shops.models import Shop

from .fileformat import ACTION, FileError, Line, file_lines, file_read, line_event_key
from .models import BulkAward

logger = logging.getLogger(__name__)

BATCH_SIZE = 200


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was already used for another file or action."""

    def __init__(self, award: BulkAward) -> None:
        super().__init__(f"idempotency key already used for bulk award {award.pk}")
        self.award = award


class NotReady(Exception):
    """The upload cannot be confirmed yet (its preview is still running) or any more."""


def _rule_or_reason(config: ProgramConfig, key: str) -> ActionRule | str:
    """The enabled action ``key``, or why a line for it cannot earn (the same reasons as
    ``actions.services.action_rule_in_force``)."""
    if not key:
        return "no action: choose one for the upload or give an action column"
    if key == BIRTHDAY:
        return "birthday is awarded by the daily birthday job, not from a file"
    if not config.enabled:
        return "the shop's loyalty program is paused"
    rule = config.action(key)
    if rule is not None:
        return rule
    if any(a.key == key for a in config.actions):
        return f"'{key}' is disabled in this shop's program"
    return f"unknown action '{key}'"


def bulk_award_create(
    *,
    shop: Shop,
    content: bytes,
    filename: str,
    action: str,
    created_by: str,
    idempotency_key: str = "",
    confirm: bool = False,
    enqueue: bool = True,
) -> tuple[BulkAward, bool]:
    """Check a file as a whole and store it; a worker previews it (and, with ``confirm``,
    awards it right after the preview, as an API client asks).

    Raises ``FileError`` for a file that cannot be used at all, ``ActionInvalid`` (field
    ``action``) for an action that cannot be awarded when the file has no action column.
    With an ``idempotency_key`` already used for the same file and action, returns that
    upload and False; for another, raises ``IdempotencyKeyReused``.
    """
    parsed = file_read(content)
    action = (action or "").strip().lower()
    if ACTION not in parsed.columns.index or action:
        found = _rule_or_reason(program_config(program_current(shop=shop)), action)
        if isinstance(found, str):
            raise ActionInvalid("action", found)
    award = BulkAward(
        shop=shop,
        action=action,
        filename=filename[:255],
        sha256=parsed.sha256,
        size_bytes=len(content),
        content=content,
        columns=parsed.columns.as_dict(),
        lines=parsed.data_lines,
        idempotency_key=idempotency_key,
        created_by=created_by[:200],
    )
    if confirm:
        award.confirmed_by = created_by[:200]
        award.confirmed_at = now()

    def then() -> None:
        if confirm:
            _audit(award, actor=created_by)
        if enqueue:
            transaction.on_commit(lambda: _enqueue(award.pk))

    existing = upload_save(award, then=then)
    if existing is not None:
        if existing.sha256 != award.sha256 or existing.action != action:
            raise IdempotencyKeyReused(existing)
        return existing, False
    logger.info(
        "bulk award %s received for %s: %s lines of %s",
        award.pk,
        shop.domain,
        award.lines,
        action or "per-line actions",
        extra={"shop": shop.domain, "bulk_award": award.pk},
    )
    return award, True


def bulk_award_confirm(*, shop: Shop, award_id: int, actor: str, enqueue: bool = True) -> BulkAward:
    """The merchant read the preview: award the file. Confirming again changes nothing.
    Raises ``BulkAward.DoesNotExist`` for another shop's upload, ``NotReady`` while the
    preview runs or after it failed."""
    with transaction.atomic():
        award = BulkAward.objects.select_for_update().defer("content").get(pk=award_id, shop=shop)
        if award.confirmed_at is not None:
            return award
        if award.status != BulkAward.Status.PREVIEWED:
            raise NotReady(f"the upload is {award.status}; it can be confirmed once previewed")
        award.status = BulkAward.Status.AWARDING
        award.confirmed_at = now()
        award.confirmed_by = actor[:200]
        award.save(update_fields=["status", "confirmed_at", "confirmed_by", "updated_at"])
        _audit(award, actor=actor)
        if enqueue:
            transaction.on_commit(lambda: _enqueue(award.pk))
    return award


def _audit(award: BulkAward, *, actor: str) -> None:
    from loyalty_app.merchant_admin.services import audit_entry_add  # admin imports us

    audit_entry_add(
        shop=award.shop,
        actor=actor,
        action="actions.bulk_award",
        object_type="bulk_award",
        object_id=award.pk,
        after={
            "action": award.action,
            "filename": award.filename,
            "sha256": award.sha256,
            "lines": award.lines,
            "preview_valid": award.preview_valid,
            "preview_points": award.preview_points,
        },
    )


def _enqueue(award_id: int) -> None:
    from .tasks import bulk_award_run as task

    try:
        task.delay(award_id)
    except Exception:  # Stored; the sweep (or `bulk_award_run`) runs it later.
        logger.warning("could not enqueue bulk award %s", award_id, exc_info=True)


# --- running ------------------------------------------------------------------------------


def bulk_award_run(*, award_id: int, batch_size: int = BATCH_SIZE) -> BulkAward:
    """Preview or award a stored upload, whichever is due. Safe to call again at any
    time: a previewed (unconfirmed) or done upload is left alone; an interrupted preview
    starts again, an interrupted award resumes after its cursor. A transient database
    error is recorded and raised (the task retries it); any other error marks the upload
    failed, keeping its cursors."""
    award = BulkAward.objects.select_related("shop").get(pk=award_id)
    if award.status == BulkAward.Status.DONE:
        return award
    if award.status == BulkAward.Status.PREVIEWED and award.confirmed_at is None:
        return award
    if award.shop.state != Shop.State.INSTALLED:
        return award
    context = {"shop": award.shop.domain, "bulk_award": award.pk}
    try:
        parsed = file_read(bytes(award.content))
        lines = file_lines(parsed, zone=shop_zone(award.shop))
        if award.previewed_at is None:
            _preview(award, lines, batch_size=batch_size)
        award.refresh_from_db()
        if award.confirmed_at is not None:
            BulkAward.objects.filter(pk=award.pk).update(
                status=BulkAward.Status.AWARDING, error="", updated_at=now()
            )
            _award(award, lines, batch_size=batch_size)
            BulkAward.objects.filter(pk=award.pk, status=BulkAward.Status.AWARDING).update(
                status=BulkAward.Status.DONE, finished_at=now(), updated_at=now()
            )
    except TRANSIENT_ERRORS as exc:
        logger.warning(
            "bulk award %s: transient error, will retry: %s", award.pk, exc, extra=context
        )
        _fail(award.pk, exc)
        raise
    except FileError as exc:
        _fail(award.pk, exc)
    except Exception as exc:
        logger.exception("bulk award %s failed", award.pk, extra=context)
        _fail(award.pk, exc)
    return BulkAward.objects.defer("content").get(pk=award.pk)


def _fail(award_id: int, error: BaseException) -> None:
    run_fail(BulkAward, award_id, error)


def _issue(line: Line, status: str, reason: str, column: str = "") -> dict[str, Any]:
    return {
        "line": line.line,
        "status": status,
        "column": column,
        "reason": reason,
        "raw": line.raw,
    }


@dataclass
class _Seen:
    """Event keys met so far in the file (key -> first line), for duplicates."""

    keys: dict[str, int] = field(default_factory=dict)

    def duplicate_of(self, key: str, line: int) -> int | None:
        first = self.keys.setdefault(key, line)
        return first if first != line else None


def _key_of(award: BulkAward, line: Line) -> tuple[str, str]:
    action = line.action or award.action
    return action, line_event_key(line, action=action, file_sha256=award.sha256)


def _age_reason(moment: datetime | None) -> str:
    if moment is None:
        return ""
    current = now()
    if moment > current + FUTURE_LEEWAY:
        return "must not be in the future"
    if moment < current - MAX_AGE:
        return f"must be within the last {MAX_AGE.days} days"
    return ""


def _batches(lines: list[Line], size: int) -> Iterator[list[Line]]:
    it = iter(lines)
    while batch := list(islice(it, size)):
        yield batch


def _preview(award: BulkAward, lines: list[Line], *, batch_size: int) -> None:
    """Say what awarding would do, line by line, writing only the upload's counters
    (absolute values after each batch, for the progress bar). Always from the first line:
    the counts of the file's earlier lines are kept in memory."""
    shop = award.shop
    config = program_config(program_current(shop=shop))
    zone = shop_zone(shop)
    seen = _Seen()
    used: dict[tuple[Any, ...], int] = {}  # (member, action, target, period) -> in file
    new_emails: set[str] = set()
    counts = {"valid": 0, "limit": 0, "already": 0, "invalid": 0, "points": 0}
    issues: list[dict[str, Any]] = []

    def refuse(line: Line, reason: str, column: str = "") -> None:
        counts["invalid"] += 1
        if len(issues) < BulkAward.MAX_ISSUES_KEPT:
            issues.append(_issue(line, "invalid", reason, column))

    for batch in _batches(lines, batch_size):
        for line in batch:
            if line.error is not None:
                refuse(line, line.error[1], line.error[0])
                continue
            action, key = _key_of(award, line)
            first = seen.duplicate_of(key, line.line)
            if first is not None:
                refuse(line, f"duplicate of line {first}", "line")
                continue
            rule = _rule_or_reason(config, action)
            if isinstance(rule, str):
                refuse(line, rule, ACTION)
                continue
            if rule.limit.per_target and not line.target:
                refuse(line, "is required: this action is limited per target", "target")
                continue
            too_old = _age_reason(line.occurred_at)
            if too_old:
                refuse(line, too_old, "occurred_at")
                continue
            member = _member_find(shop, line)
            if member is None and line.customer_id:
                refuse(line, f"no member has customer id {line.customer_id}", "customer_id")
                continue
            event = ActionEvent.objects.filter(shop=shop, event_key=key).first()
            if event is not None:
                if member is None or event.member_id != member.pk or event.action != action:
                    refuse(line, "its event key was already used for another event", "event_key")
                    continue
                counts["already"] += 1
                if len(issues) < BulkAward.MAX_ISSUES_KEPT:
                    issues.append(_issue(line, "already", "recorded before: awards nothing new"))
                continue
            at = line.occurred_at or now()
            start, _end = rule.limit.window(at, zone)
            target = line.target if rule.limit.per_target else ""
            who = member.pk if member is not None else line.email
            slot = (who, rule.key, target, start)
            before = (
                action_events_awarded(
                    member=member, rule=rule, at=at, zone=zone, target=target or None
                ).count()
                if member is not None
                else 0
            )
            if before + used.get(slot, 0) >= rule.limit.count:
                counts["limit"] += 1
                if len(issues) < BulkAward.MAX_ISSUES_KEPT:
                    issues.append(_issue(line, "limit_reached", "the action's limit is reached"))
                continue
            used[slot] = used.get(slot, 0) + 1
            if member is None:
                new_emails.add(line.email)
            counts["valid"] += 1
            counts["points"] += rule.points
        BulkAward.objects.filter(pk=award.pk).update(
            preview_cursor=batch[-1].line,
            preview_valid=counts["valid"],
            preview_limit_reached=counts["limit"],
            preview_already=counts["already"],
            preview_invalid=counts["invalid"],
            preview_new_members=len(new_emails),
            preview_points=counts["points"],
            preview_issues=issues,
            updated_at=now(),
        )
    # An upload confirmed in advance (the API's confirm=true) goes on to be awarded.
    moment = now()
    done = BulkAward.objects.filter(pk=award.pk)
    done.filter(confirmed_at__isnull=True).update(
        status=BulkAward.Status.PREVIEWED, previewed_at=moment, error="", updated_at=moment
    )
    done.filter(confirmed_at__isnull=False).update(
        status=BulkAward.Status.AWARDING, previewed_at=moment, error="", updated_at=moment
    )


def _member_find(shop: Shop, line: Line) -> Member | None:
    if line.customer_id:
        return Member.objects.filter(shop=shop, external_id=line.customer_id).first()
    return (
        Member.objects.annotate(email_lower=Lower("email"))
        .filter(shop=shop, email_lower=line.email)
        .order_by(F("external_id").asc(nulls_last=True), "pk")
        .first()
    )


def _award(award: BulkAward, lines: list[Line], *, batch_size: int) -> None:
    seen = _Seen()
    for batch in _batches(lines, batch_size):
        _award_batch(award, batch, seen)


def _award_batch(award: BulkAward, batch: list[Line], seen: _Seen) -> None:
    shop = award.shop
    with transaction.atomic():
        _shop_bulk_lock(shop)
        cursor, kept = (
            BulkAward.objects.select_for_update()
            .values_list("award_cursor", "issues")
            .get(pk=award.pk)
        )
        counts = {"awarded": 0, "limit": 0, "replayed": 0, "rejected": 0, "points": 0}
        issues: list[dict[str, Any]] = []
        for line in batch:
            key, first = "", None
            if line.error is None:
                _action, key = _key_of(award, line)
                first = seen.duplicate_of(key, line.line)
            if line.line <= cursor:
                continue  # committed by an earlier run; its key is remembered above
            if line.error is not None:
                counts["rejected"] += 1
                issues.append(_issue(line, "rejected", line.error[1], line.error[0]))
                continue
            if first is not None:
                counts["rejected"] += 1
                issues.append(_issue(line, "rejected", f"duplicate of line {first}", "line"))
                continue
            outcome, points, reason, column = _line_award(award, line, key)
            if outcome == "awarded":
                counts["awarded"] += 1
                counts["points"] += points
            elif outcome == "limit_reached":
                counts["limit"] += 1
            elif outcome == "replayed":
                counts["replayed"] += 1
            else:
                counts["rejected"] += 1
                issues.append(_issue(line, "rejected", reason, column))
        if batch[-1].line <= cursor:
            return
        room = BulkAward.MAX_ISSUES_KEPT - len(kept)
        BulkAward.objects.filter(pk=award.pk).update(
            award_cursor=batch[-1].line,
            awarded=F("awarded") + counts["awarded"],
            limit_reached=F("limit_reached") + counts["limit"],
            replayed=F("replayed") + counts["replayed"],
            rejected=F("rejected") + counts["rejected"],
            points_awarded=F("points_awarded") + counts["points"],
            issues=kept + issues[: max(room, 0)],
            updated_at=now(),
        )


def _line_award(award: BulkAward, line: Line, key: str) -> tuple[str, int, str, str]:
    """(outcome, points, reason, column) of recording one line."""
    action = line.action or award.action
    try:
        with transaction.atomic():
            write = action_report(
                shop=award.shop,
                action=action,
                event_key=key,
                customer_id=line.customer_id,
                email="" if line.customer_id else line.email,
                occurred_at=line.occurred_at,
                target=line.target,
                source=f"bulk:{award.pk}",
                data={"bulk_award": award.pk, "line": line.line},
            )
    except ActionInvalid as exc:
        return "rejected", 0, exc.message, exc.field
    except ActionEventConflict:
        return "rejected", 0, "its event key was already used for another event", "event_key"
    except MemberNotFound:
        return "rejected", 0, f"no member has customer id {line.customer_id}", "customer_id"
    if not write.created:
        return "replayed", 0, "", ""
    if write.event.status == ActionEvent.Status.AWARDED:
        return "awarded", int(write.event.points), "", ""
    return "limit_reached", 0, "", ""


def _shop_bulk_lock(shop: Shop) -> None:
    """One bulk-award batch at a time per shop, until the transaction ends: two uploads
    of one list (a double click) then take turns, so each member's limit is counted
    with the other's awards in view, and their member locks are never taken in
    opposite orders. Orders and single events do not take it. SQLite has one writer."""
    shop_runs_lock(name="loyalty_app.bulk_actions", shop_id=shop.pk)
