"""Writes for actions: points for sign-up, birthday, newsletter, social follow, product
review and the merchant's own actions. The catalogue and the limits' periods are
``earning.policies``; these are the rules of recording:

- **In force now.** The action must be enabled in the shop's current program version,
  and earns that version's points, even when the event is reported late.
- **One event per key.** ``event_key`` is unique per shop (a database constraint).
  Reporting a key again returns the first event and writes nothing, whatever the limit
  says now; the same key with another member, action, target or (when given) time is a
  conflict. A replay is answered even if the action was disabled since.
- **Limits count awarded events.** The member's ``awarded`` events of the action (of the
  target, when the limit is per target) whose ``occurred_at`` falls in the limit's
  calendar period around the new event's ``occurred_at``, in the shop's time zone.
  Counting and writing happen under the member's row lock, so concurrent reports cannot
  both take the last slot. An event over the limit is still recorded (``limit_reached``,
  0 points): its replay answers the same, and the merchant can see what was refused.
- **Time.** ``occurred_at`` may be at most ``FUTURE_LEEWAY`` (5 minutes, clock skew)
  ahead of the server's clock and at most ``MAX_AGE`` (90 days) old: a late report still
  counts in its own period, but long-past periods cannot be mined for unused awards.
- **Targets** are trimmed and lower-cased ("Instagram " and "instagram" are one network);
  an action whose limit is per target needs one.
- **Sign-up** (joining the program) is awarded when a shopper joins with just an email
  through ``POST /api/v1/events`` (``action_report``), and when the platform reports
  that a shopper created an account in the shop (``signup_on_account_created``, once
  per customer id). Both are one member's one sign-up: the second is ``limit_reached``.
- **Birthday** is awarded only by the birthday job (``birthdays_award``), never through
  the API, once per member and year (key ``birthday:<member>:<year>``). Changing the
  birthday does not earn it twice: the year's key is taken, and the yearly limit counts
  the year's awarded birthday events whatever the date they fell on.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat

from loyalty_app.common import time as clock
from loyalty_app.earning.models import ActionEvent
from loyalty_app.earning.policies import ActionRule
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.members.selectors import member_get
from loyalty_app.members.services import member_join_by_email
from loyalty_app.shops.models import Shop

from .selectors import action_event_get, action_events_awarded, shop_zone

logger = logging.getLogger(__name__)

FUTURE_LEEWAY = timedelta(minutes=5)
MAX_AGE = timedelta(days=90)
MAX_EVENT_KEY_LENGTH = 200
MAX_TARGET_LENGTH = 255
BIRTHDAY = "birthday"
SIGNUP = "signup"
BIRTHDAY_BATCH_SIZE = 500
# Birthdays of the previous day are awarded too, so a day without a run (beat down,
# a deploy at midnight) loses nothing; the key per year keeps it once.
BIRTHDAY_CATCH_UP_DAYS = 1


class ActionInvalid(ValueError):
    """The event cannot be recorded as reported; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ActionEventConflict(Exception):
    """The event key was already used for a different event."""

    def __init__(self, event: ActionEvent) -> None:
        super().__init__(f"event key already used for action event {event.pk}")
        self.event = event


@dataclass(frozen=True)
class ActionWrite:
    """The recorded event, and whether this call wrote it (False: a replay)."""

    event: ActionEvent
    created: bool


def action_rule_in_force(*, shop: Shop, key: str) -> ActionRule:
    """The enabled action ``key`` of the shop's current program, or ``ActionInvalid``."""
    config = program_config(program_current(shop=shop))
    if not config.enabled:
        raise ActionInvalid("action", "the shop's loyalty program is paused")
    rule = config.action(key)
    if rule is not None:
        return rule
    if any(a.key == key for a in config.actions):
        raise ActionInvalid("action", f"'{key}' is disabled in this shop's program")
    enabled = ", ".join(a.key for a in config.actions if a.enabled) or "none"
    raise ActionInvalid(
        "action", f"'{key}' is not an action of this shop's program (enabled: {enabled})"
    )


def action_target_clean(target: str) -> str:
    cleaned = (target or "").strip().lower()
    if len(cleaned) > MAX_TARGET_LENGTH or "\x00" in cleaned:
        raise ActionInvalid("target", f"must be at most {MAX_TARGET_LENGTH} characters")
    return cleaned


def action_record(
    *,
    shop: Shop,
    member: Member,
    action: str,
    event_key: str,
    occurred_at: datetime | None = None,
    target: str = "",
    source: str = "",
    data: dict[str, Any] | None = None,
) -> ActionWrite:
    """Record that ``member`` did ``action`` and award its points unless its limit is
    reached (rules in the module docstring).

    ``occurred_at`` None means now, and is then not compared on a replay. Raises
    ``ActionInvalid`` (naming the field) or ``ActionEventConflict``.
    """
    if member.shop_id != shop.pk:
        raise ValueError("the member belongs to another shop")
    if not event_key or len(event_key) > MAX_EVENT_KEY_LENGTH:
        raise ValueError(f"an event key of 1-{MAX_EVENT_KEY_LENGTH} characters is required")
    target = action_target_clean(target)
    existing = action_event_get(shop=shop, event_key=event_key)
    if existing is not None:
        return _replay(existing, member=member, action=action, target=target, at=occurred_at)

    when = _occurred_at_checked(occurred_at)
    rule = _rule_checked(shop=shop, action=action, target=target)

    with transaction.atomic():
        # The member's row lock serialises every award of every action for this member:
        # the count below and the insert cannot interleave with another report's.
        Member.objects.select_for_update().only("id").get(pk=member.pk)
        used = action_events_awarded(
            member=member, rule=rule, at=when, zone=shop_zone(shop), target=target
        ).count()
        awarded = used < rule.limit.count
        event = ActionEvent(
            shop=shop,
            member=member,
            action=rule.key,
            target=target,
            event_key=event_key,
            occurred_at=when,
            points=rule.points if awarded else 0,
            status=ActionEvent.Status.AWARDED if awarded else ActionEvent.Status.LIMIT_REACHED,
            source=source[:200],
            data=data or {},
        )
        try:
            with transaction.atomic():
                event.save(force_insert=True)
        except IntegrityError:
            # The same key reported at the same moment (for another member, whose lock
            # is not ours, or for this one just before us): the constraint decides.
            first = action_event_get(shop=shop, event_key=event_key)
            if first is None:
                raise
            return _replay(first, member=member, action=action, target=target, at=occurred_at)
        if awarded:
            ledger_entry_add(
                member=member,
                kind=LedgerEntry.Kind.ACTION,
                points=rule.points,
                idempotency_key=f"action:{event.pk}",
                source_type="action",
                source_id=str(event.pk),
                reason=rule.reason(target),
                actor=source,
            )
            from loyalty_app.tiers.services import member_tier_after_points  # avoids a cycle

            member_tier_after_points(member=member)
            from loyalty_app.challenges.services import challenges_after_action

            challenges_after_action(member=member, action=rule.key, occurred_at=when)
    return ActionWrite(event=event, created=True)


def _occurred_at_checked(occurred_at: datetime | None) -> datetime:
    moment = clock.now()
    when = occurred_at or moment
    if when.tzinfo is None:
        raise ActionInvalid("occurred_at", "must carry a time zone")
    if when > moment + FUTURE_LEEWAY:
        raise ActionInvalid("occurred_at", "must not be in the future")
    if when < moment - MAX_AGE:
        raise ActionInvalid("occurred_at", f"must be within the last {MAX_AGE.days} days")
    return when


def _rule_checked(*, shop: Shop, action: str, target: str) -> ActionRule:
    rule = action_rule_in_force(shop=shop, key=action)
    if rule.limit.per_target and not target:
        raise ActionInvalid(
            "target", "is required: this action is limited per target (a network, a product)"
        )
    return rule


def _replay(
    first: ActionEvent, *, member: Member, action: str, target: str, at: datetime | None
) -> ActionWrite:
    if (
        first.member_id != member.pk
        or first.action != action
        or first.target != target
        or (at is not None and first.occurred_at != at)
    ):
        raise ActionEventConflict(first)
    return ActionWrite(event=first, created=False)


class MemberNotFound(LookupError):
    """No member of this shop has the given customer id."""


def action_report(
    *,
    shop: Shop,
    action: str,
    event_key: str,
    customer_id: str = "",
    email: str = "",
    occurred_at: datetime | None = None,
    target: str = "",
    source: str = "",
    data: dict[str, Any] | None = None,
) -> ActionWrite:
    """An action reported from outside (``POST /api/v1/events``) for a customer id or an
    email. An email nobody has yet joins the program: an email-only member is created,
    but only for a report that is valid, in the transaction that records it, so a refused
    report creates nobody. Birthdays cannot be reported: the birthday job awards them.

    Raises ``ActionInvalid``, ``ActionEventConflict`` or ``MemberNotFound``.
    """
    if bool(customer_id) == bool(email):
        raise ValueError("exactly one of customer_id and email is required")
    target = action_target_clean(target)
    first = action_event_get(shop=shop, event_key=event_key)
    if first is not None:
        # A replay is answered even if the action was disabled since; never creates anyone.
        if email and first.member.email.strip().lower() != email.strip().lower():
            raise ActionEventConflict(first)
        member = first.member if email else _member_by_customer_id(shop, customer_id)
        return _replay(first, member=member, action=action, target=target, at=occurred_at)
    if action == BIRTHDAY:
        raise ActionInvalid(
            "action",
            "birthday is awarded by the daily birthday job; set the customer's birthday "
            "with PUT /api/v1/customers/<id>/birthday",
        )
    _rule_checked(shop=shop, action=action, target=target)
    _occurred_at_checked(occurred_at)
    with transaction.atomic():
        if customer_id:
            member = _member_by_customer_id(shop, customer_id)
        else:
            member, _created = member_join_by_email(shop=shop, email=email)
        return action_record(
            shop=shop,
            member=member,
            action=action,
            event_key=event_key,
            occurred_at=occurred_at,
            target=target,
            source=source,
            data=data,
        )


def _member_by_customer_id(shop: Shop, customer_id: str) -> Member:
    member = member_get(shop=shop, external_id=customer_id)
    if member is None:
        raise MemberNotFound(customer_id)
    return member


# --- sign-up ------------------------------------------------------------------------


def signup_on_account_created(
    *, shop: Shop, member: Member, source: str = ""
) -> ActionWrite | None:
    """A shopper who creates an account in the shop joins the program.

    When the shop's program has ``signup`` enabled, the platform's report of a new
    account awards it under the key ``signup:customer:<customer id>``, so a redelivered
    or replayed report awards nothing more. A member who already joined (by email
    through the API) gets a ``limit_reached`` event: sign-up is once per member. The
    bridge decides what counts as creating an account (on Shopify: a customer created
    with an enabled account, not a guest checkout's customer record). Returns None when
    the program has no sign-up action or the member has no customer id.
    """
    if not member.external_id:
        return None
    if program_config(program_current(shop=shop)).action(SIGNUP) is None:
        return None
    return action_record(
        shop=shop,
        member=member,
        action=SIGNUP,
        event_key=f"signup:customer:{member.external_id}",
        source=source,
    )


# --- birthdays ----------------------------------------------------------------------


def _birthday_pairs(day: date) -> Q:
    """Members whose birthday falls on ``day``: 29 February is the 28th in other years."""
    q = Q(birthday_month=day.month, birthday_day=day.day)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        q |= Q(birthday_month=2, birthday_day=29)
    return q


def birthdays_award(*, shop: Shop) -> int:
    """Award the birthday action to the shop's members whose birthday is today in the
    shop's time zone (or was yesterday, so a missed run is caught up). Returns how many
    members were awarded.

    Idempotent, so it may run hourly: each member's award has the key
    ``birthday:<member id>:<year>``, and members who already have it are skipped by the
    query itself. Members are read in batches by primary key, through the index on
    (shop, birthday month, birthday day); each award is its own short transaction.
    """
    moment = clock.now()
    try:
        action_rule_in_force(shop=shop, key=BIRTHDAY)
    except ActionInvalid:
        return 0
    zone = shop_zone(shop)
    today = moment.astimezone(zone).date()
    awarded = 0
    for back in range(BIRTHDAY_CATCH_UP_DAYS, -1, -1):
        day = today - timedelta(days=back)
        # The event happened at the birthday's local midnight: its year is the key's.
        occurred_at = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        key = Concat(
            Value(f"{BIRTHDAY}:"),
            Cast(OuterRef("pk"), CharField()),
            Value(f":{day.year}"),
            output_field=CharField(),
        )
        due = (
            Member.objects.filter(shop=shop)
            .filter(_birthday_pairs(day))
            .exclude(Exists(ActionEvent.objects.filter(shop=shop, event_key=key)))
            .order_by("pk")
        )
        last_pk = 0
        while True:
            batch = list(due.filter(pk__gt=last_pk)[:BIRTHDAY_BATCH_SIZE])
            if not batch:
                break
            for member in batch:
                try:
                    write = action_record(
                        shop=shop,
                        member=member,
                        action=BIRTHDAY,
                        event_key=f"{BIRTHDAY}:{member.pk}:{day.year}",
                        occurred_at=occurred_at,
                        source="birthday job",
                    )
                except ActionInvalid:
                    # The merchant turned birthdays off while we ran: stop, do not fail.
                    logger.info("birthday action disabled during the run for %s", shop)
                    return awarded
                if write.created and write.event.status == ActionEvent.Status.AWARDED:
                    awarded += 1
            last_pk = batch[-1].pk
    return awarded
