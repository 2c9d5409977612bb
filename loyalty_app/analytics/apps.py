from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "loyalty_app.analytics"
    label = "analytics"
