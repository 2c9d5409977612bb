from django.urls import path

from . import install_views, views

app_name = "shopify_bridge"

urlpatterns = [
    path("webhooks", views.shopify_webhook, name="webhooks"),
    path("install", install_views.install, name="install"),
    path("callback", install_views.callback, name="callback"),
]
