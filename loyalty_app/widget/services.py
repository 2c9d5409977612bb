"""What a shopper changes from the widget: joining the program, their birthday.

The customer is always the one the platform vouches for (``ShopperIdentity``); these
functions never take a customer id from the browser.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from loyalty_app.actions.services import SIGNUP, action_record, signup_on_account_created
from loyalty_app.earning.domain import CustomerRef
from loyalty_app.earning.points_name import DEFAULT_POINTS_NAME, PointsName
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_birthday_set, member_join_by_email, member_upsert
from loyalty_app.rewards.models import Redemption
from loyalty_app.rewards.redemption import RedemptionRefused, reward_redeem
from loyalty_app.shops.models import Shop

SOURCE = "widget"


class BirthdayAlreadySet(Exception):
    """A member's birthday is set once from the widget; the shop can change it."""


@dataclass(frozen=True)
class Joined:
    member: Member
    created: bool
    points: int  # what joining earned now (the sign-up action), 0 if nothing


@transaction.atomic
def widget_join_customer(*, shop: Shop, customer_id: str) -> Joined:
    """A logged-in customer joins with one click: the member for their customer id, and
    the sign-up points once (``signup:customer:<id>``, the key the account webhook uses,
    so joining here and creating the account earn it once between them).

    No email is taken: an email from the browser could claim someone else's email-only
    member and their points; the customer's own email arrives with their orders."""
    if not customer_id:
        raise ValueError("a customer id is required")
    existed = Member.objects.filter(shop=shop, external_id=customer_id).exists()
    member = member_upsert(shop=shop, customer=CustomerRef(external_id=customer_id))
    write = signup_on_account_created(shop=shop, member=member, source=SOURCE)
    points = write.event.points if write is not None and write.created else 0
    return Joined(member=member, created=not existed, points=points)


@transaction.atomic
def widget_join_email(*, shop: Shop, email: str) -> Joined:
    """A guest joins with an email: an email-only member (or the one that has it), and
    the sign-up points once per member (``signup:member:<id>``). The answer to the guest
    never depends on whether the email was known, so the form tells nobody who is a
    member."""
    member, created = member_join_by_email(shop=shop, email=email)
    points = 0
    if program_config(program_current(shop=shop)).action(SIGNUP) is not None:
        write = action_record(
            shop=shop,
            member=member,
            action=SIGNUP,
            event_key=f"signup:member:{member.pk}",
            source=SOURCE,
        )
        points = write.event.points if write.created else 0
    return Joined(member=member, created=created, points=points)


def widget_birthday_set(*, member: Member, month: int, day: int) -> Member:
    """Record the member's birthday, once: the birthday job awards its points on the day.
    Raises ``ValueError`` for a day that does not exist, ``BirthdayAlreadySet``."""
    if member.birthday_month is not None:
        raise BirthdayAlreadySet("the birthday is already saved")
    with transaction.atomic():
        locked = Member.objects.select_for_update().get(pk=member.pk)
        if locked.birthday_month is not None:
            raise BirthdayAlreadySet("the birthday is already saved")
        return member_birthday_set(member=locked, month=month, day=day)


def widget_redeem(
    *, shop: Shop, member: Member, reward_id: int, idempotency_key: str, points: int | None
) -> tuple[Redemption, bool]:
    """``reward_redeem`` for the shopper, under a key of their own namespace (the
    widget's key cannot take the key of a redemption made elsewhere). Returns the
    redemption as stored after its delivery ran (at once in eager mode)."""
    redemption, created = reward_redeem(
        shop=shop,
        member=member,
        reward_id=reward_id,
        idempotency_key=f"widget:{member.pk}:{idempotency_key}",
        points=points,
        actor=f"{SOURCE}:customer:{member.external_id}",
    )
    redemption.refresh_from_db()
    return redemption, created


def refusal_message(
    refused: RedemptionRefused, *, member: Member, name: PointsName = DEFAULT_POINTS_NAME
) -> str:
    """What the shopper reads when a redemption is refused (in the shop's name for points)."""
    if refused.code == "insufficient_points":
        balance = int(member.points_balance)
        return f"Not enough {name.plural} yet: you have {name.amount(balance)}."
    messages = {
        "limit_reached": "You have already redeemed this reward as many times as allowed.",
        "out_of_stock": "Sorry, this reward is out of stock.",
        "reward_inactive": "This reward is not available right now.",
        "grant_only": f"This reward can't be bought with {name.plural}.",
        "customer_unknown": "Log in to your account in the shop to redeem rewards.",
    }
    if refused.code == "tier_required":
        return refused.message[:1].upper() + refused.message[1:] + "."
    if refused.code == "points_invalid":
        return f"Choose a valid number of {name.plural}: " + refused.message + "."
    return messages.get(refused.code, refused.message[:1].upper() + refused.message[1:] + ".")


def redemption_message(redemption: Redemption, *, name: PointsName = DEFAULT_POINTS_NAME) -> str:
    if redemption.status == Redemption.Status.FAILED:
        return f"The reward could not be delivered; your {name.plural} were returned."
    if redemption.code:
        return f"Your code is {redemption.code}. Use it at checkout."
    if redemption.kind in ("store_credit", "variable_credit"):
        return "Store credit was added to your account."
    if redemption.kind == "donation":
        return "Thank you! Your donation was recorded."
    return "Done! The shop will be in touch about your reward."
