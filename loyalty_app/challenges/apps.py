from django.apps import AppConfig


class ChallengesConfig(AppConfig):
    name = "loyalty_app.challenges"
    label = "challenges"
