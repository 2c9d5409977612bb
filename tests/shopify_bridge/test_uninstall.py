"""app/uninstalled: the shop stops at once (token, jobs, webhooks) and a re-install restores it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from loyalty_app.actions.services import birthdays_award
from loyalty_app.actions.tasks import birthdays_award_all, birthdays_award_shop
from loyalty_app.common.time import now
from loyalty_app.earning.models import Order
from loyalty_app.earning.services import orders_confirm_due, program_update
from loyalty_app.earning.tasks import points_expire_all, points_expire_shop
from loyalty_app.imports.models import ImportJob
from loyalty_app.imports.services import import_job_create
from loyalty_app.imports.tasks import import_job_run, import_jobs_sweep
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_birthday_set
from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import shop_install
from shopify_bridge import services
from shopify_bridge.devstore.payloads import LineSpec, order_payload
from shopify_bridge.models import ProductFacts, WebhookEvent

BAG = LineSpec(price=Decimal("100.00"), title="Bag", sku="BAG")


def uninstall(post_webhook, domain: str = "alpha-store.myshopify.com", **kwargs) -> None:
    payload = {"id": 548380009, "name": "Alpha", "domain": domain, "myshopify_domain": domain}
    assert post_webhook("app/uninstalled", payload, shop_domain=domain, **kwargs).status_code == 200


def reinstall(domain: str = "alpha-store.myshopify.com") -> Shop:
    return shop_install(domain=domain, access_token="shpat_new_token")[0]


def buy(post_webhook, order_id: int, customer_id: int, **kwargs) -> None:
    payload = order_payload(
        order_id=order_id,
        lines=[BAG],
        customer_id=customer_id,
        email=f"c{customer_id}@example.com",
        created_at=now(),
    )
    assert post_webhook("orders/create", payload, **kwargs).status_code == 200


def balance(shop, customer_id: int) -> int:
    member = Member.objects.filter(shop=shop.shop, external_id=str(customer_id)).first()
    return member.points_balance if member else 0


def fresh(shop) -> Shop:
    return Shop.objects.get(pk=shop.shop.pk)


def test_app_uninstalled_marks_the_shop_uninstalled_and_drops_its_token_at_once(
    shop, other_shop, post_webhook
):
    # Given two installed shops with access tokens
    for s in (shop, other_shop):
        shop_install(domain=s.shop.domain, access_token="shpat_secret")

    # When the first one's app/uninstalled webhook arrives
    uninstall(post_webhook)

    # Then it is uninstalled with no token, the event done; the other shop is untouched
    alpha, beta = fresh(shop), fresh(other_shop)
    assert (alpha.state, alpha.access_token_encrypted) == ("uninstalled", "")
    assert alpha.uninstalled_at is not None
    assert WebhookEvent.objects.get(topic="app/uninstalled").status == "done"
    assert (beta.state, beta.access_token) == ("installed", "shpat_secret")


def test_a_second_app_uninstalled_delivery_changes_nothing(shop, post_webhook):
    # Given an uninstalled shop
    uninstall(post_webhook)
    first = fresh(shop).uninstalled_at

    # When the platform delivers the webhook again (same id, then a new id)
    uninstall(post_webhook, webhook_id="w-1")
    uninstall(post_webhook, webhook_id="w-1")

    # Then the shop stays uninstalled since the first time
    assert fresh(shop).uninstalled_at == first
    assert WebhookEvent.objects.filter(topic="app/uninstalled").count() == 2


def test_uninstall_marks_the_shops_product_facts_for_a_fresh_read(shop, other_shop, post_webhook):
    # Given cached product facts in both shops
    for s in (shop, other_shop):
        ProductFacts.objects.create(shop=s.shop, product_id="1", fetched_at=now())

    # When the first shop uninstalls
    uninstall(post_webhook)

    # Then its facts will be read again after a re-install; the other shop's stay fresh
    assert ProductFacts.objects.get(shop=shop.shop).fetched_at is None
    assert ProductFacts.objects.get(shop=other_shop.shop).fetched_at is not None


def test_an_app_uninstalled_processed_after_a_reinstall_does_not_uninstall_the_shop_again(
    shop, clock
):
    # Given an app/uninstalled stored at 12:00 but not processed (the workers were down)
    event = WebhookEvent.objects.get(
        pk=services.webhook_event_receive(
            shop=shop.shop,
            webhook_id="late-uninstall",
            topic="app/uninstalled",
            payload={"myshopify_domain": shop.shop.domain},
            triggered_at=clock(),
        ).event_id
    )
    # And the merchant installed the app again at 12:05
    clock.advance(minutes=5)
    reinstall()

    # When the late event is processed
    clock.advance(minutes=5)
    assert services.webhook_event_process(event_id=event.pk) == "ignored"

    # Then the shop stays installed
    assert fresh(shop).state == "installed"


def test_an_order_webhook_after_the_uninstall_is_stored_but_earns_nothing_even_after_reinstall(
    shop, post_webhook
):
    # Given an uninstalled shop
    uninstall(post_webhook)

    # When an order placed after the uninstall is delivered
    buy(post_webhook, 9001, 71)

    # Then it is stored and done, but applied to nothing
    event = WebhookEvent.objects.get(topic="orders/create")
    assert event.status == "done"
    assert not Order.objects.filter(shop=shop.shop).exists()
    # And a re-install does not replay it
    reinstall()
    assert balance(shop, 71) == 0


def test_a_late_delivery_of_an_order_placed_before_the_uninstall_still_earns(shop, post_webhook):
    # Given a shop uninstalled just now
    before = now() - timedelta(minutes=10)
    uninstall(post_webhook)

    # When a retry of an order webhook triggered before the uninstall arrives
    buy(post_webhook, 9002, 72, headers={"X-Shopify-Triggered-At": before.isoformat()})

    # Then the order earns as it would have: the shopper bought under the program
    assert balance(shop, 72) == 100


def test_the_webhook_sweep_leaves_an_uninstalled_shops_order_unapplied(
    shop, post_webhook, django_capture_on_commit_callbacks
):
    # Given an order event of an uninstalled shop whose queue message was lost
    uninstall(post_webhook)
    receipt = services.webhook_event_receive(
        shop=fresh(shop),
        webhook_id="lost",
        topic="orders/paid",
        payload=order_payload(order_id=9003, lines=[BAG], customer_id=73),
    )
    WebhookEvent.objects.filter(pk=receipt.event_id).update(next_attempt_at=now())

    # When the sweep re-enqueues it (eager: processed on commit)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_events_sweep() == 1

    # Then it is done without awarding anything
    assert WebhookEvent.objects.get(pk=receipt.event_id).status == "done"
    assert balance(shop, 73) == 0


def test_expiry_skips_an_uninstalled_shop_and_runs_again_after_reinstall(shop, clock, post_webhook):
    # Given 12-month expiry and 100 points earned on 20 January 2025
    program_update(
        shop=shop.shop,
        data={"expiry": {"mode": "per_earning", "months": 12, "reminder_days": 30}},
        actor="test",
    )
    clock.set(datetime(2025, 1, 20, 12, tzinfo=UTC))
    buy(post_webhook, 9101, 81)
    # And the shop uninstalled in December
    clock.set(datetime(2025, 12, 1, tzinfo=UTC))
    uninstall(post_webhook)

    # When the expiry jobs run after the points are due to expire
    clock.set(datetime(2026, 2, 1, tzinfo=UTC))
    assert points_expire_all() == 0
    assert points_expire_shop(shop.shop.pk) == 0

    # Then nothing expired
    assert balance(shop, 81) == 100
    # And after a re-install the job expires them
    reinstall()
    assert points_expire_all() == 1
    assert balance(shop, 81) == 0


def test_birthdays_skip_an_uninstalled_shop_and_are_awarded_again_after_reinstall(
    shop, clock, post_webhook
):
    # Given birthdays on and a member born on 17 May
    program_update(
        shop=shop.shop, data={"actions": [{"key": "birthday", "points": 200}]}, actor="test"
    )
    buy(post_webhook, 9201, 82)
    member_birthday_set(member=Member.objects.get(external_id="82"), month=5, day=17)
    # And the shop uninstalled
    uninstall(post_webhook)

    # When the birthday jobs run on 17 May
    clock.set(datetime(2025, 5, 17, 9, tzinfo=UTC))
    assert birthdays_award_all() == 0
    assert birthdays_award_shop(shop.shop.pk) == 0

    # Then no birthday award
    assert balance(shop, 82) == 100
    # And once installed again the job awards it
    reinstall()
    assert birthdays_award_all() == 1
    assert birthdays_award(shop=fresh(shop)) == 0  # already awarded this year
    assert balance(shop, 82) == 300


def test_pending_points_are_not_confirmed_while_uninstalled_and_are_after_reinstall(
    shop, clock, post_webhook
):
    # Given a 14-day return window and a pending order of 100 points
    program_update(shop=shop.shop, data={"pending_days": 14}, actor="test")
    clock.advance(minutes=1)
    buy(post_webhook, 9301, 83)
    uninstall(post_webhook)

    # When the confirmation job runs after the window
    clock.advance(days=15)
    assert orders_confirm_due() == 0

    # Then the points stay pending
    assert balance(shop, 83) == 0
    assert Order.objects.get(external_id="9301").confirmed is False
    # And after a re-install they are confirmed
    reinstall()
    assert orders_confirm_due() == 1
    assert balance(shop, 83) == 100


def test_an_import_of_an_uninstalled_shop_waits_and_runs_after_reinstall(shop, post_webhook):
    # Given an import stored for a shop that is then uninstalled
    job, _ = import_job_create(
        shop=shop.shop,
        content=b"customer_id,points\n301,120\n",
        filename="balances.csv",
        created_by="test",
        enqueue=False,
    )
    uninstall(post_webhook)

    # When its task and the stalled-import sweep run
    ImportJob.objects.filter(pk=job.pk).update(updated_at=now() - timedelta(minutes=40))
    assert import_job_run(job.pk) == "received"
    assert import_jobs_sweep() == 0

    # Then nothing was imported
    assert not Member.objects.filter(shop=shop.shop).exists()
    # And after a re-install the sweep runs it
    reinstall()
    assert import_jobs_sweep() == 1
    assert balance(shop, 301) == 120


def test_reinstall_restores_the_program_and_the_balances(shop, clock, post_webhook):
    # Given a shop with a program of 2 points per unit, and a member with 200 points
    program_update(shop=shop.shop, data={"points_per_unit": 2}, actor="test")
    clock.advance(minutes=1)
    buy(post_webhook, 9401, 84)
    assert balance(shop, 84) == 200
    entries = LedgerEntry.objects.filter(shop=shop.shop).count()

    # When the app is uninstalled, then installed again
    uninstall(post_webhook)
    shop_after = reinstall()

    # Then the same shop row comes back with its program, members and ledger
    assert (shop_after.pk, shop_after.state) == (shop.shop.pk, "installed")
    assert shop_after.access_token == "shpat_new_token"
    assert balance(shop, 84) == 200
    assert LedgerEntry.objects.filter(shop=shop.shop).count() == entries
    # And new orders earn under the restored program
    clock.advance(minutes=1)
    buy(post_webhook, 9402, 84)
    assert balance(shop, 84) == 400
