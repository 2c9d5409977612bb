from django.urls import re_path

from . import apis

# Merchant API routes of this domain, included under /api/v1/ by loyalty_app.api.urls
# (before the customers/<id> routes).
urlpatterns = [
    re_path(r"^cashback/summary/?$", apis.CashbackSummaryApi.as_view(), name="cashback-summary"),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/cashback/?$",
        apis.CustomerCashbackApi.as_view(),
        name="customer-cashback",
    ),
]
