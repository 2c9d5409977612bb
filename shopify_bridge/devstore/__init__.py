"""The dev store: a local stand-in for Shopify, for the demo, the tests and the benchmarks.

With no internet, the app still talks to "Shopify" the way it does in production: signed
webhooks over HTTP in one direction, the Admin API through the ShopifyAPI client over HTTP
in the other. Nothing replaces the client library; only where it connects changes
(``SHOPIFY_ADMIN_API_ORIGIN = http://<host>/devstore/{shop}``).

- ``payloads``, ``client``, ``catalog``: realistic webhook payloads, a signed sender, a
  seeded product catalogue (pure, no Django).
- The simulated platform, mounted under ``/devstore/`` when ``DEVSTORE_ENABLED`` (default:
  ``DEBUG``):
  - ``models``: its state. ``DevStore`` is a simulated shop: the digest of the access token
    it issued, its GraphQL rate-limit bucket (2000 points, 100 points/s, enforced unless
    switched off), and the failures it was told to serve (``fail_mode``: HTTP 503 or 500,
    a THROTTLED answer, a slow answer; ``fail_remaining`` calls). ``DevStoreProduct`` holds
    its products with type, vendor, tags and collections; the other ``DevStore*`` tables
    hold what the app's mutations changed (webhook subscriptions, tags, metafields, store
    credit, discount codes, usage records) and ``DevStoreMutation`` every mutation received.
  - ``views``: ``POST /devstore/<shop>/admin/api/<version>/graphql.json``, checking
    ``X-Shopify-Access-Token`` and answering with Shopify's shapes, including
    ``extensions.cost.throttleStatus`` and the single-query cost limit.
  - ``graphql``: a small GraphQL reader and executor (the language the app sends);
    ``schema``: the query root (``nodes``, ``node``, ``shop``, ``customer``,
    ``webhookSubscriptions``, ...) and the mutation root (the mutations the app sends,
    with Shopify's userErrors); OAuth's endpoints will sit
    beside ``views.admin_graphql`` under the same ``/devstore/<shop>/admin/`` prefix.
  - ``services`` and ``manage.py devstore``: install the app on a simulated shop (the
    store issues a token and the app keeps it, as OAuth will), put products, make it fail,
    switch its rate limit, warm the app's cache.
"""
