from __future__ import annotations

from typing import Any

import pytest

from loyalty_app.bulk_actions.services import bulk_award_create, bulk_award_run
from loyalty_app.earning.services import program_update
from loyalty_app.members.models import Member

STORE_EVENT = {
    "key": "store_event",
    "name": "Attended the store event",
    "points": 40,
    "limit": {"count": 2, "period": "month"},
}
WORKSHOP = {"key": "workshop", "points": 15, "limit": {"count": 1, "period": "lifetime"}}


@pytest.fixture
def program(shop: Any) -> None:
    program_update(shop=shop.shop, data={"actions": [STORE_EVENT, WORKSHOP]}, actor="t")


def members(shop: Any) -> tuple[Member, Member]:
    ann = Member.objects.create(shop=shop, external_id="501", email="ann@example.com")
    bob = Member.objects.create(shop=shop, external_id="502", email="bob@example.com")
    return ann, bob


def upload(shop: Any, text: str | bytes, action: str = "store_event", **kwargs: Any):
    content = text.encode() if isinstance(text, str) else text
    award, _ = bulk_award_create(
        shop=shop,
        content=content,
        filename="list.csv",
        action=action,
        created_by="staff:42",
        enqueue=False,
        **kwargs,
    )
    return bulk_award_run(award_id=award.pk)
