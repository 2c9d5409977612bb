"""Reads of the survey: its settings, whether the widget should ask now, the net promoter
score of a period (ORM only, so the PostgreSQL report and the portable one share it), and
the responses for the export and a customer's data request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from loyalty_app.analytics.periods import Period
from loyalty_app.members.models import Member
from loyalty_app.rewards.models import Redemption
from loyalty_app.shops.models import Shop

from .models import SurveyResponse, SurveySettings

DEFAULT_QUESTION = "How likely are you to recommend {shop} to a friend?"
# The widget asks about a redemption for this long after it; an older one is not asked.
ASK_WITHIN = timedelta(days=7)


def survey_settings_get(*, shop: Shop) -> SurveySettings:
    """The shop's settings, or the defaults (off, the default question) unsaved."""
    return SurveySettings.objects.filter(shop=shop).first() or SurveySettings(shop=shop)


def question_text(*, shop: Shop, settings: SurveySettings) -> str:
    """The question as the shopper reads it: the merchant's, or the default one with the
    shop's name."""
    return settings.question or DEFAULT_QUESTION.format(shop=shop.name or shop.domain)


def survey_prompt(*, shop: Shop, member: Member, at: datetime) -> dict[str, Any] | None:
    """What the widget asks now, or None: the member's latest redemption of the last
    seven days, when the shop asks the survey, the redemption was not given up (failed)
    and has no response yet. One query (the widget's state counts its queries)."""
    latest = (
        Redemption.objects.filter(
            shop=shop,
            member=member,
            created_at__gte=at - ASK_WITHIN,
            shop__survey_settings__enabled=True,
        )
        .exclude(status=Redemption.Status.FAILED)
        .annotate(answered=Exists(SurveyResponse.objects.filter(redemption=OuterRef("pk"))))
        .order_by("-created_at", "-pk")
        .values("pk", "title", "answered", "shop__survey_settings__question")
        .first()
    )
    if latest is None or latest["answered"]:
        return None
    settings = SurveySettings(shop=shop, question=latest["shop__survey_settings__question"])
    return {
        "redemption_id": latest["pk"],
        "reward": latest["title"],
        "question": question_text(shop=shop, settings=settings),
    }


@dataclass(frozen=True)
class Nps:
    """The answers given in a period: promoters score 9-10, passives 7-8, detractors 0-6;
    dismissed surveys are counted apart and in no figure."""

    promoters: int
    passives: int
    detractors: int
    dismissed: int

    @property
    def responses(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> Decimal | None:
        """% promoters - % detractors, -100 to 100, to one decimal; None without answers."""
        if not self.responses:
            return None
        return (Decimal((self.promoters - self.detractors) * 100) / self.responses).quantize(
            Decimal("0.1")
        )


def group_of(score: int | None) -> str:
    if score is None:
        return "dismissed"
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def nps(*, shop: Shop, period: Period) -> Nps:
    """The net promoter score of the responses given in the period (the groups of
    ``group_of``). One aggregate query, however many answers."""
    counts = SurveyResponse.objects.filter(
        shop=shop, created_at__gte=period.start, created_at__lt=period.end
    ).aggregate(
        promoters=Count("pk", filter=Q(score__gte=9)),
        passives=Count("pk", filter=Q(score__gte=7, score__lt=9)),
        detractors=Count("pk", filter=Q(score__lt=7)),
        dismissed=Count("pk", filter=Q(score__isnull=True)),
    )
    return Nps(**counts)


RESPONSES_HEADER = ["answered_at", "customer_id", "score", "group", "comment", "reward"]


def responses_rows(*, shop: Shop, period: Period) -> list[list[Any]]:
    """The period's responses for the CSV export, oldest first, times in the period's zone."""
    rows = (
        SurveyResponse.objects.filter(
            shop=shop, created_at__gte=period.start, created_at__lt=period.end
        )
        .order_by("created_at", "pk")
        .values_list("created_at", "member__external_id", "score", "comment", "redemption__title")
    )
    return [
        [
            created_at.astimezone(period.zone).isoformat(timespec="seconds"),
            customer_id or "",
            score,
            group_of(score),
            comment,
            title,
        ]
        for created_at, customer_id, score, comment, title in rows
    ]


def member_responses_data(*, member: Member) -> list[dict[str, Any]]:
    """A member's responses for their data request."""
    return [
        {
            "question": r.question,
            "score": r.score,
            "comment": r.comment,
            "redemption_id": r.redemption_id,
            "answered_at": r.created_at.isoformat(),
        }
        for r in SurveyResponse.objects.filter(shop_id=member.shop_id, member=member).order_by("pk")
    ]
