from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "loyalty_app.ledger"
    label = "ledger"
