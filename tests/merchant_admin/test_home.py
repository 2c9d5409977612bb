"""Home: the key figures, the chart and the onboarding checklist."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from loyalty_app.earning.models import Order
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.models import Member
from loyalty_app.merchant_admin.chart import nice_ceiling, points_chart
from loyalty_app.merchant_admin.selectors import home_figures

from .conftest import AdminClient, member_create

pytestmark = pytest.mark.django_db


def placed(admin: AdminClient, member: Member, external_id: str, points: int) -> None:
    Order.objects.create(
        shop=admin.shop,
        member=member,
        external_id=external_id,
        has_snapshot=True,
        paid=True,
        placed_at=timezone.now(),
        points_awarded=points,
        points_target=points,
    )


def test_the_figures_compare_the_last_30_days_with_the_30_before(
    admin: AdminClient, clock: object
) -> None:
    # given activity 45 days ago and 5 days ago
    clock.set(datetime(2025, 1, 1, 12, tzinfo=UTC))  # type: ignore[attr-defined]
    old = member_create(admin.shop, 1)
    ledger_entry_add(member=old, kind="order", points=100, idempotency_key="a", source_id="1001")
    placed(admin, old, "1001", 100)
    clock.set(datetime(2025, 2, 10, 12, tzinfo=UTC))  # type: ignore[attr-defined]
    new = member_create(admin.shop, 2)
    ledger_entry_add(member=new, kind="order", points=40, idempotency_key="b", source_id="1002")
    ledger_entry_add(member=new, kind="order", points=-10, idempotency_key="c", source_id="1002")
    placed(admin, new, "1002", 30)
    placed(admin, new, "1003", 0)  # an order that earned nothing is not counted
    ledger_entry_add(member=old, kind="action", points=25, idempotency_key="d")
    clock.set(datetime(2025, 2, 15, 12, tzinfo=UTC))  # type: ignore[attr-defined]
    # when the figures are read
    figures = {f.label: (f.current, f.previous) for f in home_figures(shop=admin.shop).figures}
    # then each is this period against the one before
    assert figures == {
        "Members": (2, 1),
        "New members": (1, 1),
        "Points issued": (65, 100),
        "Points redeemed": (0, 0),
        "Orders with points": (1, 1),
        "Active members": (2, 1),
    }
    days = home_figures(shop=admin.shop).days
    assert len(days) == 31 and days[-6].day == date(2025, 2, 10) and days[-6].issued == 65


def test_a_new_shop_sees_the_checklist_with_links(admin: AdminClient) -> None:
    body = admin.get("/app/").content.decode()
    assert 'data-testid="onboarding"' in body
    assert 'data-testid="step-earn_rate"' in body and 'data-testid="step-widget"' in body
    assert 'data-testid="points-chart"' in body


def test_the_checklist_ticks_what_is_done(admin: AdminClient) -> None:
    admin.post("/app/program/status", {"next": "home"})
    response = admin.get("/app/")
    steps = {s.key: s.done for s in response.context["checklist"]}
    assert steps["earn_rate"] is True and steps["widget"] is False


def test_the_chart_scale_is_a_round_number_above_the_peak() -> None:
    assert [nice_ceiling(v) for v in (0, 7, 11, 180, 201, 999, 5001)] == [
        10,
        10,
        20,
        200,
        500,
        1000,
        10000,
    ]
    chart = points_chart([(date(2025, 1, d), d * 10, d) for d in range(1, 31)])
    assert chart.ticks[-1].label == "500" and not chart.empty
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.label == "30 Jan: 300 points issued"
    assert points_chart([(date(2025, 1, 1), 0, 0)]).empty
