"""Points balances shown on the shop's customers (metafield loyalty.points), in batches
through the outbox, against the simulator over HTTP."""

from __future__ import annotations

import pytest

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.ledger.services import points_adjust
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_join_by_email, member_upsert
from loyalty_app.shops.services import shop_uninstall
from shopify_bridge.balance_sync import balances_publish
from shopify_bridge.devstore.models import DevStoreMetafield, DevStoreMutation
from shopify_bridge.models import AdminApiCall, BalanceMetafield
from shopify_bridge.tasks import balances_publish_all

pytestmark = pytest.mark.django_db(transaction=True)


def member(shop, customer_id: int, points: int) -> Member:
    row = member_upsert(shop=shop, customer=CustomerRef(external_id=str(customer_id)))
    if points:
        points_adjust(
            member=row,
            points=points,
            reason="test",
            idempotency_key=f"p{customer_id}-{points}",
            actor="test",
        )
    return row


def shown(shop) -> dict[str, str]:
    return {
        m.owner_id.rsplit("/", 1)[-1]: m.value
        for m in DevStoreMetafield.objects.filter(
            store__domain=shop.domain, namespace="loyalty", key="points"
        )
    }


def calls(shop) -> int:
    return DevStoreMutation.objects.filter(store__domain=shop.domain).count()


def test_changed_balances_reach_the_shop_in_batches_of_25_and_only_once(shop, simulator):
    # Given 30 members with points and one with none
    simulator.install(shop.shop)
    for n in range(30):
        member(shop.shop, 9000 + n, 10 + n)
    member(shop.shop, 9999, 0)

    # When the job runs twice
    assert balances_publish(shop=shop.shop) == 30
    assert balances_publish(shop=shop.shop) == 0

    # Then every balance is on its customer, in two calls (25 + 5), and nothing is resent
    assert shown(shop.shop) == {str(9000 + n): str(10 + n) for n in range(30)}
    assert calls(shop.shop) == 2


def test_a_balance_that_changes_is_sent_again_alone(shop, simulator):
    simulator.install(shop.shop)
    first = member(shop.shop, 9100, 50)
    member(shop.shop, 9101, 70)
    balances_publish(shop=shop.shop)

    points_adjust(member=first, points=-20, reason="spent", idempotency_key="spend-1", actor="t")
    assert balances_publish(shop=shop.shop) == 1
    assert balances_publish(shop=shop.shop) == 0  # the new balance is recorded as sent

    assert shown(shop.shop) == {"9100": "30", "9101": "70"}
    assert BalanceMetafield.objects.get(member=first).points_sent == 30


def test_a_call_that_gives_up_is_sent_again_by_the_next_run(shop, simulator, settings):
    # Given a shop that refuses every call for now
    simulator.install(shop.shop)
    member(shop.shop, 9200, 40)
    settings.ADMIN_CALL_MAX_ATTEMPTS = 1
    simulator.fail(shop.shop, "http_500", count=1)

    # When the job runs, the call gives up and forgets what it carried
    balances_publish(shop=shop.shop)
    assert AdminApiCall.objects.get(kind="balance_sync").status == AdminApiCall.Status.FAILED
    assert not BalanceMetafield.objects.exists()

    # Then the next run sends it
    assert balances_publish(shop=shop.shop) == 1
    assert shown(shop.shop) == {"9200": "40"}


def test_members_without_a_customer_id_and_uninstalled_shops_are_skipped(
    shop, other_shop, simulator
):
    simulator.install(shop.shop)
    simulator.install(other_shop.shop)
    member_join_by_email(shop=shop.shop, email="only@example.com")
    Member.objects.filter(email="only@example.com").update(points_balance=10)
    member(other_shop.shop, 9300, 25)
    shop_uninstall(domain=other_shop.shop.domain)

    balances_publish_all()

    assert shown(shop.shop) == {}
    assert shown(other_shop.shop) == {}
    assert not BalanceMetafield.objects.exists()


def test_one_shops_balances_never_reach_another_shop(shop, other_shop, simulator):
    simulator.install(shop.shop)
    simulator.install(other_shop.shop)
    member(shop.shop, 9400, 15)
    member(other_shop.shop, 9401, 35)

    balances_publish_all()

    assert shown(shop.shop) == {"9400": "15"}
    assert shown(other_shop.shop) == {"9401": "35"}
