from django.urls import re_path

from . import apis

# Merchant API routes of this domain, included under /api/v1/ by loyalty_app.api.urls
# (before its customers/<id> routes, so customers/<id>/redemptions is matched here).
urlpatterns = [
    re_path(r"^rewards/?$", apis.RewardListApi.as_view(), name="rewards"),
    re_path(
        r"^rewards/(?P<reward_id>[0-9]{1,18})/?$",
        apis.RewardDetailApi.as_view(),
        name="reward",
    ),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/redemptions/?$",
        apis.CustomerRedemptionListApi.as_view(),
        name="customer-redemptions",
    ),
    re_path(
        r"^redemptions/(?P<redemption_id>[0-9]{1,18})/?$",
        apis.RedemptionDetailApi.as_view(),
        name="redemption",
    ),
    re_path(r"^redemptions/?$", apis.RedemptionListApi.as_view(), name="redemptions"),
    re_path(
        r"^redemptions/(?P<redemption_id>[0-9]{1,18})/fulfil/?$",
        apis.RedemptionFulfilApi.as_view(),
        name="redemption-fulfil",
    ),
    re_path(
        r"^redemptions/(?P<redemption_id>[0-9]{1,18})/decline/?$",
        apis.RedemptionDeclineApi.as_view(),
        name="redemption-decline",
    ),
    re_path(r"^donations/summary/?$", apis.DonationSummaryApi.as_view(), name="donations-summary"),
    re_path(r"^billing/summary/?$", apis.BillingSummaryApi.as_view(), name="billing-summary"),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/punch-cards/?$",
        apis.CustomerPunchCardsApi.as_view(),
        name="customer-punch-cards",
    ),
]
