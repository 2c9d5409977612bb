"""A member's tier through real signed webhooks: upgrades at once, the refund rule, no
demotion mid-period, period-end downgrades with and without retention in the shop's time
zone, and the customer API's tier."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from loyalty_app.members.models import Member
from loyalty_app.tiers import services
from loyalty_app.tiers.models import MemberTier, TierEvaluationJob, TierEvent
from loyalty_app.tiers.services import tier_evaluation_run
from shopify_bridge.devstore.payloads import LineSpec, line_id_for, order_payload, refund_payload

SHIRT = LineSpec(price=Decimal("100.00"), title="Shirt", sku="SHIRT")

GOLD_BY_SPEND: dict[str, Any] = {
    "metric": "amount_spent",
    "period": "calendar_year",
    "tiers": [
        {"name": "Silver", "threshold": "200", "customer_tag": "vip-silver"},
        {
            "name": "Gold",
            "threshold": "500",
            "customer_tag": "vip-gold",
            "entry_reward": {"points": 250},
        },
    ],
}


@pytest.fixture
def define(api, django_capture_on_commit_callbacks):
    """Save the shop's tiers through the API and run the re-evaluation it starts."""

    def save(definition: dict[str, Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            response = api.put(
                "/api/v1/tiers", data=json.dumps(definition), content_type="application/json"
            )
        assert response.status_code in (200, 201), response.content
        return response

    return save


def buy(post_webhook, clock, order_id: int, customer_id: int, quantity: int) -> dict[str, Any]:
    payload = order_payload(
        order_id=order_id,
        lines=[LineSpec(price=SHIRT.price, quantity=quantity, title="Shirt", sku="SHIRT")],
        customer_id=customer_id,
        email=f"c{customer_id}@example.com",
        created_at=clock(),
    )
    assert post_webhook("orders/create", payload).status_code == 200
    return payload


def refund(post_webhook, clock, refund_id: int, order_id: int, quantity: int, of: int) -> None:
    spec = LineSpec(price=SHIRT.price, quantity=of, title="Shirt", sku="SHIRT")
    payload = refund_payload(
        refund_id=refund_id,
        order_id=order_id,
        lines=[(line_id_for(order_id, 0), spec, quantity)],
        created_at=clock(),
    )
    assert post_webhook("refunds/create", payload).status_code == 200


def tier_of(shop, customer_id: int) -> str | None:
    member = Member.objects.get(shop=shop.shop, external_id=str(customer_id))
    row = MemberTier.objects.filter(member=member).first()
    return row.tier if row else None


def events_of(shop, customer_id: int) -> list[tuple[str, str, str]]:
    return list(
        TierEvent.objects.filter(shop=shop.shop, member__external_id=str(customer_id))
        .order_by("id")
        .values_list("from_tier", "to_tier", "reason")
    )


@pytest.fixture
def period_end(django_capture_on_commit_callbacks):
    """The hourly beat job, with the jobs it starts run as a worker would."""

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return services.tier_period_end_all()

    return run


@pytest.fixture
def gold(define, shop, clock):
    define(GOLD_BY_SPEND)
    clock.advance(minutes=1)


# --- upgrades ---------------------------------------------------------------------------


def test_the_order_that_reaches_a_threshold_upgrades_the_member_at_once(
    api, shop, clock, gold, post_webhook
):
    # Given a member who spent 100.00 this year
    buy(post_webhook, clock, 7001, 501, 1)
    assert tier_of(shop, 501) is None

    # When an order of 400.00 brings the year's spend to 500.00
    clock.advance(days=3)
    buy(post_webhook, clock, 7002, 501, 4)

    # Then the member is Gold straight away, with one event naming the order
    assert tier_of(shop, 501) == "Gold"
    event = TierEvent.objects.get(member__external_id="501")
    assert (event.from_tier, event.to_tier, event.reason) == ("", "Gold", "qualified")
    assert event.order_id == "7002"
    assert event.metric_value == Decimal("500")
    # And the customer API says so
    body = api.get("/api/v1/customers/501").json()
    assert body["tier"] == "Gold"


def test_a_redelivered_order_changes_nothing_more(api, shop, clock, gold, post_webhook):
    # Given a member made Gold by one order
    payload = buy(post_webhook, clock, 7011, 502, 5)
    assert tier_of(shop, 502) == "Gold"

    # When the same order arrives again (a retry with a new webhook id) and as an update
    post_webhook("orders/create", payload)
    post_webhook("orders/updated", payload)

    # Then there is still one event and one entry reward
    assert events_of(shop, 502) == [("", "Gold", "qualified")]
    member = Member.objects.get(shop=shop.shop, external_id="502")
    assert member.ledger_entries.filter(kind="tier_reward").count() == 1


def test_a_customer_without_tiers_defined_shows_the_imported_tier(api, shop):
    # Given a member carried over from another program with their tier, and no tiers here
    Member.objects.create(shop=shop.shop, external_id="503", imported_tier="Platinum")

    # Then the API shows the imported tier
    assert api.get("/api/v1/customers/503").json()["tier"] == "Platinum"


def test_once_tiers_are_defined_the_customer_api_shows_the_evaluated_tier(
    api, define, shop, clock, post_webhook
):
    # Given a member with an imported tier who buys 300.00
    Member.objects.create(shop=shop.shop, external_id="504", imported_tier="Platinum")
    buy(post_webhook, clock, 7021, 504, 3)

    # When the shop defines its tiers (the re-evaluation job runs)
    define(GOLD_BY_SPEND)

    # Then the API shows the tier the definition gives
    assert api.get("/api/v1/customers/504").json()["tier"] == "Silver"


# --- refunds ------------------------------------------------------------------------------


def test_a_late_refund_never_demotes_mid_year(api, shop, clock, gold, post_webhook, period_end):
    # Given a member made Gold in January by an order of 500.00
    buy(post_webhook, clock, 7101, 601, 5)
    assert tier_of(shop, 601) == "Gold"

    # When most of it is refunded in June, long after the return window
    clock.set(datetime(2025, 6, 10, 12, tzinfo=UTC))
    refund(post_webhook, clock, 81, 7101, 4, of=5)

    # Then the member stays Gold for the rest of the year
    assert tier_of(shop, 601) == "Gold"
    assert events_of(shop, 601) == [("", "Gold", "qualified")]
    # And the hourly period-end job leaves them alone too
    period_end()
    assert tier_of(shop, 601) == "Gold"


def test_a_refund_of_the_only_order_that_gave_the_tier_undoes_the_upgrade(
    api, shop, clock, gold, post_webhook
):
    # Given a Silver member (300.00) whom an order of 200.00 made Gold
    buy(post_webhook, clock, 7201, 602, 3)
    clock.advance(days=1)
    buy(post_webhook, clock, 7202, 602, 2)
    assert tier_of(shop, 602) == "Gold"

    # When that order is refunded within the return window
    clock.advance(days=10)
    refund(post_webhook, clock, 82, 7202, 2, of=2)

    # Then the upgrade is undone: back to Silver, with a refund event
    assert tier_of(shop, 602) == "Silver"
    assert events_of(shop, 602) == [
        ("", "Silver", "qualified"),
        ("Silver", "Gold", "qualified"),
        ("Gold", "Silver", "refund"),
    ]


def test_a_refund_that_leaves_the_member_qualified_changes_nothing(
    api, shop, clock, gold, post_webhook
):
    # Given a member made Gold by an order of 600.00
    buy(post_webhook, clock, 7301, 603, 6)

    # When one item of it is refunded soon after (500.00 remain)
    clock.advance(days=2)
    refund(post_webhook, clock, 83, 7301, 1, of=6)

    # Then the member is still Gold
    assert tier_of(shop, 603) == "Gold"


def test_a_refund_of_another_order_does_not_undo_the_upgrade(api, shop, clock, gold, post_webhook):
    # Given a member whose second order made them Gold
    buy(post_webhook, clock, 7401, 604, 3)
    clock.advance(days=1)
    buy(post_webhook, clock, 7402, 604, 2)

    # When the first order (not the one that made the upgrade) is refunded
    clock.advance(days=1)
    refund(post_webhook, clock, 84, 7401, 3, of=3)

    # Then nothing changes until the period ends
    assert tier_of(shop, 604) == "Gold"


def test_a_refund_after_the_return_window_of_the_upgrade_changes_nothing(
    api, shop, clock, gold, post_webhook
):
    # Given a member made Gold by one order
    buy(post_webhook, clock, 7501, 605, 5)

    # When it is refunded 31 days later
    clock.advance(days=31)
    refund(post_webhook, clock, 85, 7501, 5, of=5)

    # Then the member keeps Gold
    assert tier_of(shop, 605) == "Gold"


# --- the end of a period --------------------------------------------------------------


@pytest.fixture
def new_york(shop):
    shop.shop.timezone = "America/New_York"
    shop.shop.save(update_fields=["timezone"])


def test_without_retention_the_tier_ends_with_the_year_in_the_shops_time_zone(
    api, shop, clock, new_york, gold, post_webhook, period_end
):
    # Given a member made Gold in 2025 in a New York shop
    buy(post_webhook, clock, 7601, 701, 5)

    # When the job runs at 23:30 on 31 December in New York (04:30 UTC on 1 January)
    clock.set(datetime(2026, 1, 1, 4, 30, tzinfo=UTC))
    period_end()

    # Then the member is still Gold
    assert tier_of(shop, 701) == "Gold"

    # When it runs after midnight in New York
    clock.set(datetime(2026, 1, 1, 5, 30, tzinfo=UTC))
    assert period_end() == 1

    # Then the tier is gone, by a period_end event
    assert tier_of(shop, 701) is None
    assert events_of(shop, 701)[-1] == ("Gold", "", "period_end")
    job = TierEvaluationJob.objects.get(shop=shop.shop, kind="period_end")
    assert (job.status, job.total, job.processed, job.changed) == ("done", 1, 1, 1)


def test_with_retention_the_tier_is_kept_through_the_following_year(
    api, define, shop, clock, new_york, post_webhook, period_end
):
    # Given a program with retention and a member made Gold in 2025
    define({**GOLD_BY_SPEND, "retention": True})
    clock.advance(minutes=1)
    buy(post_webhook, clock, 7701, 702, 5)
    # and a member who reached Silver
    buy(post_webhook, clock, 7702, 703, 2)

    # When the year 2026 begins in New York and the job runs
    clock.set(datetime(2026, 1, 1, 6, tzinfo=UTC))
    period_end()

    # Then both keep their tiers through 2026
    assert (tier_of(shop, 702), tier_of(shop, 703)) == ("Gold", "Silver")
    # And a 2026 order of 200.00 makes the Gold member keep nothing more than Gold
    buy(post_webhook, clock, 7703, 702, 2)
    assert tier_of(shop, 702) == "Gold"

    # When 2027 begins in New York
    clock.set(datetime(2027, 1, 1, 5, 1, tzinfo=UTC))
    period_end()

    # Then the Gold member, who spent 200.00 in 2026, is Silver; the other has no tier
    assert (tier_of(shop, 702), tier_of(shop, 703)) == ("Silver", None)
    assert events_of(shop, 702)[-1] == ("Gold", "Silver", "period_end")


def test_running_the_period_end_again_changes_nothing(
    api, shop, clock, gold, post_webhook, period_end
):
    # Given a member demoted at the end of 2025
    buy(post_webhook, clock, 7801, 704, 5)
    clock.set(datetime(2026, 1, 1, 1, tzinfo=UTC))
    period_end()
    before = (TierEvent.objects.count(), TierEvaluationJob.objects.count())

    # When the job runs again an hour later and its job is run again by hand
    clock.advance(hours=1)
    period_end()
    tier_evaluation_run(job_id=TierEvaluationJob.objects.get(kind="period_end").pk)

    # Then nothing new was recorded
    assert (TierEvent.objects.count(), TierEvaluationJob.objects.count()) == before


def test_a_lifetime_tier_is_never_lowered_by_the_period_end_job(
    api, define, shop, clock, post_webhook, period_end
):
    # Given a lifetime program and a Gold member
    define({**GOLD_BY_SPEND, "period": "lifetime"})
    clock.advance(minutes=1)
    buy(post_webhook, clock, 7901, 705, 5)

    # When years pass
    clock.set(datetime(2029, 3, 1, tzinfo=UTC))
    assert period_end() == 0

    # Then the member is still Gold
    assert tier_of(shop, 705) == "Gold"


def test_a_rolling_tier_is_lowered_twelve_months_after_it_was_last_reached(
    api, define, shop, clock, post_webhook, period_end
):
    # Given a rolling 12-month program and a member made Gold on 15 January 2025
    define({**GOLD_BY_SPEND, "period": "rolling_12_months"})
    clock.advance(minutes=1)
    buy(post_webhook, clock, 7911, 706, 5)

    # When the daily job runs a day before the 12 months are over: still Gold
    clock.set(datetime(2026, 1, 14, 13, tzinfo=UTC))
    period_end()
    assert tier_of(shop, 706) == "Gold"

    # When it runs after
    clock.set(datetime(2026, 1, 16, 13, tzinfo=UTC))
    period_end()

    # Then the order has left the window and so has the tier
    assert tier_of(shop, 706) is None


# --- tenancy ------------------------------------------------------------------------------


def test_another_shops_order_never_changes_this_shops_tiers(
    api, shop, other_shop, clock, gold, post_webhook
):
    # Given the same customer id in another shop, which has no tiers
    payload = order_payload(
        order_id=7991,
        lines=[SHIRT] * 6,
        customer_id=707,
        email="c707@example.com",
        created_at=clock(),
    )

    # When that shop's order arrives
    post_webhook("orders/create", payload, shop_domain="beta-store.myshopify.com")

    # Then no tier is recorded anywhere
    assert not MemberTier.objects.exists()
    assert not Member.objects.filter(shop=shop.shop, external_id="707").exists()
