"""shop_erase: every row of one uninstalled shop goes, the ledger's guards notwithstanding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.db import models

from loyalty_app.earning.services import campaign_save, program_update
from loyalty_app.imports.services import import_job_create, import_job_run
from loyalty_app.ledger.models import AppendOnlyError, LedgerEntry
from loyalty_app.ledger.services import points_adjust
from loyalty_app.members.models import Member
from loyalty_app.members.services import member_event_add
from loyalty_app.privacy.models import ShopErasure
from loyalty_app.privacy.services import data_request_record, shop_erase
from loyalty_app.referrals.models import Referral
from loyalty_app.referrals.services import (
    referral_code_for,
    referral_invite,
    referral_program_update,
)
from loyalty_app.shops.models import Shop
from loyalty_app.shops.services import shop_uninstall
from shopify_bridge.devstore.payloads import LineSpec, order_payload
from shopify_bridge.handlers import webhook_handle
from shopify_bridge.models import ProductFacts, WebhookEvent
from shopify_bridge.services import webhook_event_receive


def shop_models() -> list[type[models.Model]]:
    """Every model with a foreign key to Shop (whichever package added it)."""
    return [
        model
        for model in apps.get_models()
        if any(
            isinstance(f, models.ForeignKey) and f.related_model is Shop
            for f in model._meta.get_fields()
        )
    ]


def rows_of(shop_pk: int) -> dict[str, int]:
    counts = {}
    for model in shop_models():
        field = next(
            f.name
            for f in model._meta.get_fields()
            if isinstance(f, models.ForeignKey) and f.related_model is Shop
        )
        counts[model._meta.label] = model._default_manager.filter(
            **{f"{field}_id": shop_pk}
        ).count()
    return counts


def populate(shop: Shop, customer: int) -> None:
    """A shop with a program, a campaign, orders, an adjustment, events, an import, a data
    request, stored webhooks, product facts, and a referral program whose member referred
    a friend who ordered with the welcome code (the referrer got 50 points)."""
    program_update(shop=shop, data={"points_per_unit": 1}, actor="test")
    campaign_save(
        shop=shop,
        data={
            "name": "Double",
            "kind": "multiplier",
            "starts_at": "2020-01-01T00:00:00Z",
            "ends_at": "2030-01-01T00:00:00Z",
            "multiplier": "2",
        },
    )
    payload = order_payload(
        order_id=customer * 10,
        lines=[LineSpec(price=Decimal("50.00"))],
        customer_id=customer,
        email=f"c{customer}@example.com",
    )
    webhook_handle(shop=shop, topic="orders/paid", payload=payload, actor="test")
    member = Member.objects.get(shop=shop, external_id=str(customer))
    points_adjust(member=member, points=5, reason="gift", idempotency_key="k", actor="t")
    member_event_add(member=member, kind="points_expiring", key="e", data={"points": 1})
    job, _ = import_job_create(
        shop=shop,
        content=f"customer_id,points\n{customer + 1},10\n".encode(),
        filename="b.csv",
        created_by="t",
        enqueue=False,
    )
    import_job_run(job_id=job.pk)
    data_request_record(
        shop=shop, request_id="1", customer_id=str(customer), email="", order_ids=[]
    )
    webhook_event_receive(shop=shop, webhook_id="w", topic="orders/paid", payload=payload)
    ProductFacts.objects.create(shop=shop, product_id="1")
    referral_program_update(
        shop=shop,
        data={
            "enabled": True,
            "friend_reward": {"kind": "fixed_amount", "value": "10.00"},
            "referrer_reward": {"kind": "points", "points": 50},
        },
        actor="test",
    )
    code = referral_code_for(member=member).code
    welcome = referral_invite(shop=shop, code=code, email=f"f{customer}@example.com").referral
    friend_order = order_payload(
        order_id=customer * 10 + 1,
        lines=[LineSpec(price=Decimal("40.00"), discount=Decimal("10.00"))],
        customer_id=customer + 5,
        email=f"f{customer}@example.com",
        discount_code=welcome.welcome_code,
    )
    webhook_handle(shop=shop, topic="orders/paid", payload=friend_order, actor="test")
    assert Referral.objects.get(pk=welcome.pk).status == Referral.Status.REWARDED


def test_erasing_an_uninstalled_shop_deletes_all_its_rows_and_only_its_rows(shop, other_shop):
    # Given two populated shops, the first one uninstalled
    populate(shop.shop, 11)
    populate(other_shop.shop, 22)
    shop_uninstall(domain=shop.shop.domain)
    other_before = rows_of(other_shop.shop.pk)
    before = rows_of(shop.shop.pk)
    assert before["ledger.LedgerEntry"] > 0
    # The referral tables are among those checked, and hold rows to erase
    assert (
        before["referrals.ReferralProgram"],
        before["referrals.ReferralCode"],
        before["referrals.Referral"],
    ) == (1, 1, 1)

    # When it is erased
    erasure = shop_erase(domain=shop.shop.domain, actor="test")

    # Then no row of any table refers to it any more, and its Shop row is gone
    assert set(rows_of(shop.shop.pk).values()) == {0}
    assert not Shop.objects.filter(pk=shop.shop.pk).exists()
    assert not WebhookEvent.objects.filter(shop_id=shop.shop.pk).exists()
    # And the record says what was deleted
    assert erasure.outcome == "erased" and erasure.shop_pk == shop.shop.pk
    # the order, the gift, the import, the friend's order, the referral
    assert erasure.deleted["ledger.LedgerEntry"] == 5
    assert erasure.deleted["referrals.Referral"] == 1
    assert erasure.deleted["shops.Shop"] == 1
    # And the other shop has every row it had
    assert rows_of(other_shop.shop.pk) == other_before


def test_the_ledger_still_refuses_deletes_outside_an_erasure(shop):
    # Given a shop with ledger entries
    populate(shop.shop, 11)

    # Then neither the queryset nor an entry can be deleted
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.filter(shop=shop.shop).delete()
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.filter(shop=shop.shop).first().delete()


def test_an_installed_shop_is_not_erased_and_the_request_is_recorded(shop):
    # Given an installed shop with data
    populate(shop.shop, 11)
    before = rows_of(shop.shop.pk)

    # When an erasure is asked for
    erasure = shop_erase(domain=shop.shop.domain)

    # Then nothing is deleted, and the skip is recorded
    assert erasure.outcome == ShopErasure.Outcome.SKIPPED_INSTALLED
    assert rows_of(shop.shop.pk) == before


def test_erasing_an_unknown_shop_records_that_nothing_was_held(db):
    erasure = shop_erase(domain="Nobody.myshopify.com")

    assert (erasure.domain, erasure.outcome, erasure.shop_pk) == (
        "nobody.myshopify.com",
        "unknown_shop",
        None,
    )


def test_erasing_twice_deletes_once_and_records_the_second_as_unknown(shop):
    # Given an erased shop
    populate(shop.shop, 11)
    shop_uninstall(domain=shop.shop.domain)
    shop_erase(domain=shop.shop.domain)

    # When the erasure runs again
    second = shop_erase(domain=shop.shop.domain)

    # Then it finds nothing to do
    assert second.outcome == "unknown_shop"
    assert list(ShopErasure.objects.values_list("outcome", flat=True).order_by("pk")) == [
        "erased",
        "unknown_shop",
    ]
