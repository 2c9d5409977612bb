"""Customers: search, the member page, and manual adjustments."""

from __future__ import annotations

import uuid

import pytest

from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.merchant_admin.models import AuditEntry
from loyalty_app.merchant_admin.selectors import members_search

from .conftest import AdminClient, member_create

pytestmark = pytest.mark.django_db


def names(response: object) -> list[str]:
    return [m.email for m in response.context["page"].members]  # type: ignore[attr-defined]


def test_search_finds_members_by_email_name_and_customer_id(admin: AdminClient) -> None:
    # given members of the shop, and one of another shop with a matching email
    ada = member_create(
        admin.shop, 1, email="Ada.Lovelace@Example.com", first_name="Ada", last_name="Lovelace"
    )
    member_create(admin.shop, 2, email="grace@example.com", first_name="Grace", last_name="Hopper")
    member_create(
        admin.shop,
        3,
        email="adam@example.com",
        first_name="Adam",
        last_name="Smith",
        external_id="99001",
    )
    # then each kind of query finds its members, without regard to case
    assert names(admin.get("/app/customers/", {"q": "ada.love"})) == [ada.email]
    assert names(admin.get("/app/customers/", {"q": "ADA"})) == ["adam@example.com", ada.email]
    assert names(admin.get("/app/customers/", {"q": "hopper"})) == ["grace@example.com"]
    assert names(admin.get("/app/customers/", {"q": "Grace Hop"})) == ["grace@example.com"]
    assert names(admin.get("/app/customers/", {"q": "lovelace ada"})) == [ada.email]
    assert names(admin.get("/app/customers/", {"q": "99001"})) == ["adam@example.com"]
    response = admin.get("/app/customers/", {"q": "nobody"})
    assert names(response) == [] and b"No customers found" in response.content


def test_search_never_shows_another_shops_members(
    admin: AdminClient, other_admin: AdminClient
) -> None:
    member_create(other_admin.shop, 1, email="shared@example.com")
    assert names(admin.get("/app/customers/", {"q": "shared@"})) == []
    assert names(admin.get("/app/customers/")) == []


def test_the_list_pages_by_keyset_newest_first(admin: AdminClient) -> None:
    members = [member_create(admin.shop, n) for n in range(30)]
    first = members_search(shop=admin.shop, page_size=25)
    assert [m.pk for m in first.members] == [m.pk for m in reversed(members)][:25]
    second = members_search(shop=admin.shop, after_id=first.next_after, page_size=25)
    assert [m.pk for m in second.members] == [m.pk for m in reversed(members)][25:]
    assert second.next_after is None
    response = admin.get("/app/customers/", {"after": first.next_after})
    assert len(response.context["page"].members) == 5


def test_the_member_page_shows_balance_pending_tier_and_ledger(admin: AdminClient) -> None:
    member = member_create(admin.shop, 1, imported_tier="Gold")
    for n in range(30):
        ledger_entry_add(
            member=member, kind="order", points=10, idempotency_key=f"o{n}", reason=f"Purchase #{n}"
        )
    response = admin.get(f"/app/customers/{member.pk}/")
    body = response.content.decode()
    assert 'data-testid="member-balance">300<' in body
    assert 'data-testid="member-tier">Gold<' in body
    assert "Purchase #29" in body and "Purchase #4" not in body
    older = admin.get(
        f"/app/customers/{member.pk}/", {"before": response.context["ledger"].next_before}
    )
    assert "Purchase #4" in older.content.decode()


def test_another_shops_member_page_is_not_found(
    admin: AdminClient, other_admin: AdminClient
) -> None:
    theirs = member_create(other_admin.shop, 1)
    assert admin.get(f"/app/customers/{theirs.pk}/").status_code == 404


def adjust(admin: AdminClient, member_id: int, **data: str) -> object:
    body = {"points": "50", "reason": "Goodwill", "idempotency_key": str(uuid.uuid4())}
    body.update(data)
    return admin.post(f"/app/customers/{member_id}/adjust", body)


def test_an_adjustment_moves_the_balance_with_its_reason_and_is_audited(admin: AdminClient) -> None:
    member = member_create(admin.shop, 1)
    response = adjust(admin, member.pk, points="50", reason="Late delivery")
    assert response.status_code == 303 and "toast=points_adjusted" in response["Location"]
    member.refresh_from_db()
    assert member.points_balance == 50
    entry = LedgerEntry.objects.get(member=member)
    assert (entry.kind, entry.points, entry.reason, entry.actor) == (
        "adjustment",
        50,
        "Late delivery",
        "staff:42",
    )
    audit = AuditEntry.objects.get(shop=admin.shop)
    assert audit.action == "points.adjust" and audit.object_id == str(member.pk)
    assert audit.before == {"points_balance": 0} and audit.after["points_balance"] == 50


def test_a_double_submit_adjusts_once(admin: AdminClient) -> None:
    member = member_create(admin.shop, 1)
    key = str(uuid.uuid4())
    adjust(admin, member.pk, idempotency_key=key)
    second = adjust(admin, member.pk, idempotency_key=key)
    assert "toast=adjustment_replayed" in second["Location"]
    member.refresh_from_db()
    assert member.points_balance == 50
    assert LedgerEntry.objects.filter(member=member).count() == 1
    assert AuditEntry.objects.filter(shop=admin.shop).count() == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"points": "0"}, "points", "must not be zero"),
        ({"points": "ten"}, "points", "A valid integer is required."),
        ({"reason": ""}, "reason", "This field may not be blank."),
        ({"reason": "x" * 501}, "reason", "Ensure this field has no more than 500 characters."),
    ],
)
def test_a_wrong_adjustment_shows_its_error_and_changes_nothing(
    admin: AdminClient, data: dict[str, str], field: str, message: str
) -> None:
    member = member_create(admin.shop, 1)
    response = adjust(admin, member.pk, **data)
    assert response.status_code == 400
    assert response.context["errors"].by_input[field] == message
    assert not LedgerEntry.objects.filter(member=member).exists()
    assert not AuditEntry.objects.exists()


def test_a_deduction_beyond_the_balance_is_refused(admin: AdminClient) -> None:
    member = member_create(admin.shop, 1)
    response = adjust(admin, member.pk, points="-10")
    assert response.status_code == 409
    assert "The balance is 0" in response.context["errors"].by_input["points"]
    assert not LedgerEntry.objects.filter(member=member).exists()


def test_shop_a_cannot_adjust_shop_bs_member(admin: AdminClient, other_admin: AdminClient) -> None:
    theirs = member_create(other_admin.shop, 1)
    response = adjust(admin, theirs.pk)
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.points_balance == 0 and not LedgerEntry.objects.exists()


def test_the_customer_list_shows_each_members_vip_tier(admin) -> None:
    from loyalty_app.members.models import Member
    from loyalty_app.tiers.services import member_tier_set, tier_program_update

    tier_program_update(
        shop=admin.shop,
        data={
            "metric": "orders_count",
            "period": "lifetime",
            "tiers": [{"name": "Gold", "threshold": 5}],
        },
        actor="test",
    )
    member = Member.objects.create(shop=admin.shop, external_id="771", email="gold@example.com")
    member_tier_set(shop=admin.shop, member=member, tier="Gold", actor="test")

    response = admin.get("/app/customers/")

    assert response.status_code == 200
    assert b'data-label="Tier">Gold<' in response.content
