from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from loyalty_app.common.health import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("loyalty_app.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("shopify/", include("shopify_bridge.urls")),
    path("app/", include("loyalty_app.merchant_admin.urls")),
    path("proxy/", include("loyalty_app.widget.urls")),
    path("health", health, name="health"),
]

if settings.DEVSTORE_ENABLED:
    # The dev-store simulator (Shopify's side, for the demo, tests and benches).
    urlpatterns.append(path("devstore/", include("shopify_bridge.devstore.urls")))
