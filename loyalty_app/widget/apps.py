from django.apps import AppConfig


class WidgetConfig(AppConfig):
    name = "loyalty_app.widget"
    label = "widget"
    verbose_name = "Storefront widget"
