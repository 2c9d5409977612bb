"""Hostile input against the merchant API: every answer is a clear 2xx/4xx, never a 5xx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty_app.earning.domain import CustomerRef
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.ledger.services import ledger_entry_add
from loyalty_app.members.services import member_upsert

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
adjustment_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"points": json_values, "reason": json_values}),
    st.fixed_dictionaries(
        {
            "points": st.integers(min_value=-(10**12), max_value=10**12),
            "reason": st.text(max_size=600),
        }
    ),
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def member_with_points(shop: Any) -> Any:
    member = member_upsert(
        shop=shop.shop, customer=CustomerRef(external_id="900", email="fuzz@example.com")
    )
    ledger_entry_add(
        member=member, kind=LedgerEntry.Kind.ADJUSTMENT, points=1_000, idempotency_key="seed"
    )
    return member


@FUZZ
@given(body=adjustment_bodies, key=st.text(max_size=200))
def test_any_adjustment_body_gets_a_clear_answer(
    api: Client, member_with_points: Any, body: Any, key: str
) -> None:
    headers = {"Idempotency-Key": key} if key.isprintable() else {}
    response = api.post(
        "/api/v1/customers/900/adjustments",
        data=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code in {200, 201, 400, 409}, response.content
    assert "error" in response.json() or response.status_code in {200, 201}
    member_with_points.refresh_from_db()
    assert member_with_points.points_balance >= 0


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_raw_body_gets_a_clear_answer(api: Client, member_with_points: Any, raw: bytes) -> None:
    response = api.post(
        "/api/v1/customers/900/adjustments", data=raw, content_type="application/json"
    )
    assert response.status_code in {201, 400, 409}, response.content


@FUZZ
@given(customer_id=st.text(min_size=1, max_size=80).filter(lambda s: s.strip("/.") != ""))
def test_any_customer_id_in_the_path_is_a_404_or_the_customer(
    api: Client, member_with_points: Any, customer_id: str
) -> None:
    for route in ("", "/ledger"):
        response = api.get(f"/api/v1/customers/{quote(customer_id, safe='')}{route}")
        assert response.status_code in {200, 404}, (customer_id, response.content)
        if response.status_code == 200:
            assert customer_id == "900"
