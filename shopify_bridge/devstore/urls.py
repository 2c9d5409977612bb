"""The simulated platform's URLs, under ``/devstore/<shop>/`` (mounted when DEVSTORE_ENABLED).

A shop's Admin API origin is then ``http://<host>/devstore/<shop>``: the app's
``SHOPIFY_ADMIN_API_ORIGIN`` template ``http://<host>/devstore/{shop}``. The same origin
serves the shop's side of OAuth (``admin/oauth/...``) and its store admin
(``admin``, ``admin/apps/<api_key>/...``), as ``https://<shop>`` does on Shopify.
"""

from django.urls import path

from . import admin_frame, oauth, storefront, views

app_name = "devstore"

urlpatterns = [
    path(
        "<str:shop>/admin/api/<str:version>/graphql.json",
        views.admin_graphql,
        name="admin_graphql",
    ),
    path("<str:shop>/admin/oauth/authorize", oauth.authorize, name="oauth_authorize"),
    path("<str:shop>/admin/oauth/access_token", oauth.access_token, name="oauth_access_token"),
    path("<str:shop>/admin", admin_frame.store_home, name="admin_home"),
    path(
        "<str:shop>/admin/apps/<str:api_key>/id_token",
        admin_frame.id_token,
        name="admin_app_id_token",
    ),
    path("<str:shop>/admin/apps/<str:api_key>", admin_frame.app_frame, name="admin_app"),
    path(
        "<str:shop>/admin/apps/<str:api_key>/<path:path>",
        admin_frame.app_frame,
        name="admin_app_page",
    ),
    *storefront.urlpatterns,  # the storefront, its app proxy and the widget on it
]
