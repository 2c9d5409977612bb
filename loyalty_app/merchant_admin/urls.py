"""The embedded admin, under /app/. Every view authenticates with the platform's session
token (``auth.admin_page``)."""

from django.urls import path

from loyalty_app.bulk_actions.views import bulk_award, bulk_award_confirm_view, bulk_awards

from .views import activity, campaigns, customers, home, program, rewards, settings, tiers
from .views.analytics import analytics, survey_settings
from .views.challenges import (
    badge_new,
    challenge_activate_view,
    challenge_archive_view,
    challenge_edit,
    challenge_new,
    challenges,
)
from .views.referrals import referrals as referrals_page

app_name = "merchant_admin"

urlpatterns = [
    path("", home.home, name="home"),
    path("program/", program.program, name="program"),
    path("analytics/", analytics, name="analytics"),
    path("analytics/survey", survey_settings, name="survey-settings"),
    path("program/status", program.program_status, name="program-status"),
    path("campaigns/", campaigns.campaigns, name="campaigns"),
    path("campaigns/new", campaigns.campaign_new, name="campaign-new"),
    path("campaigns/<int:campaign_id>/", campaigns.campaign_edit, name="campaign"),
    path("campaigns/<int:campaign_id>/delete", campaigns.campaign_delete, name="campaign-delete"),
    path("actions/bulk/", bulk_awards, name="bulk-awards"),
    path("actions/bulk/<int:award_id>/", bulk_award, name="bulk-award"),
    path(
        "actions/bulk/<int:award_id>/confirm",
        bulk_award_confirm_view,
        name="bulk-award-confirm",
    ),
    path("customers/", customers.customers, name="customers"),
    path("customers/<int:member_id>/", customers.member, name="member"),
    path("customers/<int:member_id>/adjust", customers.member_adjust, name="member-adjust"),
    path("activity/", activity.activity, name="activity"),
    path("activity/calls/<int:call_id>/retry", activity.call_retry, name="call-retry"),
    path("settings/", settings.settings_page, name="settings"),
    path("tiers/", tiers.tiers, name="tiers"),
    path("tiers/preview", tiers.tiers_preview, name="tiers-preview"),
    path("cashback/", tiers.cashback, name="cashback"),
    path("referrals/", referrals_page, name="referrals"),
    path("rewards/", rewards.rewards, name="rewards"),
    path("rewards/new", rewards.reward_new, name="reward-new"),
    path("challenges/", challenges, name="challenges"),
    path("challenges/new", challenge_new, name="challenge-new"),
    path("challenges/<int:challenge_id>/", challenge_edit, name="challenge"),
    path(
        "challenges/<int:challenge_id>/activate",
        challenge_activate_view,
        name="challenge-activate",
    ),
    path("challenges/<int:challenge_id>/archive", challenge_archive_view, name="challenge-archive"),
    path("badges/new", badge_new, name="badge-new"),
    path("rewards/<int:reward_id>/", rewards.reward_edit, name="reward"),
    path("rewards/<int:reward_id>/archive", rewards.reward_archive, name="reward-archive"),
]
