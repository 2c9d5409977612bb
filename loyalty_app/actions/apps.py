from django.apps import AppConfig


class ActionsConfig(AppConfig):
    """Points for actions besides buying. No models of its own: ``ActionEvent`` lives in
    ``earning``; the app is installed so that Celery finds its tasks."""

    name = "loyalty_app.actions"
    label = "actions"
