"""Writes of the survey: the merchant's settings, a shopper's answer, and the erasure of
a redacted customer's comments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from loyalty_app.common.time import now
from loyalty_app.members.models import Member
from loyalty_app.merchant_admin.services import audit_entry_add
from loyalty_app.rewards.models import Redemption
from loyalty_app.shops.models import Shop

from .models import MAX_COMMENT, MAX_QUESTION, SurveyResponse, SurveySettings
from .selectors import question_text


def survey_settings_update(
    *, shop: Shop, enabled: bool, question: str, actor: str
) -> SurveySettings:
    """Turn the survey on or off and set its question (blank: the default question).

    Raises ``ValidationError`` (``question``: too long) and changes nothing then. The row
    is locked, so two saves at once apply one after the other, each audited with what it
    replaced; a save that changes nothing writes no audit entry."""
    question = question.strip()
    if len(question) > MAX_QUESTION:
        raise ValidationError({"question": f"At most {MAX_QUESTION} characters."})
    with transaction.atomic():
        SurveySettings.objects.bulk_create([SurveySettings(shop=shop)], ignore_conflicts=True)
        row = SurveySettings.objects.select_for_update().get(shop=shop)
        before = {"enabled": row.enabled, "question": row.question}
        after = {"enabled": enabled, "question": question}
        if after != before:
            row.enabled, row.question, row.updated_by = enabled, question, actor[:200]
            row.save()
            audit_entry_add(
                shop=shop,
                actor=actor,
                action="survey.update",
                object_type="survey_settings",
                object_id=row.pk,
                before={k: v for k, v in before.items() if after[k] != v},
                after={k: v for k, v in after.items() if before[k] != v},
            )
    return row


class SurveyRefused(Exception):
    """An answer that cannot be recorded; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def survey_answer(
    *,
    shop: Shop,
    member: Member,
    redemption_id: int,
    score: int | None,
    comment: str = "",
) -> tuple[SurveyResponse, bool]:
    """Record the member's answer about one of their redemptions; returns (response,
    created). ``score`` None is a dismissal.

    Once per redemption: the unique constraint decides, so a replayed or concurrent
    answer returns the first response unchanged (``created`` False). Refused
    (``SurveyRefused``): another member's or another shop's redemption, or none
    (``not_found``); one whose delivery failed (``not_redeemed``); the survey is off
    (``survey_off``). A score outside 0-10 or a comment over 1000 characters is a
    ``ValueError``: the caller validated them."""
    if score is not None and not 0 <= score <= 10:
        raise ValueError("score must be 0 to 10")
    comment = "" if score is None else comment.strip()
    if len(comment) > MAX_COMMENT:
        raise ValueError(f"comment over {MAX_COMMENT} characters")
    existing = SurveyResponse.objects.filter(shop=shop, redemption_id=redemption_id).first()
    if existing is not None and existing.member_id == member.pk:
        return existing, False
    redemption = Redemption.objects.filter(shop=shop, member=member, pk=redemption_id).first()
    if redemption is None:
        raise SurveyRefused("not_found", "This redemption was not found.")
    if redemption.status == Redemption.Status.FAILED:
        raise SurveyRefused("not_redeemed", "This reward could not be delivered.")
    settings = SurveySettings.objects.filter(shop=shop).first()
    if settings is None or not settings.enabled:
        raise SurveyRefused("survey_off", "The survey is closed.")
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                shop=shop,
                member=member,
                redemption=redemption,
                score=score,
                comment=comment,
                question=question_text(shop=shop, settings=settings),
            )
    except IntegrityError:  # a concurrent answer for the same redemption won
        return SurveyResponse.objects.get(shop=shop, redemption=redemption), False
    return response, True


def survey_comments_erase(*, shop: Shop, members: Sequence[Member]) -> int:
    """Blank the comments of these members' responses (a customer redaction); the scores
    stay. Returns how many comments were erased; a rerun erases none."""
    return (
        SurveyResponse.objects.filter(shop=shop, member__in=list(members))
        .exclude(comment="")
        .update(comment="", comment_erased_at=now())
    )


def response_data(response: SurveyResponse) -> dict[str, Any]:
    return {
        "redemption_id": response.redemption_id,
        "score": response.score,
        "dismissed": response.score is None,
        "comment": response.comment,
    }
