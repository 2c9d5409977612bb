from django.urls import re_path

from . import apis

# Merchant API routes of this domain, included under /api/v1/ by loyalty_app.api.urls.
urlpatterns = [
    re_path(r"^data-requests/?$", apis.DataRequestListApi.as_view(), name="data-requests"),
    re_path(
        r"^data-requests/(?P<data_request_id>[0-9]{1,18})/?$",
        apis.DataRequestDetailApi.as_view(),
        name="data-request",
    ),
]
