"""Every page answers in a fixed number of queries, whatever the number of members."""

from __future__ import annotations

import pytest

from loyalty_app.earning.services import campaign_save
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.rewards.services import reward_create

from .conftest import AdminClient, member_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_shop(admin: AdminClient) -> AdminClient:
    for n in range(25):
        member = member_create(admin.shop, n, imported_tier="Gold" if n % 2 else "")
        ledger_entry_add(
            member=member, kind="order", points=10 + n, idempotency_key=f"o{n}", source_id=str(n)
        )
        ledger_entry_add(
            member=member, kind="adjustment", points=5, idempotency_key=f"a{n}", reason="Goodwill"
        )
    for n in range(5):
        campaign_save(
            shop=admin.shop,
            data={
                "name": f"C{n}",
                "kind": "bonus",
                "bonus_points": 5,
                "starts_at": "2026-01-01T00:00:00",
                "ends_at": "2026-02-01T00:00:00",
            },
        )
    admin.post("/app/program/status", {"next": "home"})
    admin.post(
        "/app/tiers/",
        {
            "metric": "points_earned",
            "period": "lifetime",
            **{f"tiers-{n}-name": f"T{n}" for n in range(5)},
            **{f"tiers-{n}-threshold": str(n * 100) for n in range(5)},
        },
    )
    for n in range(5):
        reward_create(
            shop=admin.shop,
            data={"kind": "store_credit", "title": f"R{n}", "points_cost": 10, "value": "1"},
            actor="t",
        )
    return admin


# Each page: the session (shop by domain), then its own reads. The bounds leave no room
# for a query per member, entry or campaign (25 of each here).
@pytest.mark.parametrize(
    ("path", "params", "queries"),
    [
        ("/app/", {}, 10),
        ("/app/program/", {}, 6),
        ("/app/campaigns/", {}, 6),
        ("/app/customers/", {}, 6),
        ("/app/customers/", {"q": "customer1"}, 6),
        ("/app/customers/", {"q": "First1 Last1"}, 6),
        ("/app/activity/", {}, 8),
        ("/app/settings/", {}, 6),
        ("/app/tiers/", {}, 7),
        ("/app/cashback/", {}, 6),
        ("/app/rewards/", {}, 6),
        ("/app/rewards/new", {}, 6),
    ],
)
def test_a_page_with_many_members_takes_a_bounded_number_of_queries(
    busy_shop: AdminClient,
    django_assert_max_num_queries: object,
    path: str,
    params: dict,
    queries: int,
) -> None:
    with django_assert_max_num_queries(queries):  # type: ignore[operator]
        response = busy_shop.get(path, params)
    assert response.status_code == 200


def test_the_member_page_takes_a_bounded_number_of_queries(
    busy_shop: AdminClient, django_assert_max_num_queries: object
) -> None:
    member = busy_shop.shop.members.order_by("pk").first()
    # 10: with the shop's challenges for the badges and challenges card (one query, then
    # kept by the process for 5 seconds) and the member's referrals (one query).
    with django_assert_max_num_queries(10):  # type: ignore[operator]
        response = busy_shop.get(f"/app/customers/{member.pk}/")
    assert response.status_code == 200
