from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "loyalty_app.common"
    label = "common"
