from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "loyalty_app.members"
    label = "members"
