from django.urls import path

from . import views

app_name = "shopify_bridge"

urlpatterns = [
    path("webhooks", views.shopify_webhook, name="webhooks"),
]
