from django.urls import re_path

from . import apis

# Merchant API routes of this domain, included under /api/v1/ by loyalty_app.api.urls.
urlpatterns = [
    re_path(r"^rewards/?$", apis.RewardListApi.as_view(), name="rewards"),
    re_path(
        r"^rewards/(?P<reward_id>[0-9]{1,18})/?$",
        apis.RewardDetailApi.as_view(),
        name="reward",
    ),
]
