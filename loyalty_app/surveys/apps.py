from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "loyalty_app.surveys"
    label = "surveys"
    verbose_name = "Surveys (net promoter score)"
