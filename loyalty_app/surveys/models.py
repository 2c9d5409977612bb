"""The likelihood-to-recommend survey the widget asks after a redemption, and its answers."""

from __future__ import annotations

from django.db import models

from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Redemption
from loyalty_app.shops.models import Shop

MAX_QUESTION = 200
MAX_COMMENT = 1000


class SurveySettings(models.Model):
    """Whether a shop's widget asks the survey, and its question. At most one row per
    shop; a shop without a row does not ask (``selectors.survey_settings_get``).

    ``question`` blank means the default question with the shop's name
    (``selectors.DEFAULT_QUESTION``). Changed only by ``services.survey_settings_update``,
    under a row lock, with an audit entry in the same transaction.
    """

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="survey_settings")
    enabled = models.BooleanField(default=False)
    question = models.CharField(max_length=MAX_QUESTION, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "survey settings"

    def __str__(self) -> str:
        return f"survey of {self.shop_id}: {'on' if self.enabled else 'off'}"


class SurveyResponse(models.Model):
    """One member's answer to the survey after one redemption.

    Invariants: at most one response per redemption (unique ``(shop, redemption)``: a
    replayed or concurrent answer finds the first, which stands); ``score`` is 0 to 10, or
    null when the shopper dismissed the survey (a dismissal is an answer too: the widget
    does not ask again for that redemption, and the score counts in no figure);
    ``question`` is the text as it was asked. A customer redaction blanks ``comment`` and
    sets ``comment_erased_at``; the score stays, as the ledger's totals do.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="survey_responses")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="survey_responses")
    redemption = models.ForeignKey(
        Redemption, on_delete=models.CASCADE, related_name="survey_responses"
    )
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, max_length=MAX_COMMENT)
    question = models.CharField(max_length=MAX_QUESTION + 100)
    comment_erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "redemption"], name="survey_response_once_per_redemption"
            ),
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__lte=10),
                name="survey_response_score_0_to_10",
            ),
        ]
        indexes = [
            # The figures and the export read a shop's responses of a period.
            models.Index(fields=["shop", "created_at"], name="survey_response_shop_time"),
            models.Index(fields=["member", "-id"], name="survey_response_member"),
        ]

    def __str__(self) -> str:
        return f"survey response {self.pk}: {self.score}"
