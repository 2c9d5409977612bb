from __future__ import annotations

import json
import logging

from loyalty_app.common.logging import JsonFormatter


def test_a_json_log_line_carries_the_shop_and_webhook_id():
    record = logging.LogRecord(
        "shopify_bridge.services", logging.INFO, __file__, 1, "webhook %s accepted", ("w1",), None
    )
    record.shop = "alpha.myshopify.com"
    record.webhook_id = "w1"

    line = json.loads(JsonFormatter().format(record))

    assert line["msg"] == "webhook w1 accepted"
    assert line["level"] == "INFO"
    assert line["logger"] == "shopify_bridge.services"
    assert line["shop"] == "alpha.myshopify.com"
    assert line["webhook_id"] == "w1"
    assert line["ts"].endswith("+00:00")


def test_an_accepted_webhook_is_logged_with_its_context(shop, post_webhook, caplog):
    from decimal import Decimal

    from shopify_bridge.devstore.payloads import LineSpec, order_payload

    with caplog.at_level(logging.INFO, logger="shopify_bridge.services"):
        post_webhook(
            "orders/create",
            order_payload(order_id=77, lines=[LineSpec(price=Decimal("3"))]),
            webhook_id="ctx-1",
        )

    accepted = [
        r
        for r in caplog.records
        if r.getMessage().startswith("webhook orders/create ctx-1 accepted")
    ]
    assert len(accepted) == 1
    assert accepted[0].shop == "alpha-store.myshopify.com"
    assert accepted[0].webhook_id == "ctx-1"
    assert accepted[0].topic == "orders/create"
