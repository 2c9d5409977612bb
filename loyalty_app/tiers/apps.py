from django.apps import AppConfig


class TiersConfig(AppConfig):
    name = "loyalty_app.tiers"
    label = "tiers"
