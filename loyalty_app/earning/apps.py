from django.apps import AppConfig


class EarningConfig(AppConfig):
    name = "loyalty_app.earning"
    label = "earning"
