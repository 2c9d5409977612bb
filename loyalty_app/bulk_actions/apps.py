from django.apps import AppConfig


class BulkActionsConfig(AppConfig):
    name = "loyalty_app.bulk_actions"
    label = "bulk_actions"
    default_auto_field = "django.db.models.BigAutoField"
