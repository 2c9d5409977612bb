"""The embedded admin's Challenges page: a badge and a challenge built from a block,
activated, archived and audited; the member page shows badges; one shop's pages never
show or change another's."""

from __future__ import annotations

import pytest

from loyalty_app.challenges.models import Badge, Challenge
from loyalty_app.merchant_admin.models import AuditEntry
from tests.merchant_admin.conftest import AdminClient

from .conftest import CUSTOMER, day, paid_order


@pytest.fixture
def admin(shop) -> AdminClient:
    return AdminClient(shop.shop)


@pytest.fixture
def other_admin(other_shop) -> AdminClient:
    return AdminClient(other_shop.shop)


def spring(**fields: str) -> dict[str, str]:
    return {
        "name": "Spring regular",
        "description": "Three orders",
        "block": "orders_count",
        "orders": "3",
        "amount": "999",  # another block's input: not sent on
        "starts_on": day(-10),
        "ends_on": day(20),
        "reward_points": "50",
        **fields,
    }


def test_a_merchant_creates_a_badge_and_a_challenge_then_activates_it(admin, post_webhook):
    assert b"Give customers a goal" in admin.get("/app/challenges/").content
    created = admin.post(
        "/app/badges/new", {"badge_name": "Regular", "badge_icon": "crown", "badge_colour": "gold"}
    )
    assert created.status_code == 303 and "toast=badge_created" in created["Location"]
    badge = Badge.objects.get()
    assert (badge.icon, badge.colour) == ("crown", "gold")

    saved = admin.post("/app/challenges/new", spring(badge_id=str(badge.pk)))
    assert saved.status_code == 303, saved.content.decode()[:2000]
    challenge = Challenge.objects.get()
    assert (challenge.block, challenge.params, challenge.status) == (
        "orders_count",
        {"orders": 3},
        "draft",
    )
    activated = admin.post(f"/app/challenges/{challenge.pk}/activate")
    assert activated.status_code == 303 and "toast=challenge_activated" in activated["Location"]
    challenge.refresh_from_db()
    assert challenge.status == "active"
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "badge.create",
        "challenge.create",
        "challenge.activate",
    ]
    page = admin.get("/app/challenges/").content.decode()
    assert "Spring regular" in page and "Place N orders" in page and "Regular badge" in page

    # The member page shows the customer's progress and, once complete, the badge
    for order_id in (9001, 9002, 9003):
        post_webhook("orders/paid", paid_order(order_id))
    from loyalty_app.members.models import Member

    member = Member.objects.get(external_id=str(CUSTOMER))
    page = admin.get(f"/app/customers/{member.pk}/").content.decode()
    assert "Spring regular</strong>: 3 of 3 orders · completed" in page
    assert 'data-testid="member-badges"' in page and "<strong>Regular</strong>" in page
    detail = admin.get(f"/app/challenges/{challenge.pk}/").content.decode()
    assert "Customers who completed it (1)" in detail and "ada@example.com" in detail


def test_a_wrong_field_is_shown_next_to_its_input(admin):
    response = admin.post("/app/challenges/new", spring(orders="0", ends_on=day(-20)))
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="orders-error"' in body and "must be at least 1" in body
    assert "must not be before starts_on" in body
    assert not Challenge.objects.exists()


def test_an_active_challenges_goal_cannot_change_in_the_form(admin):
    admin.post("/app/challenges/new", spring())
    challenge = Challenge.objects.get()
    admin.post(f"/app/challenges/{challenge.pk}/activate")
    response = admin.post(f"/app/challenges/{challenge.pk}/", spring(name="Renamed", orders="1"))
    assert response.status_code == 303
    challenge.refresh_from_db()
    assert (challenge.name, challenge.params) == ("Renamed", {"orders": 3})
    archived = admin.post(f"/app/challenges/{challenge.pk}/archive")
    assert "toast=challenge_archived" in archived["Location"]
    challenge.refresh_from_db()
    assert challenge.status == "archived"


def test_another_shops_challenge_is_not_found(admin, other_admin):
    admin.post("/app/challenges/new", spring())
    challenge = Challenge.objects.get()
    assert other_admin.get(f"/app/challenges/{challenge.pk}/").status_code == 404
    assert other_admin.post(f"/app/challenges/{challenge.pk}/activate").status_code == 404
    assert other_admin.post(f"/app/challenges/{challenge.pk}/archive").status_code == 404
    assert "Spring regular" not in other_admin.get("/app/challenges/").content.decode()
    challenge.refresh_from_db()
    assert challenge.status == "draft"


def test_a_refused_activation_shows_why_on_the_form_and_changes_nothing(admin):
    admin.post("/app/challenges/new", spring())
    challenge = Challenge.objects.get()
    admin.post(f"/app/challenges/{challenge.pk}/archive")

    # Activating an archived challenge is refused: the form shows the challenge as stored
    # and the reason, not the (empty) activation post read as a form.
    response = admin.post(f"/app/challenges/{challenge.pk}/activate")
    assert response.status_code == 400
    body = response.content.decode()
    assert "an archived challenge cannot be activated" in body
    assert "is required" not in body
    assert 'value="Spring regular"' in body
    challenge.refresh_from_db()
    assert (challenge.name, challenge.status) == ("Spring regular", "archived")
