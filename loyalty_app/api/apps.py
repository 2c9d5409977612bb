from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "loyalty_app.api"
    label = "api"
