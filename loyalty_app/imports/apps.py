from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "loyalty_app.imports"
    label = "imports"
