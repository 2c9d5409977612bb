from django.urls import re_path

from . import apis

# Merchant API routes of this domain, included under /api/v1/ by loyalty_app.api.urls.
urlpatterns = [
    re_path(r"^referrals/?$", apis.ReferralListApi.as_view(), name="referrals"),
    re_path(r"^referrals/program/?$", apis.ReferralProgramApi.as_view(), name="referral-program"),
    re_path(r"^referrals/summary/?$", apis.ReferralSummaryApi.as_view(), name="referral-summary"),
]
