from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "loyalty_app.rewards"
    label = "rewards"
