from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "loyalty_app.shops"
    label = "shops"
