"""A shop that calls its points "stars" reads "stars" in the widget, the admin and the API;
a shop that names nothing keeps "points"; one shop's name never reaches another shop."""

from __future__ import annotations

import pytest

from loyalty_app.earning.models import Program
from loyalty_app.earning.selectors import program_config, program_current
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.rewards.services import reward_create
from loyalty_app.tiers.services import tier_program_update
from tests.widget.conftest import member_with_points

from .conftest import STARS, name_points

pytestmark = pytest.mark.django_db

TIERS = {
    "metric": "points_earned",
    "tiers": [{"name": "Silver", "threshold": 0}, {"name": "Gold", "threshold": 500}],
}
FIVE_OFF = {"kind": "fixed_amount", "title": "5.00 off", "points_cost": 500, "value": "5.00"}


def test_the_widget_state_of_a_stars_shop_says_stars(proxy, shop, widgets_on):
    # given a shop that calls its points stars, earns 1 per unit, and has a points tier
    name_points(shop.shop, {"actions": [{"key": "signup", "points": 100}]})
    tier_program_update(shop=shop.shop, data=TIERS, actor="t")
    member = member_with_points(shop.shop, "7001", 120)
    ledger_entry_add(
        member=member,
        kind=LedgerEntry.Kind.EXPIRY,
        points=-20,
        idempotency_key="exp-1",
        reason="Points expired after 12 months without activity",
    )

    # when the member's widget and a guest's widget ask for their state
    body = proxy.get("state", customer="7001").json()
    guest = proxy.get("state").json()

    # then the names come with the state and every server text uses them
    assert body["points_name"] == {"singular": "star", "plural": "stars"}
    assert guest["points_name"] == {"singular": "star", "plural": "stars"}
    assert guest["program"]["earn_rate"] == "Earn 1 star for every 1.00 USD you spend"
    assert [t["requirement"] for t in guest["program"]["tiers"]] == [
        "Earn 0 stars",
        "Earn 500 stars",
    ]
    # (a manual gift is not "earned": the tier counts orders and actions)
    assert body["member"]["tier"]["progress_text"] == "Earn 500 more stars to reach Gold"
    assert [h["text"] for h in body["history"]] == [
        "Stars expired after 12 months without activity",
        "Welcome gift",
    ]
    # amounts stay integers
    assert body["member"]["balance"] == 100


def test_a_shop_without_a_name_keeps_points(proxy, shop, widgets_on):
    tier_program_update(shop=shop.shop, data=TIERS, actor="t")
    member_with_points(shop.shop, "7001", 120)

    body = proxy.get("state", customer="7001").json()

    assert body["points_name"] == {"singular": "point", "plural": "points"}
    assert body["program"]["earn_rate"] == "Earn 1 point for every 1.00 USD you spend"
    assert body["member"]["tier"]["progress_text"] == "Earn 500 more points to reach Gold"


def test_the_product_snippet_and_a_refusal_say_stars(proxy, shop, widgets_on):
    name_points(shop.shop, {"points_per_unit": "50"})
    reward = reward_create(shop=shop.shop, data=FIVE_OFF, actor="t")
    member_with_points(shop.shop, "7001", 1)

    product = proxy.get("product-points", product_id="9300000000", price="24.50").json()
    refused = proxy.post(
        "redeem", {"reward_id": reward.pk, "idempotency_key": "attempt-0001"}, customer="7001"
    ).json()

    assert product == {"points": 1225, "text": "Earn 1,225 stars with this purchase"}
    assert refused["error"] == "Not enough stars yet: you have 1 star."


def test_one_shops_name_never_reaches_another_shop(
    proxy, shop, other_shop, widgets_on, admin, other_admin
):
    # given the first shop calls its points stars and the second names nothing
    name_points(shop.shop)
    member_with_points(other_shop.shop, "7001", 5)

    # when the second shop's widget, admin and API are read
    widget = proxy.get("state", customer="7001", shop=other_shop.shop.domain).json()
    page = other_admin.get("/app/program/").content.decode()
    from django.test import Client

    api = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})
    program = api.get("/api/v1/program").json()

    # then it still says points everywhere
    assert widget["points_name"] == {"singular": "point", "plural": "points"}
    assert "Points per unit of currency" in page
    assert 'value="stars"' not in page and "Stars" not in page
    assert program["points_name"] == {"singular": "point", "plural": "points"}
    # and the second shop's token cannot change the first shop's name
    api.put(
        "/api/v1/program",
        {"points_name": {"singular": "bean", "plural": "beans"}},
        content_type="application/json",
    )
    assert program_config(program_current(shop=shop.shop)).points_name.plural == "stars"


def test_admin_pages_of_a_stars_shop_say_stars(admin, shop):
    # given a stars shop with a member, a reward and a campaign
    name_points(shop.shop)
    member = member_with_points(shop.shop, "7001", 1250)
    reward_create(shop=shop.shop, data=FIVE_OFF, actor="t")
    admin.post(
        "/app/campaigns/new",
        {
            "name": "Welcome",
            "kind": "bonus",
            "bonus_points": "1500",
            "starts_at": "2026-01-01T00:00",
            "ends_at": "2100-01-01T00:00",
        },
    )

    pages = {
        path: admin.get(path).content.decode()
        for path in (
            "/app/",
            "/app/program/",
            "/app/customers/",
            f"/app/customers/{member.pk}/",
            "/app/rewards/",
            "/app/campaigns/",
            "/app/activity/",
            "/app/tiers/",
        )
    }

    assert "Stars issued" in pages["/app/"]
    assert "Stars per unit of currency" in pages["/app/program/"]
    assert 'value="star"' in pages["/app/program/"] and 'value="stars"' in pages["/app/program/"]
    assert '<th scope="col" class="num">Stars</th>' in pages["/app/customers/"]
    assert "Stars history" in pages[f"/app/customers/{member.pk}/"]
    assert "Adjust stars" in pages[f"/app/customers/{member.pk}/"]
    assert "Give stars something to buy" not in pages["/app/rewards/"]  # it has a reward
    assert '<th scope="col" class="num">Stars</th>' in pages["/app/rewards/"]
    assert "+1,500 stars" in pages["/app/campaigns/"]
    assert "Recent stars" in pages["/app/activity/"]
    assert "Entry stars" in pages["/app/tiers/"]
    for path, html in pages.items():
        assert "Points" not in html.replace("points_", "").replace("-points", ""), path


def test_the_program_page_saves_the_name_as_a_new_version(admin, shop):
    page = admin.get("/app/program/").content.decode()
    assert 'value="point"' in page and 'value="points"' in page

    response = admin.post(
        "/app/program/",
        {
            "enabled": "on",
            "points_per_unit": "1",
            "rounding": "down",
            "expiry_mode": "off",
            "points_singular": "Bean",
            "points_plural": "Beans",
        },
    )

    assert response.status_code == 303
    assert Program.objects.get(shop=shop.shop).rules["points_name"] == {
        "singular": "bean",
        "plural": "beans",
    }
    assert "Beans per unit of currency" in admin.get("/app/program/").content.decode()


def test_the_program_page_shows_a_bad_name_next_to_its_input(admin, shop):
    response = admin.post(
        "/app/program/",
        {
            "enabled": "on",
            "points_per_unit": "1",
            "rounding": "down",
            "expiry_mode": "off",
            "points_singular": "st4r",
            "points_plural": "",
        },
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="points_singular-error"' in html
    assert "must be letters" in html
    assert not Program.objects.filter(shop=shop.shop).exists()


def test_the_api_reads_and_changes_the_name(api, shop):
    # the default
    assert api.get("/api/v1/program").json()["points_name"] == {
        "singular": "point",
        "plural": "points",
    }
    # a new version with the name
    created = api.put("/api/v1/program", STARS, content_type="application/json")
    assert created.status_code == 201
    assert created.json()["points_name"] == {"singular": "star", "plural": "stars"}
    assert created.json()["rules"]["points_name"] == {"singular": "star", "plural": "stars"}
    # the same again changes nothing
    assert api.put("/api/v1/program", STARS, content_type="application/json").status_code == 200
    # a bad name is a 400 naming the field, and nothing changes
    bad = api.put(
        "/api/v1/program",
        {"points_name": {"singular": "star", "plural": "stars!"}},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["fields"] == {
        "points_name.plural": ["must be letters, with single spaces between words"]
    }
    assert Program.objects.filter(shop=shop.shop).count() == 1
