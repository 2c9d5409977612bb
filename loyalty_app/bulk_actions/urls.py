from django.urls import re_path

from . import apis

urlpatterns = [
    re_path(r"^actions/bulk/?$", apis.BulkAwardApi.as_view(), name="actions-bulk"),
    re_path(
        r"^actions/bulk/(?P<award_id>[0-9]{1,18})/?$",
        apis.BulkAwardDetailApi.as_view(),
        name="actions-bulk-detail",
    ),
    re_path(
        r"^actions/bulk/(?P<award_id>[0-9]{1,18})/confirm/?$",
        apis.BulkAwardConfirmApi.as_view(),
        name="actions-bulk-confirm",
    ),
]
