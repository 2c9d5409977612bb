from django.urls import include, re_path

from loyalty_app.imports import apis as import_apis

from . import action_apis, apis, member_event_apis, program_apis

app_name = "api"

# A trailing slash is optional on every route.
urlpatterns = [
    # Each domain's own routes (tiers and cash-back, rewards, privacy requests).
    re_path(r"^", include("loyalty_app.tiers.urls")),
    re_path(r"^", include("loyalty_app.cashback.urls")),
    re_path(r"^", include("loyalty_app.rewards.urls")),
    re_path(r"^", include("loyalty_app.challenges.urls")),
    re_path(r"^", include("loyalty_app.privacy.urls")),
    re_path(r"^", include("loyalty_app.analytics.urls")),
    re_path(r"^", include("loyalty_app.referrals.urls")),
    re_path(r"^", include("loyalty_app.bulk_actions.urls")),
    re_path(r"^imports/?$", import_apis.ImportListApi.as_view(), name="imports"),
    re_path(
        r"^imports/(?P<job_id>[0-9]{1,18})/?$",
        import_apis.ImportDetailApi.as_view(),
        name="import",
    ),
    re_path(
        r"^member-events/?$",
        member_event_apis.MemberEventListApi.as_view(),
        name="member-events",
    ),
    re_path(r"^program/?$", program_apis.ProgramApi.as_view(), name="program"),
    re_path(r"^preview/?$", program_apis.PreviewApi.as_view(), name="preview"),
    re_path(r"^campaigns/?$", program_apis.CampaignListApi.as_view(), name="campaigns"),
    re_path(
        r"^campaigns/(?P<campaign_id>[0-9]{1,18})/?$",
        program_apis.CampaignDetailApi.as_view(),
        name="campaign",
    ),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/?$",
        apis.CustomerDetailApi.as_view(),
        name="customer-detail",
    ),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/ledger/?$",
        apis.CustomerLedgerApi.as_view(),
        name="customer-ledger",
    ),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/adjustments/?$",
        apis.CustomerAdjustmentApi.as_view(),
        name="customer-adjustments",
    ),
    re_path(r"^events/?$", action_apis.EventCreateApi.as_view(), name="events"),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/actions/?$",
        action_apis.CustomerActionsApi.as_view(),
        name="customer-actions",
    ),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/birthday/?$",
        action_apis.CustomerBirthdayApi.as_view(),
        name="customer-birthday",
    ),
]
