from django.apps import AppConfig


class MerchantAdminConfig(AppConfig):
    name = "loyalty_app.merchant_admin"
    label = "merchant_admin"
