"""The simulated platform's URLs, under ``/devstore/<shop>/`` (mounted when DEVSTORE_ENABLED).

A shop's Admin API origin is then ``http://<host>/devstore/<shop>``: the app's
``SHOPIFY_ADMIN_API_ORIGIN`` template ``http://<host>/devstore/{shop}``.
"""

from django.urls import path

from . import views

app_name = "devstore"

urlpatterns = [
    path(
        "<str:shop>/admin/api/<str:version>/graphql.json",
        views.admin_graphql,
        name="admin_graphql",
    ),
]
