"""The demo shop's referral: Ada refers Katherine, who orders with her welcome code.

Played over HTTP through the same doors a storefront and Shopify use, against the running
app: the widget's state (through the signed app proxy) gives Ada her referral code; the
friend posts her email on the landing page (``/proxy/r/<code>``), which creates her
single-use welcome code in the simulated shop through the outbox; her first order then
arrives as a signed ``orders/create`` webhook carrying that code. The demo's program has
no return window, so the paid order is confirmed at once and Ada gets the referral points.

Running it again changes nothing: the same email gets the same referral back, and the
order's webhook id is fixed (a second delivery is a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

import requests

from loyalty_app.common.time import now
from loyalty_app.referrals.models import Referral
from loyalty_app.shops.models import Shop

from .client import WebhookSender
from .payloads import LineSpec, order_payload
from .storefront import app_proxy_query

REFERRER = "7001"  # Ada Lovelace, of the demo's first orders
FRIEND = {
    "customer_id": 7004,
    "email": "katherine@example.com",
    "first_name": "Katherine",
    "last_name": "Johnson",
}
ORDER_ID = 9006
WEBHOOK_ID = "demo-ref-o1"
KETTLE = LineSpec(
    price=Decimal("59.00"), discount=Decimal("10.00"), title="Pour-Over Kettle", sku="EQ-KETTLE"
)
# Not Ada's address or card: the fraud rules would refuse the referral otherwise.
ADDRESS = {
    "address1": "1 Langley Way",
    "city": "Hampton",
    "zip": "23681",
    "province_code": "VA",
    "country_code": "US",
}
CARD = {"credit_card_bin": "411111", "credit_card_number": "•••• •••• •••• 1111"}


class DemoReferralError(RuntimeError):
    """A step of the demo referral did not answer as the app should."""


@dataclass(frozen=True)
class DemoReferral:
    code: str  # Ada's referral code
    welcome_code: str  # Katherine's welcome code
    order_name: str
    status: str  # the referral's status after the order
    reward_points: int  # what Ada got for it


def _proxy(base_url: str, path: str, *, shop: Shop, customer_id: str = "") -> str:
    query = app_proxy_query(shop=shop.domain, customer_id=customer_id)
    return f"{base_url}/proxy/{path}?{urlencode(query)}"


def demo_referral_play(*, shop: Shop, base_url: str, sender: WebhookSender) -> DemoReferral:
    """Ada's code from the widget, Katherine's claim on the landing page, her first order
    by signed webhook; returns where the referral ended (``rewarded``, 250 points)."""
    session = requests.Session()
    state = session.get(_proxy(base_url, "state", shop=shop, customer_id=REFERRER), timeout=10)
    if state.status_code != 200 or not (state.json().get("referral") or {}).get("code"):
        raise DemoReferralError(f"the widget showed no referral code: {state.status_code}")
    code = str(state.json()["referral"]["code"])

    claim = session.post(
        _proxy(base_url, f"r/{code.lower()}", shop=shop),
        data={"email": FRIEND["email"]},
        timeout=30,
    )
    if claim.status_code not in (200, 201):
        raise DemoReferralError(f"the landing page refused the friend: {claim.status_code}")
    referral = Referral.objects.get(shop=shop, friend_email=FRIEND["email"])

    payload = order_payload(
        order_id=ORDER_ID,
        lines=[KETTLE],
        shipping=Decimal("6.00"),
        created_at=now().replace(microsecond=0),
        discount_code=referral.welcome_code,
        **FRIEND,
    )
    payload["shipping_address"] = {
        **ADDRESS,
        "first_name": FRIEND["first_name"],
        "last_name": FRIEND["last_name"],
    }
    payload["payment_details"] = CARD
    response = sender.send("orders/create", payload, webhook_id=WEBHOOK_ID)
    if response.status_code != 200:
        raise DemoReferralError(f"the friend's order webhook answered {response.status_code}")
    referral.refresh_from_db()
    return DemoReferral(
        code=code,
        welcome_code=referral.welcome_code,
        order_name=referral.order_name,
        status=referral.status,
        reward_points=referral.reward_points,
    )
