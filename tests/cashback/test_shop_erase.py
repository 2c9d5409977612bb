"""A shop's erasure (shop/redact) takes its cash-back with it, append-only or not."""

from __future__ import annotations

import pytest

from loyalty_app.cashback.models import (
    CashbackAccount,
    CashbackDelivery,
    CashbackEntry,
    CashbackOrder,
)
from loyalty_app.earning.services import orders_confirm_due
from loyalty_app.privacy.services import shop_erase
from loyalty_app.shops.services import shop_uninstall

from .conftest import PENDING_DAYS, line

pytestmark = pytest.mark.django_db(transaction=True)


def test_erasing_an_uninstalled_shop_deletes_its_cash_back_rows(store, clock):
    # given a shop with cash-back credited and partly reversed, then uninstalled
    kept = line("40.00", 3)
    order = store.order(1001, [kept])
    clock.advance(days=PENDING_DAYS, hours=1)
    orders_confirm_due()
    store.refund(9001, order, 0, kept, 1)
    assert CashbackEntry.objects.count() == 2
    shop_uninstall(domain=store.domain)

    # when the shop is erased
    erasure = shop_erase(domain=store.domain)

    # then every cash-back row of it is gone
    assert erasure.outcome == "erased"
    for model in (CashbackEntry, CashbackDelivery, CashbackOrder, CashbackAccount):
        assert not model.objects.exists(), model
