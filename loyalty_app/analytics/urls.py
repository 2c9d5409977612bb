from django.urls import re_path

from . import apis

# Merchant API routes of this domain, included under /api/v1/ by loyalty_app.api.urls.
urlpatterns = [
    re_path(r"^analytics/?$", apis.AnalyticsApi.as_view(), name="analytics"),
    re_path(r"^analytics/what-if/?$", apis.WhatIfApi.as_view(), name="analytics-what-if"),
]
