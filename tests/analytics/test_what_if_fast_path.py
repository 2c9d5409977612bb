"""The what-if's database path gives exactly the points of the general path (each order
through ``order_breakdown``), on varied hand-checked orders.

The shop's orders, all in March 2025, read on 2 April (``months=1``), written by the
engine (``order_sync``) as the webhooks would:

| order | member | lines (shop money) | shipping / tax | what else |
| --- | --- | --- | --- | --- |
| O0 | A | 20.00 | | placed in February, before the month |
| O1 | A | 40.50 BEAN (collection Coffee), gift card 25.00 | 5.00 / 3.25 | |
| O2 | A | 10.25 MUG, 0.30 STICKER | 0 / 0.85 | |
| O3 | B | 80.00 BEAN (Coffee) | 8.00 / 0 | refunded: 20.00 of the line, 10.00 without lines |
| O4 | B | 15.55 MUG | | placed during a 2x campaign and a +25 bonus |
| O5 | C | 33.33 | | placed in tier Gold (earns 1.5x) |
| O6 | C | 4.99 | | still pending (not confirmed) |
| O7 | C | gift card 50.00 | | |
| -- | guest | 100.00 | | not a member: never replayed |
| -- | A | 60.00 | | cancelled: never replayed |

The current rules (saved after the orders): 1.25 points per unit, rounded up, shipping
counted. O3 (refunds) and O4 (campaigns) take the general path; the others the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from loyalty_app.analytics import simulation
from loyalty_app.analytics.simulation import what_if
from loyalty_app.earning.domain import CustomerRef, Purchase, PurchaseLine, Refund, RefundLine
from loyalty_app.earning.models import Order
from loyalty_app.earning.policies import program_from_dict
from loyalty_app.earning.services import campaign_save, order_sync, program_update
from loyalty_app.shops.models import Shop
from loyalty_app.tiers.policies import tier_program_from_dict

pytestmark = pytest.mark.django_db

END = datetime(2025, 4, 2, 12, 0, tzinfo=UTC)


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=UTC)


def line(line_id: str, amount: str, **facts: Any) -> PurchaseLine:
    return PurchaseLine(line_id=line_id, amount=Decimal(amount), **facts)


def buy(
    shop: Shop,
    clock: Any,
    external_id: str,
    day: str,
    lines: list[PurchaseLine],
    *,
    customer: str | None,
    shipping: str = "0",
    tax: str = "0",
    cancelled: bool = False,
    refunds: tuple[Refund, ...] = (),
) -> Order:
    clock.set(at(day))
    return order_sync(
        shop=shop,
        purchase=Purchase(
            external_id=external_id,
            currency="USD",
            customer=CustomerRef(external_id=customer) if customer else None,
            placed_at=at(day),
            updated_at=at(day),
            paid=True,
            cancelled=cancelled,
            lines=tuple(lines),
            shipping=Decimal(shipping),
            tax=Decimal(tax),
            refunds=refunds,
        ),
    )


def varied_orders(shop: Shop, clock: Any) -> None:
    """The orders of the module docstring, then the current rules; the clock on 2 April."""
    coffee = {"sku": "BEAN", "collections": ("Coffee",)}
    buy(shop, clock, "O0", "2025-02-10", [line("01", "20.00")], customer="A")
    buy(
        shop,
        clock,
        "O1",
        "2025-03-05",
        [line("11", "40.50", **coffee), line("12", "25.00", gift_card=True)],
        customer="A",
        shipping="5.00",
        tax="3.25",
    )
    buy(
        shop,
        clock,
        "O2",
        "2025-03-06",
        [line("21", "10.25", sku="MUG", vendor="Acme"), line("22", "0.30", sku="STICKER")],
        customer="A",
        tax="0.85",
    )
    buy(
        shop,
        clock,
        "O3",
        "2025-03-07",
        [line("31", "80.00", **coffee)],
        customer="B",
        shipping="8.00",
        refunds=(
            Refund(
                external_id="R3",
                order_external_id="O3",
                lines=(RefundLine(line_id="31", amount=Decimal("20.00")),),
                extra_amount=Decimal("10.00"),
            ),
        ),
    )
    for campaign in (
        {"name": "Double day", "kind": "multiplier", "multiplier": "2"},
        {"name": "Launch bonus", "kind": "bonus", "bonus_points": 25},
    ):
        campaign_save(
            shop=shop,
            data={
                **campaign,
                "starts_at": "2025-03-08T00:00:00+00:00",
                "ends_at": "2025-03-09T00:00:00+00:00",
            },
        )
    buy(shop, clock, "O4", "2025-03-08", [line("41", "15.55", sku="MUG")], customer="B")
    buy(shop, clock, "O5", "2025-03-09", [line("51", "33.33")], customer="C")
    # As if C was Gold (1.5x) when O5 was placed, and O6 still in its return window.
    Order.objects.filter(shop=shop, external_id="O5").update(
        tier="Gold", tier_multiplier=Decimal("1.5")
    )
    buy(shop, clock, "O6", "2025-03-10", [line("61", "4.99")], customer="C")
    Order.objects.filter(shop=shop, external_id="O6").update(confirmed=False)
    buy(shop, clock, "O7", "2025-03-11", [line("71", "50.00", gift_card=True)], customer="C")
    buy(shop, clock, "G1", "2025-03-12", [line("g1", "100.00")], customer=None)
    buy(shop, clock, "X1", "2025-03-13", [line("x1", "60.00")], customer="A", cancelled=True)
    clock.set(END)
    program_update(
        shop=shop,
        data={"points_per_unit": "1.25", "rounding": "up", "include_shipping": True},
        actor="test",
    )


TIERS = {
    "metric": "points_earned",
    "period": "lifetime",
    "tiers": [
        {"name": "Silver", "threshold": 0},
        {"name": "Gold", "threshold": 100, "earn_multiplier": "2"},
    ],
}


def both_paths(shop: Shop, program: dict[str, Any], tiers: dict[str, Any] | None = None) -> Any:
    """The replay by the database path and by the general path; they must be equal."""
    config = program_from_dict(program)
    definition = None if tiers is None else tier_program_from_dict(tiers)
    fast = what_if(shop=shop, program=config, tiers=definition, months=1, at=END)
    general = what_if(shop=shop, program=config, tiers=definition, months=1, at=END, fast=False)
    assert fast == general
    return fast


# Under the current rules (1.25, up, shipping): O1 (40.50 + 5.00) x 1.25 = 56.875 -> 57;
# O2 10.55 x 1.25 = 13.1875 -> 14; O3 line kept 60, 10.00 without lines leaves 50 of 60
# (weighted 50) + shipping 8.00 x 50/80 = 5.00: 55 x 1.25 = 68.75 -> 69; O4 15.55 x 2 =
# 31.10 x 1.25 = 38.875 -> 39 + 25 = 64; O5 33.33 x 1.5 = 49.995 x 1.25 = 62.49375 -> 63;
# O6 4.99 x 1.25 = 6.2375 -> 7; O7 nothing (gift card only).
CURRENT = 57 + 14 + 69 + 64 + 63 + 7
# Revenue: 40.50 + 10.55 + (80.00 - 30.00) + 15.55 + 33.33 + 4.99 + 0.
REVENUE = Decimal("154.92")


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        # O1 40.50 x 1.5 = 60.75 -> 61; O2 10.55 x 1.5 = 15.825 -> 16; O3 50 x 1.5 = 75;
        # O4 31.10 x 1.5 = 46.65 -> 47 + 25; O5 49.995 x 1.5 = 74.9925 -> 75;
        # O6 4.99 x 1.5 = 7.485 -> 7.
        ({"points_per_unit": "1.5", "rounding": "nearest"}, 61 + 16 + 75 + 72 + 75 + 7),
        # Minimum 20, cap 100, tax counted: O1 (40.50 + 3.25) x 2 = 87.5 -> 87; O2 under
        # the minimum; O3 50 x 2 = 100; O4 under the minimum (no bonus either);
        # O5 49.995 x 2 = 99.99 -> 99; O6 under the minimum.
        (
            {
                "points_per_unit": "2",
                "min_order_amount": "20",
                "max_points_per_order": 100,
                "include_tax": True,
            },
            87 + 0 + 100 + 0 + 99 + 0,
        ),
        # A cap of 50: O1 81, O3 100, O4 62 + 25 and O5 99 are held at 50; O2 21, O6 9.
        (
            {"points_per_unit": "2", "max_points_per_order": 50},
            50 + 21 + 50 + 50 + 50 + 9,
        ),
        # Rounded up, shipping and tax at 0.3: O1 (40.50 + 5.00 + 3.25) x 0.3 = 14.625 -> 15;
        # O2 (10.55 + 0.85) x 0.3 = 3.42 -> 4; O3 (50 + 5.00) x 0.3 = 16.5 -> 17;
        # O4 31.10 x 0.3 = 9.33 -> 10 + 25; O5 49.995 x 0.3 = 14.9985 -> 15;
        # O6 4.99 x 0.3 = 1.497 -> 2.
        (
            {
                "points_per_unit": "0.3",
                "rounding": "up",
                "include_shipping": True,
                "include_tax": True,
            },
            15 + 4 + 17 + 35 + 15 + 2,
        ),
        # A collection at 3x, MUG excluded (the general path only): O1 40.50 x 3 = 121.5
        # -> 121; O2 only the sticker, 0.30 -> 0; O3 60 x 3 = 180, x 50/60 = 150;
        # O4 excluded, the bonus stays: 25; O5 49.995 -> 49; O6 4.
        (
            {
                "line_rules": [
                    {"field": "collection", "value": "coffee", "multiplier": "3"},
                    {"field": "sku", "value": "MUG", "exclude": True},
                ]
            },
            121 + 0 + 150 + 25 + 49 + 4,
        ),
        # Paused: nothing.
        ({"enabled": False}, 0),
    ],
)
def test_the_database_path_gives_the_points_of_the_calculation(shop, clock, program, expected):
    # given the varied orders
    varied_orders(shop.shop, clock)

    # when the proposal is replayed by both paths (equal, checked in both_paths)
    result = both_paths(shop.shop, program)

    # then the points are the hand-checked ones
    assert (result.orders, result.revenue) == (7, REVENUE)
    assert (result.proposed.points_issued, result.current.points_issued) == (expected, CURRENT)


def test_proposed_tiers_rate_orders_with_their_multiplier_and_count_members(shop, clock):
    # given the varied orders; Gold proposed at 2x (C's O5 was placed in Gold)
    varied_orders(shop.shop, clock)

    # when 1 point per unit is replayed with those tiers (lifetime points earned)
    result = both_paths(shop.shop, {}, TIERS)

    # then O5 earns 33.33 x 2 = 66.66 -> 66; the rest 1x: O1 40, O2 10, O3 50, O4 31 + 25,
    # O6 4; and the members' points (confirmed orders, O0 included): A 20 + 40 + 10 = 70,
    # B 50 + 56 = 106, C 66 (O6 pending): A and C Silver, B Gold
    assert result.proposed.points_issued == 40 + 10 + 50 + 56 + 66 + 4
    assert result.proposed.tiers == [(None, 0), ("Silver", 2), ("Gold", 1)]


@pytest.mark.parametrize(
    ("period", "retention"),
    [
        ("lifetime", False),
        ("calendar_year", False),
        ("calendar_year", True),
        ("rolling_12_months", False),
        ("rolling_12_months", True),
    ],
)
def test_the_tier_periods_and_retention_agree_on_both_paths(shop, clock, period, retention):
    # given C's 90.00 order of March 2024 (the previous period of each period), then the
    # varied orders
    buy(shop.shop, clock, "P1", "2024-03-01", [line("p1", "90.00")], customer="C")
    varied_orders(shop.shop, clock)
    tiers = {
        "metric": "points_earned",
        "period": period,
        "retention": retention,
        "tiers": [{"name": "Silver", "threshold": 30}, {"name": "Gold", "threshold": 70}],
    }

    # when 2 points per unit are replayed
    result = both_paths(shop.shop, {"points_per_unit": "2"}, tiers)
    other = both_paths(shop.shop, {"points_per_unit": "0.5", "rounding": "up"}, tiers)

    # then A (40 + 81 + 21) and B (100 + 87) are Gold; C has 66 this period (O5 at 1x:
    # the proposed Gold has no multiplier) and 180 from March 2024: Gold when that order
    # counts (lifetime) or is kept (retention), else Silver
    gold = 3 if period == "lifetime" or retention else 2
    assert result.proposed.tiers == [(None, 0), ("Silver", 3 - gold), ("Gold", gold)]
    assert sum(count for _, count in other.proposed.tiers) == 3


def test_only_orders_with_refunds_or_campaigns_go_through_the_calculation(shop, clock, monkeypatch):
    # given the varied orders
    varied_orders(shop.shop, clock)
    rated: list[Any] = []
    calculate = simulation.order_points

    def counting(**kwargs: Any) -> int:
        rated.append(kwargs["lines"][0].line_id)
        return calculate(**kwargs)

    monkeypatch.setattr(simulation, "order_points", counting)

    # when a plain rate is replayed
    result = what_if(
        shop=shop.shop, program=program_from_dict({"points_per_unit": "2"}), months=1, at=END
    )

    # then only O3 and O4 were rated one by one (proposal and current rules each), and the
    # totals are still exact: 2 x (40.50, 10.55, 33.33 x 1.5, 4.99) down = 81 + 21 + 99
    # + 9; O3 50 x 2 = 100; O4 31.10 x 2 = 62 + 25
    assert sorted(rated) == ["31", "31", "41", "41"]
    assert result.proposed.points_issued == 81 + 21 + 99 + 9 + 100 + 87


def test_another_shops_orders_stay_out_of_the_database_path(shop, other_shop, clock):
    # given the varied orders in one shop and a big plain order in another
    varied_orders(shop.shop, clock)
    buy(other_shop.shop, clock, "O1", "2025-03-20", [line("11", "500.00")], customer="A")
    clock.set(END)

    # when each shop replays 2 points per unit
    mine = both_paths(shop.shop, {"points_per_unit": "2"}, TIERS)
    theirs = both_paths(other_shop.shop, {"points_per_unit": "2"}, TIERS)

    # then each sees only its own orders and members
    assert (mine.orders, mine.revenue) == (7, REVENUE)
    assert (theirs.orders, theirs.revenue, theirs.proposed.points_issued) == (
        1,
        Decimal("500.00"),
        1000,
    )
    assert theirs.proposed.tiers == [(None, 0), ("Silver", 0), ("Gold", 1)]
    assert sum(count for _, count in mine.proposed.tiers) == 3


def test_orders_of_the_same_basket_are_calculated_once_and_exactly(shop, clock, monkeypatch):
    # given the same basket (12.50 of the Café collection, a name the database path does
    # not match: not ASCII) bought by A, B and C; D too, but 5.00 of it refunded; E with
    # 5.00 shipping; F placed in tier Gold (1.5x)
    coffee = {"sku": "BEAN", "collections": ("Café",)}
    for n, customer in enumerate(["A", "B", "C"], start=1):
        buy(
            shop.shop,
            clock,
            f"S{n}",
            f"2025-03-1{n}",
            [line(f"s{n}", "12.50", **coffee)],
            customer=customer,
        )
    refund = Refund(
        external_id="RD",
        order_external_id="SD",
        lines=(RefundLine(line_id="sd", amount=Decimal("5.00")),),
    )
    buy(
        shop.shop,
        clock,
        "SD",
        "2025-03-05",
        [line("sd", "12.50", **coffee)],
        customer="D",
        refunds=(refund,),
    )
    buy(
        shop.shop,
        clock,
        "SE",
        "2025-03-06",
        [line("se", "12.50", **coffee)],
        customer="E",
        shipping="5.00",
    )
    buy(shop.shop, clock, "SF", "2025-03-17", [line("sf", "12.50", **coffee)], customer="F")
    Order.objects.filter(shop=shop.shop, external_id="SF").update(
        tier="Gold", tier_multiplier=Decimal("1.5")
    )
    clock.set(END)
    calculated: list[str] = []
    calculate = simulation.order_points

    def counting(**kwargs: Any) -> int:
        calculated.append(kwargs["lines"][0].line_id)
        return calculate(**kwargs)

    monkeypatch.setattr(simulation, "order_points", counting)
    program = {
        "points_per_unit": "2",
        "include_shipping": True,
        "line_rules": [{"field": "collection", "value": "CAFÉ", "multiplier": "3"}],
    }

    # when a rule on the collection is tried (every order takes the general path)
    result = what_if(shop=shop.shop, program=program_from_dict(program), months=1, at=END)

    # then A's basket was calculated once for A, B and C (12.50 x 3 x 2 = 75 each); D's
    # (7.50 kept: 45), E's ((37.50 + 5.00) x 2 = 85) and F's (37.50 x 1.5 x 2 = 112.5
    # -> 112) each on their own; the current rules kept the engine's points
    assert len(calculated) == 4 and {"sd", "se", "sf"} < set(calculated)
    assert result.proposed.points_issued == 75 * 3 + 45 + 85 + 112
    calculated.clear()
    general = what_if(
        shop=shop.shop, program=program_from_dict(program), months=1, at=END, fast=False
    )
    assert general == result and len(calculated) == 6


def test_orders_the_database_cannot_read_as_the_calculation_does_take_the_general_path(
    shop, clock, monkeypatch
):
    # given an order of 9 lines of 1.10; one whose stored amount has five decimals; one
    # whose amount is a JSON number; one with no lines left whose recorded merchandise
    # (50.00) no longer adds up; and a plain one
    buy(
        shop.shop,
        clock,
        "N9",
        "2025-03-10",
        [line(f"n{i}", "1.10") for i in range(9)],
        customer="A",
    )
    for external_id, lines in (
        ("D5", [{"id": "d5", "amount": "9.99995"}]),
        ("JN", [{"id": "jn", "amount": 10.5}]),
        ("EM", []),
    ):
        buy(shop.shop, clock, external_id, "2025-03-11", [line("x", "50.00")], customer="B")
        Order.objects.filter(shop=shop.shop, external_id=external_id).update(lines=lines)
    buy(shop.shop, clock, "PL", "2025-03-12", [line("pl", "20.00")], customer="C")
    clock.set(END)
    calculated: list[str] = []
    calculate = simulation.order_points

    def counting(**kwargs: Any) -> int:
        calculated.append(kwargs["lines"][0].line_id if kwargs["lines"] else "none")
        return calculate(**kwargs)

    monkeypatch.setattr(simulation, "order_points", counting)

    # when 2 points per unit are replayed
    result = both_paths(shop.shop, {"points_per_unit": "2"})

    # then 9 x 1.10 x 2 = 19.8 -> 19; 9.99995 x 2 = 19.9999 -> 19; 10.5 x 2 = 21; nothing
    # for no lines (as the calculation reads them); 40 for the plain order, which alone
    # the database path rated
    assert result.proposed.points_issued == 19 + 19 + 21 + 0 + 40
    # (the database path first, then the general path alone: all five)
    assert sorted(calculated[:4]) == ["d5", "jn", "n0", "none"] and len(calculated) == 4 + 5


# --- line rules in the database path -------------------------------------------------


def catalogue_orders(shop: Shop, clock: Any) -> None:
    """Orders whose lines carry the facts line rules match on, in March 2025, then the
    current rules (1 point per unit, vendor "ACME" at 2x); the clock on 2 April.

    | order | member | lines | what else |
    | --- | --- | --- | --- |
    | L1 | A | 40.00 BEAN-1 by Acme Roasters, product 501, Coffee and Summer Sale, Organic; 10.00 MUG by Acme, type Mug, tag Sale; gift card 25.00 BEAN-1 | |
    | L2 | B | 12.34 " bean-1 "; 7.77 product 502, type Tea, Tea Time | 4.00 shipping, 1.10 tax |
    | L3 | C | 19.99 type TEA, tags organic and Gift Idea | placed in Gold (1.5x) |
    | L4 | C | 30.00 BEAN-1 | 10.00 of it refunded |
    | L5 | D | 20.00 in Coffee | placed during a 2x campaign |
    | L6 | D | 15.00 BEAN-1 by "Café Noir" | a vendor not in ASCII |
    | L7 | A | 3.00 MUG | |
    """  # noqa: E501
    buy(
        shop,
        clock,
        "L1",
        "2025-03-03",
        [
            line(
                "11",
                "40.00",
                sku="BEAN-1",
                vendor="Acme Roasters",
                product_id="gid://shopify/Product/501",
                collections=("Coffee", "Summer Sale"),
                tags=("Organic",),
            ),
            line("12", "10.00", sku="MUG", vendor="Acme", product_type="Mug", tags=("Sale",)),
            line("13", "25.00", sku="BEAN-1", gift_card=True),
        ],
        customer="A",
    )
    buy(
        shop,
        clock,
        "L2",
        "2025-03-04",
        [
            line("21", "12.34", sku=" bean-1 "),
            line("22", "7.77", product_id="502", product_type="Tea", collections=("Tea Time",)),
        ],
        customer="B",
        shipping="4.00",
        tax="1.10",
    )
    buy(
        shop,
        clock,
        "L3",
        "2025-03-05",
        [line("31", "19.99", product_type="TEA", tags=("organic", "Gift Idea"))],
        customer="C",
    )
    Order.objects.filter(shop=shop, external_id="L3").update(
        tier="Gold", tier_multiplier=Decimal("1.5")
    )
    buy(
        shop,
        clock,
        "L4",
        "2025-03-06",
        [line("41", "30.00", sku="BEAN-1")],
        customer="C",
        refunds=(
            Refund(
                external_id="R4",
                order_external_id="L4",
                lines=(RefundLine(line_id="41", amount=Decimal("10.00")),),
            ),
        ),
    )
    campaign_save(
        shop=shop,
        data={
            "name": "Double day",
            "kind": "multiplier",
            "multiplier": "2",
            "starts_at": "2025-03-08T00:00:00+00:00",
            "ends_at": "2025-03-09T00:00:00+00:00",
        },
    )
    buy(
        shop,
        clock,
        "L5",
        "2025-03-08",
        [line("51", "20.00", collections=("Coffee",))],
        customer="D",
    )
    buy(
        shop,
        clock,
        "L6",
        "2025-03-10",
        [line("61", "15.00", sku="BEAN-1", vendor="Café Noir")],
        customer="D",
    )
    buy(shop, clock, "L7", "2025-03-11", [line("71", "3.00", sku="MUG")], customer="A")
    clock.set(END)
    program_update(
        shop=shop,
        data={
            "points_per_unit": "1",
            "line_rules": [{"field": "vendor", "value": "ACME", "multiplier": "2"}],
        },
        actor="test",
    )


# Each kind of line rule. Per line: 11 product 501 4x (over vendor 3.5x, SKU 3x and
# Coffee 2x); 12 Sale excluded (over MUG 5x); 13 a gift card, never; 21 SKU 3x (trimmed,
# any case); 22 Tea Time 1.75x (over type 1.25x and product 0.5x); 31 type 1.25x (over
# Gift Idea 1.1x); 41 and 61 SKU 3x; 51 Coffee 2x; 71 MUG 5x.
LINE_RULES = [
    {"field": "sku", "value": "BEAN-1", "multiplier": "3"},
    {"field": "collection", "value": "coffee", "multiplier": "2"},
    {"field": "vendor", "value": "acme roasters", "multiplier": "3.5"},
    {"field": "product_id", "value": "501", "multiplier": "4"},
    {"field": "tag", "value": "SALE", "exclude": True},
    {"field": "sku", "value": "mug", "multiplier": "5"},
    {"field": "product_id", "value": "502", "multiplier": "0.5"},
    {"field": "product_type", "value": "tea", "multiplier": "1.25"},
    {"field": "collection", "value": "TEA TIME", "multiplier": "1.75"},
    {"field": "tag", "value": "gift idea", "multiplier": "1.1"},
    {"field": "product_id", "value": "gid://shopify/Product/999", "exclude": True},
]

# Under the current rules (vendor Acme 2x, down): L1 40 + 10 x 2 = 60; L2 20.11 -> 20;
# L3 19.99 x 1.5 = 29.985 -> 29; L4 20 kept; L5 20 x 2 (campaign) = 40; L6 15; L7 3.
CATALOGUE_CURRENT = 60 + 20 + 29 + 20 + 40 + 15 + 3
# Revenue: 50.00 (no gift card) + 20.11 + 19.99 + (30.00 - 10.00) + 20.00 + 15.00 + 3.00.
CATALOGUE_REVENUE = Decimal("148.10")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # Down: L1 40 x 4 = 160; L2 37.02 + 13.5975 = 50.6175 -> 50; L3 24.9875 x 1.5
        # = 37.48125 -> 37; L4 20 kept x 3 = 60; L5 20 x 2 x 2 = 80; L6 45; L7 15.
        ({}, 160 + 50 + 37 + 60 + 80 + 45 + 15),
        # Nearest: L2 51.
        ({"rounding": "nearest"}, 160 + 51 + 37 + 60 + 80 + 45 + 15),
        # Up at 0.5: L1 80; L2 25.30875 -> 26; L3 18.740625 -> 19; L4 30; L5 40;
        # L6 22.5 -> 23; L7 7.5 -> 8.
        ({"rounding": "up", "points_per_unit": "0.5"}, 80 + 26 + 19 + 30 + 40 + 23 + 8),
        # Shipping and tax, a minimum of 10 and a cap of 100: L1 160 capped at 100 (its
        # merchandise, the excluded line included, 50.00); L2 50.6175 + 4.00 + 1.10 =
        # 55.7175 -> 55; L7 3.00 under the minimum: 0.
        (
            {
                "include_shipping": True,
                "include_tax": True,
                "min_order_amount": "10",
                "max_points_per_order": 100,
            },
            100 + 55 + 37 + 60 + 80 + 45 + 0,
        ),
    ],
)
def test_line_rules_in_the_database_path_give_the_points_of_the_calculation(
    shop, clock, monkeypatch, extra, expected
):
    # given the catalogue orders
    catalogue_orders(shop.shop, clock)
    calculated: list[str] = []
    calculate = simulation.order_points

    def counting(**kwargs: Any) -> int:
        calculated.append(kwargs["lines"][0].line_id)
        return calculate(**kwargs)

    monkeypatch.setattr(simulation, "order_points", counting)

    # when the line rules are replayed by both paths (equal, checked in both_paths)
    result = both_paths(shop.shop, {"line_rules": LINE_RULES, **extra})

    # then the points are the hand-checked ones, in both columns
    assert (result.orders, result.revenue) == (7, CATALOGUE_REVENUE)
    assert (result.proposed.points_issued, result.current.points_issued) == (
        expected,
        CATALOGUE_CURRENT,
    )
    # and the database path rated all but the refunded L4, L5 of the campaign and L6 with
    # its vendor not in ASCII (each under both rules; then all seven by the general path)
    fast_calculated = calculated[: len(calculated) - 14]
    assert sorted(fast_calculated) == ["41", "41", "51", "51", "61", "61"]


def test_line_rules_with_proposed_tier_multipliers_count_members_alike(shop, clock):
    # given the catalogue orders; Gold proposed at 2x (C's L3 was placed in Gold)
    catalogue_orders(shop.shop, clock)

    # when the line rules are replayed with those tiers (lifetime points earned)
    result = both_paths(shop.shop, {"line_rules": LINE_RULES}, TIERS)

    # then L3 earns 24.9875 x 2 = 49.975 -> 49; the members: A 160 + 15 = 175, B 50,
    # C 49 + 60 = 109, D 80 + 45 = 125: B Silver, the others Gold
    assert result.proposed.points_issued == 160 + 50 + 49 + 60 + 80 + 45 + 15
    assert result.proposed.tiers == [(None, 0), ("Silver", 1), ("Gold", 3)]


def test_a_paused_proposal_with_line_rules_issues_nothing(shop, clock):
    # given the catalogue orders
    catalogue_orders(shop.shop, clock)

    # when a paused program with line rules is replayed
    result = both_paths(shop.shop, {"enabled": False, "line_rules": LINE_RULES})

    # then it issues nothing; the current column is unchanged
    assert (result.proposed.points_issued, result.current.points_issued) == (
        0,
        CATALOGUE_CURRENT,
    )


def test_facts_the_database_cannot_match_as_the_calculation_does_take_the_general_path(
    shop, clock, monkeypatch
):
    # given 10.00 orders whose stored facts the calculation reads in its own way: a SKU
    # stored as a JSON number (read "7"), tags stored as text (read as its letters), a
    # tag with spaces at its ends (trimmed), a product type not in ASCII (case-folded:
    # "STRASSE" is "straße"); and a plain one
    odd = {
        "NU": {"sku": 7},
        "TX": {"tags": "xyz"},
        "SP": {"tags": [" Sale "]},
        "SS": {"product_type": "STRAßE"},
        "PL": {"sku": "7", "tags": ["Sale"]},
    }
    for n, (external_id, facts) in enumerate(odd.items()):
        buy(shop.shop, clock, external_id, f"2025-03-1{n}", [line("x", "10.00")], customer="A")
        Order.objects.filter(shop=shop.shop, external_id=external_id).update(
            lines=[{"id": external_id, "amount": "10.00", "gift_card": False, **facts}]
        )
    clock.set(END)
    calculated: list[str] = []
    calculate = simulation.order_points

    def counting(**kwargs: Any) -> int:
        calculated.append(kwargs["lines"][0].line_id)
        return calculate(**kwargs)

    monkeypatch.setattr(simulation, "order_points", counting)
    rules = [
        {"field": "sku", "value": "7", "multiplier": "2"},
        {"field": "tag", "value": "x", "multiplier": "3"},
        {"field": "tag", "value": "sale", "multiplier": "4"},
        {"field": "product_type", "value": "strasse", "multiplier": "5"},
    ]

    # when the rules are replayed
    result = both_paths(shop.shop, {"line_rules": rules})

    # then NU 20, TX 30, SP 40, SS 50 by the calculation; PL 40 (tag Sale 4x over SKU 2x)
    # in the database
    assert result.proposed.points_issued == 20 + 30 + 40 + 50 + 40
    fast_calculated = calculated[: len(calculated) - 5]
    assert sorted(fast_calculated) == ["NU", "SP", "SS", "TX"]


def test_line_rules_in_the_database_path_stay_within_the_shop(shop, other_shop, clock):
    # given the catalogue orders in one shop and an order of 100.00 BEAN-1 in another
    catalogue_orders(shop.shop, clock)
    buy(
        other_shop.shop,
        clock,
        "L1",
        "2025-03-20",
        [line("11", "100.00", sku="BEAN-1")],
        customer="A",
    )
    clock.set(END)

    # when each shop replays the line rules
    mine = both_paths(shop.shop, {"line_rules": LINE_RULES})
    theirs = both_paths(other_shop.shop, {"line_rules": LINE_RULES})

    # then each sees only its own orders
    assert (mine.orders, mine.proposed.points_issued) == (7, 160 + 50 + 37 + 60 + 80 + 45 + 15)
    assert (theirs.orders, theirs.revenue, theirs.proposed.points_issued) == (
        1,
        Decimal("100.00"),
        300,
    )
