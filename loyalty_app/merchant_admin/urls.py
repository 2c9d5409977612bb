"""The embedded merchant admin, under /app/."""

from django.urls import path  # noqa: F401

app_name = "merchant_admin"

urlpatterns: list = []
