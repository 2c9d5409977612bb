from django.apps import AppConfig


class ShopifyBridgeConfig(AppConfig):
    name = "shopify_bridge"
    label = "shopify_bridge"
    verbose_name = "Shopify bridge"
