"""Members known by customer id, or by email alone until the shop tells us who they are."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.ledger.services import points_adjust
from loyalty_app.members.models import Member
from loyalty_app.members.services import (
    member_birthday_set,
    member_event_add,
    member_join_by_email,
    member_upsert,
)


def test_joining_with_just_an_email_makes_one_member_however_often_it_is_asked(shop):
    first, created = member_join_by_email(shop=shop.shop, email="Joy@Example.com")
    again, created_again = member_join_by_email(shop=shop.shop, email="joy@example.com ")

    assert created and not created_again
    assert first.pk == again.pk
    assert first.external_id is None


def test_the_first_customer_with_that_email_claims_the_email_only_member_and_its_points(shop):
    # Given a member who joined with an email and was given 50 points
    joined, _ = member_join_by_email(shop=shop.shop, email="joy@example.com")
    points_adjust(member=joined, points=50, reason="welcome", idempotency_key="w", actor="t")

    # When the shop reports a customer with that email
    member = member_upsert(
        shop=shop.shop, customer=CustomerRef(external_id="901", email="JOY@example.com")
    )

    # Then it is the same member, now with the customer id, and the points are theirs
    assert member.pk == joined.pk
    member.refresh_from_db()
    assert member.external_id == "901"
    assert member.points_balance == 50
    assert Member.objects.filter(shop=shop.shop).count() == 1


def test_an_email_only_member_is_never_claimed_across_shops(shop, other_shop):
    member_join_by_email(shop=shop.shop, email="joy@example.com")

    other = member_upsert(
        shop=other_shop.shop, customer=CustomerRef(external_id="901", email="joy@example.com")
    )

    assert other.shop_id == other_shop.shop.pk
    assert Member.objects.get(shop=shop.shop).external_id is None


def test_joining_with_the_email_of_a_known_customer_finds_that_customer(shop):
    customer = member_upsert(
        shop=shop.shop, customer=CustomerRef(external_id="902", email="kim@example.com")
    )

    member, created = member_join_by_email(shop=shop.shop, email="KIM@example.com")

    assert member.pk == customer.pk and not created


def test_the_database_refuses_a_member_with_neither_customer_id_nor_email(shop):
    with pytest.raises(IntegrityError):
        Member.objects.create(shop=shop.shop, external_id=None, email="")


@pytest.mark.parametrize(("month", "day"), [(2, 30), (13, 1), (4, 31), (0, 5)])
def test_an_impossible_birthday_is_refused(shop, month, day):
    member, _ = member_join_by_email(shop=shop.shop, email="b@example.com")
    with pytest.raises(ValueError, match="valid day"):
        member_birthday_set(member=member, month=month, day=day)


def test_a_member_event_is_recorded_once_per_key(shop):
    member, _ = member_join_by_email(shop=shop.shop, email="e@example.com")

    assert member_event_add(member=member, kind="points_expiring", key="k:1", data={"points": 5})
    assert not member_event_add(member=member, kind="points_expiring", key="k:1")
    assert member.events.count() == 1
