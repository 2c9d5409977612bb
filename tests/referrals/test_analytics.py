"""Referrals in the analytics report: the API's ``referrals`` section and the Analytics
page's card, for the period and the one before, from a conversion played through real
webhooks; another shop's report carries none of it."""

from __future__ import annotations

from datetime import timedelta

from loyalty_app.common.time import now
from tests.merchant_admin.conftest import AdminClient

from .conftest import REFERRER


def test_the_report_counts_the_periods_referrals_conversions_and_referred_revenue(
    store, other_shop
):
    # Given a friend invited today whose first order (50.00 less the 10.00 code) counted,
    # and a second friend who took a code and never ordered
    code = store.invite()
    store.order(3001, code=code)
    store.invite("second@example.com")
    today = now().date().isoformat()
    period = {"from": (now() - timedelta(days=29)).date().isoformat(), "to": today}

    # When the analytics are read for the last 30 days
    body = store.api.get("/api/v1/analytics", period).json()

    # Then the referrals section has them; the 30 days before had none
    assert body["referrals"] == {
        "referrals": 2,
        "conversions": 1,
        "conversion_rate": "0.5000",
        "refused": 0,
        "revenue": "40.00",
        "rewards_issued": 1,
        "points_issued": 500,
    }
    assert body["previous"]["referrals"]["referrals"] == 0
    # and the referral points are among the points issued (the referrer's order's 40 and
    # the friend's 40, and the 500)
    assert body["points"]["issued"] == 40 + 40 + 500
    assert store.balance(REFERRER) == 540

    # And the Analytics page shows the card
    page = AdminClient(store.shop).get("/app/analytics/", period).content.decode()
    assert 'data-testid="referrals-card"' in page
    assert 'data-testid="referrals-conversions">1 ' in page
    assert "40.00 USD" in page

    # And another shop's report has no referral of this one
    theirs = AdminClient(other_shop.shop).get("/app/analytics/", period).content.decode()
    assert 'data-testid="referrals-invited">0 ' in theirs
