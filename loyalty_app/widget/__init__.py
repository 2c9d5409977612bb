"""The shopper's points widget on the storefront: its JSON endpoints, served through the
platform's storefront proxy (on Shopify: the app proxy, ``/apps/loyalty/...``)."""
