"""Members who redeemed, as the widget's shopper does, and answers sent through the app
proxy (the widget's own fixtures: signed proxy requests, fresh rate limits)."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty_app.rewards.models import Redemption, Reward
from loyalty_app.rewards.services import reward_create
from loyalty_app.shops.models import Shop
from loyalty_app.surveys.models import SurveySettings
from tests.merchant_admin.conftest import admin  # noqa: F401 (a fixture, used by name)
from tests.widget.conftest import (  # noqa: F401 (fixtures, used by name)
    ProxyClient,
    _fresh_rate_limits,
    member_with_points,
    proxy,
    widget_on,
)

FIVE_OFF = {"kind": "fixed_amount", "title": "5.00 off", "points_cost": 500, "value": "5.00"}


@pytest.fixture
def survey_on(shop: Any) -> SurveySettings:
    return SurveySettings.objects.create(shop=shop.shop, enabled=True)


@pytest.fixture
def five_off(shop: Any) -> Reward:
    return reward_create(shop=shop.shop, data=FIVE_OFF, actor="test")


def redeem(widget: ProxyClient, reward: Reward, customer: str, key: str) -> dict[str, Any]:
    """Customer ``customer`` redeems ``reward`` in the widget; the answer's body."""
    response = widget.post(
        "redeem", {"reward_id": reward.pk, "idempotency_key": key}, customer=customer
    )
    assert response.status_code == 201, response.content
    return response.json()


def member_redeems(
    widget: ProxyClient, shop: Shop, reward: Reward, customer: str, key: str = "attempt-0001"
) -> Redemption:
    member = member_with_points(shop, customer, 500)
    redeem(widget, reward, customer, key)
    return Redemption.objects.get(shop=shop, idempotency_key=f"widget:{member.pk}:{key}")


def answer(widget: ProxyClient, customer: str, **data: Any) -> Any:
    return widget.post("survey", data, customer=customer)
