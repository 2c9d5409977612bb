from django.apps import AppConfig


class CashbackConfig(AppConfig):
    name = "loyalty_app.cashback"
    label = "cashback"
