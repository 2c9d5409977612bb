from django.urls import re_path

from . import apis

# Merchant API routes of this domain, included under /api/v1/ by loyalty_app.api.urls
# (before the customers/<id> routes; tier-progress is a path of its own there).
urlpatterns = [
    re_path(r"^tiers/?$", apis.TierProgramApi.as_view(), name="tiers"),
    re_path(r"^tiers/preview/?$", apis.TierPreviewApi.as_view(), name="tiers-preview"),
    re_path(
        r"^tiers/evaluations/(?P<job_id>[0-9]{1,18})/?$",
        apis.TierEvaluationDetailApi.as_view(),
        name="tier-evaluation",
    ),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/tier-events/?$",
        apis.CustomerTierEventsApi.as_view(),
        name="customer-tier-events",
    ),
    re_path(
        r"^customers/(?P<customer_id>[^/]+)/tier-progress/?$",
        apis.CustomerTierProgressApi.as_view(),
        name="customer-tier-progress",
    ),
]
