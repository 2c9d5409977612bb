from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "loyalty_app.referrals"
    label = "referrals"
