"""Cash-back: a percentage of what shoppers spend, given back in the shop's currency.

The rules (the shop's tier definition holds the settings: ``cashback`` {enabled, rate,
delivery} and each tier's ``cashback_rate``):

- An order's cash-back is its net merchandise (after discounts and refunds; gift cards,
  shipping and tax excluded, as for points) times the rate of the tier the member held,
  under the definition in force when the order was placed. The rate is recorded the first
  time the order is computed; a later tier or definition change does not re-rate it.
- It is owed once the order is confirmed (the points' pending window). Every event about
  the order recomputes the target and writes only the difference to the append-only
  ``CashbackEntry`` ledger: a credit, or a reversal on refund or cancellation. Duplicates,
  replays and out-of-order events write nothing more.
- Money is Decimal in the order's (the shop's) currency, rounded half-even once per order
  to the currency's minor unit (``policies``).
- Delivery, through the platform's outbox in the same transaction: store credit, or a
  single-use discount code. A reversal takes the store credit back; when it cannot (the
  shopper spent it, or the cash-back was a discount code) the amount is kept as debt, and
  the member's next credits repay it before anything more is sent
  (``services._deliver``, ``services.cashback_delivery_settle``).
"""
