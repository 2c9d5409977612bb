from django.urls import re_path

from . import apis

# Merchant API routes of this domain, included under /api/v1/ by loyalty_app.api.urls.
urlpatterns = [
    re_path(r"^challenges/?$", apis.ChallengeListApi.as_view(), name="challenges"),
    re_path(
        r"^challenges/(?P<challenge_id>[0-9]{1,18})/?$",
        apis.ChallengeDetailApi.as_view(),
        name="challenge",
    ),
    re_path(
        r"^challenges/(?P<challenge_id>[0-9]{1,18})/activate/?$",
        apis.ChallengeActivateApi.as_view(),
        name="challenge-activate",
    ),
    re_path(
        r"^challenges/(?P<challenge_id>[0-9]{1,18})/completions/?$",
        apis.ChallengeCompletionsApi.as_view(),
        name="challenge-completions",
    ),
    re_path(r"^badges/?$", apis.BadgeListApi.as_view(), name="badges"),
    re_path(r"^badges/(?P<badge_id>[0-9]{1,18})/?$", apis.BadgeDetailApi.as_view(), name="badge"),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/challenges/?$",
        apis.CustomerChallengesApi.as_view(),
        name="customer-challenges",
    ),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/badges/?$",
        apis.CustomerBadgesApi.as_view(),
        name="customer-badges",
    ),
]
