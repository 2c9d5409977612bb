"""The merchant API: settings, the list, the figures; one shop never sees another's."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.test import Client

from loyalty_app.common.time import now
from loyalty_app.merchant_admin.models import AuditEntry
from loyalty_app.referrals.models import Referral
from loyalty_app.referrals.selectors import referral_figures
from loyalty_app.shops.services import shop_create
from shopify_bridge.devstore.storefront import app_proxy_query

from .conftest import PROGRAM, REFERRER, put_json


def test_the_program_round_trips_and_a_save_is_audited_once(store):
    body = store.api.get("/api/v1/referrals/program").json()
    assert body == PROGRAM

    again = put_json(store.api, "/api/v1/referrals/program", PROGRAM).json()
    assert again["changed"] is False
    audits = AuditEntry.objects.filter(shop=store.shop, action="referrals.update")
    assert audits.count() == 1
    assert audits.get().after == PROGRAM


def test_bad_settings_are_a_400_naming_each_field(store):
    response = put_json(
        store.api,
        "/api/v1/referrals/program",
        {
            "enabled": "yes",
            "friend_reward": {"kind": "percentage", "value": "150", "days_valid": 0},
            "referrer_reward": {"kind": "reward", "reward_id": 999999},
            "cap": {"count": -1, "period": "fortnight"},
        },
    )

    assert response.status_code == 400
    fields = set(response.json()["fields"])
    assert {
        "enabled",
        "friend_reward.value",
        "friend_reward.days_valid",
        "cap.count",
        "cap.period",
    } <= fields
    assert store.api.get("/api/v1/referrals/program").json() == PROGRAM


def test_another_shops_reward_cannot_be_the_referrers_reward(store, other_shop):
    from loyalty_app.rewards.models import Reward

    theirs = Reward.objects.create(
        shop=other_shop.shop, title="Theirs", kind="fixed_amount", points_cost=100, value=5
    )
    body = {**PROGRAM, "referrer_reward": {"kind": "reward", "reward_id": theirs.pk}}

    response = put_json(store.api, "/api/v1/referrals/program", body)

    assert response.status_code == 400
    assert "referrer_reward.reward_id" in str(response.json())


def test_the_list_and_the_summary_show_the_conversion(store):
    code = store.invite()
    store.invite("never.ordered@example.com")
    store.order(3001, "50.00", code=code)  # 40.00 kept after the 10.00 code
    store.order(3002, "25.00")  # the friend's second order counts as revenue too

    rows = store.api.get("/api/v1/referrals").json()
    assert [(r["friend_email"], r["status"]) for r in rows] == [
        ("never.ordered@example.com", "invited"),
        ("friend@example.com", "rewarded"),
    ]
    assert rows[1]["order_id"] == "3001"
    assert rows[1]["reward_points"] == 500
    assert rows[1]["referrer_customer_id"] == str(REFERRER)
    assert [r["status"] for r in store.api.get("/api/v1/referrals?status=rewarded").json()] == [
        "rewarded"
    ]

    today = now().date().isoformat()
    summary = store.api.get(f"/api/v1/referrals/summary?from={today}&to={today}").json()
    assert summary == {
        "from": today,
        "to": today,
        "referrals": 2,
        "conversions": 1,
        "conversion_rate": "50.0",
        "revenue": "65.00",
        "currency": "USD",
        "rewards_issued": 1,
        "points_issued": 500,
        "refused": 0,
    }
    figures = referral_figures(
        shop=store.shop, period_start=now() - timedelta(days=1), period_end=now() + timedelta(1)
    )
    assert figures.revenue == Decimal("65.00")


def test_a_bad_period_is_a_400_naming_the_field(store):
    response = store.api.get("/api/v1/referrals/summary?from=2025-13-01")

    assert response.status_code == 400
    assert "from" in str(response.json())


def test_one_shop_never_sees_or_reaches_another_shops_referrals(store, client):
    code = store.invite()
    store.order(3001, code=code)
    other = shop_create(domain="gamma-store.myshopify.com")
    theirs = Client(headers={"Authorization": f"Bearer {other.api_token}"})

    assert theirs.get("/api/v1/referrals").json() == []
    summary = theirs.get("/api/v1/referrals/summary").json()
    assert (summary["referrals"], summary["conversions"], summary["revenue"]) == (0, 0, "0.00")
    assert theirs.get(f"/api/v1/referrals?customer_id={REFERRER}").status_code == 404
    assert theirs.get("/api/v1/referrals/program").json()["enabled"] is False
    # The first shop's link means nothing on the other shop's storefront.
    query = app_proxy_query(shop=other.shop.domain, customer_id="")
    landing = client.get(f"/proxy/r/{store.code_of(REFERRER)}?{urlencode(query)}")
    assert landing.status_code == 404
    assert Referral.objects.filter(shop=other.shop).count() == 0


def test_the_widget_shows_the_member_their_link_offer_and_counts(store):
    code = store.invite()
    store.order(3001, code=code)

    section = store.state(REFERRER)["referral"]

    assert section == {
        "code": section["code"],
        "link": f"https://{store.shop.domain}/apps/loyalty/r/{section['code'].lower()}",
        "path": f"/r/{section['code'].lower()}",
        "friend_offer": "10 USD off your first order of 30 USD or more",
        "referrer_reward": "500 points",
        "referrer_points": 500,
        "friends_referred": 1,
        "rewards_earned": 1,
    }
    assert store.code_of(REFERRER) == section["code"]  # stable


def test_a_shop_without_the_program_shows_no_referral_section(store, api):
    put_json(api, "/api/v1/referrals/program", {**PROGRAM, "enabled": False})

    assert store.state(REFERRER)["referral"] is None
