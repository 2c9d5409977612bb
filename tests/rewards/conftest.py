"""Fixtures of the rewards tests: the dev-store simulator over real HTTP (the order
webhooks that use a code, the product facts of a collection punch card)."""

from tests.shopify_bridge.conftest import simulator  # noqa: F401 (a fixture, used by name)
