"""What the storefront widget's state says about challenges and badges, through the signed
app proxy."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from loyalty_app.challenges.selectors import widget_challenges, widget_challenges_forget
from loyalty_app.common.time import now
from loyalty_app.members.models import Member
from loyalty_app.merchant_admin.models import WidgetSettings
from tests.widget.conftest import ProxyClient

from .conftest import CUSTOMER, badge, challenge_active, day, paid_order


@pytest.fixture(autouse=True)
def _fresh() -> None:
    caches["ratelimit"].clear()
    widget_challenges_forget()


@pytest.fixture
def widget_on(shop: Any) -> WidgetSettings:
    return WidgetSettings.objects.create(shop=shop.shop, enabled=True)


@pytest.fixture
def proxy(client: Client, shop: Any) -> ProxyClient:
    return ProxyClient(client, shop.shop.domain)


def test_a_member_sees_progress_then_the_badge(shop, api, proxy, widget_on, post_webhook):
    # Given "2 orders in 20 days" giving 25 points and the Explorer badge
    explorer = badge(api, "Explorer", icon="leaf", colour="blue", description="Two visits")
    challenge_active(
        api,
        name="Come back soon",
        description="Two orders before the month ends",
        block="orders_count",
        orders=2,
        reward_points=25,
        badge_id=explorer["id"],
        ends_on=day(20),
    )
    post_webhook("orders/paid", paid_order(9001))

    # When the member opens the widget
    state = proxy.get("state", customer=str(CUSTOMER)).json()

    # Then the challenge shows "1 of 2 orders", half way, 20 days left, what it gives
    [running] = state["challenges"]["running"]
    assert (running["name"], running["text"], running["percent"]) == (
        "Come back soon",
        "1 of 2 orders",
        50,
    )
    assert (running["days_left_text"], running["completed"]) == ("20 days left", False)
    assert running["reward"]["points"] == 25
    assert running["reward"]["badge"]["name"] == "Explorer"
    assert state["challenges"]["badges"] == []

    # When the second order arrives, the challenge is complete and the badge is theirs
    post_webhook("orders/paid", paid_order(9002))
    state = proxy.get("state", customer=str(CUSTOMER)).json()
    [running] = state["challenges"]["running"]
    assert (running["text"], running["completed"]) == ("2 of 2 orders", True)
    [held] = state["challenges"]["badges"]
    assert (held["name"], held["icon"], held["colour_hex"], held["challenge"]) == (
        "Explorer",
        "leaf",
        "#2c6ecb",
        "Come back soon",
    )
    assert held["path"].startswith("M")
    assert state["member"]["balance"] == 60 + 25


def test_a_shop_without_challenges_shows_none_and_costs_no_query_once_read(shop, widget_on):
    member = Member.objects.create(shop=shop.shop, external_id="77", email="x@example.com")
    assert widget_challenges(shop=shop.shop, member=member, at=now()) is None
    with CaptureQueriesContext(connection) as queries:
        assert widget_challenges(shop=shop.shop, member=member, at=now()) is None
    assert len(queries) == 0


def test_another_shops_challenges_never_show(shop, other_shop, proxy, widget_on, post_webhook):
    other_api = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})
    challenge_active(other_api, block="orders_count", orders=2, reward_points=5)
    post_webhook("orders/paid", paid_order(9001))
    state = proxy.get("state", customer=str(CUSTOMER)).json()
    assert state["challenges"] is None
