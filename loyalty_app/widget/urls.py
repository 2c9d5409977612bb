"""The widget's endpoints under the app's proxy URL (``/proxy/``): the storefront reaches
them as ``/apps/loyalty/<path>``."""

from django.urls import path

from loyalty_app.referrals import views as referral_views
from loyalty_app.surveys import views as survey_views

from . import views

app_name = "widget"

urlpatterns = [
    path("state", views.StateApi.as_view(), name="state"),
    path("join", views.JoinApi.as_view(), name="join"),
    path("redeem", views.RedeemApi.as_view(), name="redeem"),
    path("birthday", views.BirthdayApi.as_view(), name="birthday"),
    path("product-points", views.ProductPointsApi.as_view(), name="product-points"),
    path("survey", survey_views.SurveyApi.as_view(), name="survey"),
    # A member's referral link: the friend's landing page (HTML, not the widget's JSON).
    path("r/<str:code>", referral_views.landing, name="referral-landing"),
]
