from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "loyalty_app.privacy"
    label = "privacy"
