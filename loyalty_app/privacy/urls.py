from django.urls import re_path  # noqa: F401

# Merchant API routes of this domain, included under /api/v1/ by loyalty_app.api.urls.
urlpatterns: list = []
