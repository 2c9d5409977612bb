"""The net promoter score of a period, computed by hand: in the analytics API (both
implementations), on the admin's Analytics page, in the responses' CSV export; the
merchant's settings, audited; a customer's data request and redaction; one shop's only."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest

from loyalty_app.analytics import portable, selectors
from loyalty_app.analytics.periods import Period
from loyalty_app.analytics.presenters import as_data
from loyalty_app.merchant_admin.models import AuditEntry
from loyalty_app.privacy.services import customer_redact, data_request_record
from loyalty_app.rewards.models import Reward
from loyalty_app.surveys.models import SurveyResponse, SurveySettings
from loyalty_app.surveys.selectors import Nps
from loyalty_app.surveys.services import survey_answer
from loyalty_app.tiers.selectors import shop_zone
from tests.analytics.conftest import noon
from tests.concurrency import run_concurrently
from tests.merchant_admin.conftest import AdminClient

from .conftest import ProxyClient, answer, member_redeems

pytestmark = pytest.mark.django_db

PERIOD = {"from": "2025-03-01", "to": "2025-03-30"}
# (customer, day, score or None for a dismissal, comment)
ANSWERS = [
    ("7001", "2025-02-10", 5, "Shipping was slow"),
    ("7002", "2025-02-20", 10, ""),
    ("7003", "2025-03-02", 10, "Love the coffee"),
    ("7004", "2025-03-05", 9, ""),
    ("7005", "2025-03-09", 9, '=HYPERLINK("x")'),
    ("7006", "2025-03-12", 7, ""),
    ("7007", "2025-03-20", 3, "Code did not work"),
    ("7008", "2025-03-25", None, ""),
    ("7009", "2025-04-01", 0, "after the period"),
]


def answered(proxy: ProxyClient, shop: Any, clock: Any, reward: Reward) -> None:
    """Each customer redeems on their day at noon and answers the survey at once."""
    SurveySettings.objects.create(shop=shop, enabled=True)
    for customer, day, score, comment in ANSWERS:
        clock.set(noon(day))
        redemption = member_redeems(proxy, shop, reward, customer, key=f"attempt-{customer}")
        data: dict[str, Any] = (
            {"dismissed": True} if score is None else {"score": score, "comment": comment}
        )
        assert answer(proxy, customer, redemption_id=redemption.pk, **data).status_code == 201
    clock.set(noon("2025-04-02"))


def test_the_score_of_a_period_and_its_change_as_computed_by_hand(
    api, proxy, shop, widget_on, five_off, clock
):
    # given March's answers 10, 9, 9, 7, 3 and a dismissal; February's 5 and 10
    answered(proxy, shop.shop, clock, five_off)

    # when March is read
    body = api.get("/api/v1/analytics", PERIOD).json()

    # then 3 promoters, 1 passive, 1 detractor of 5 answers: 60% - 20% = 40
    assert body["nps"] == {
        "score": "40.0",
        "responses": 5,
        "promoters": 3,
        "passives": 1,
        "detractors": 1,
        "dismissed": 1,
    }
    # February: one promoter, one detractor: 0; the change is in points, not percent
    assert body["previous"]["nps"] == {
        "score": "0.0",
        "responses": 2,
        "promoters": 1,
        "passives": 0,
        "detractors": 1,
        "dismissed": 0,
    }
    assert body["nps_change"] == "+40.0"


def test_the_portable_report_gives_the_same_score(proxy, shop, widget_on, five_off, clock):
    answered(proxy, shop.shop, clock, five_off)
    zone = shop_zone(shop.shop)

    for first, last in [("2025-03-01", "2025-03-30"), ("2025-02-01", "2025-04-30")]:
        period = Period(date.fromisoformat(first), date.fromisoformat(last), zone)
        # (the PostgreSQL implementation itself: report() adds the referrals to both)
        expected = as_data(
            selectors._figures(shop=shop.shop, period=period),
            selectors._figures(shop=shop.shop, period=period.previous(), detail=False),
        )
        actual = as_data(
            portable.report(shop=shop.shop, period=period),
            portable.report(shop=shop.shop, period=period.previous(), detail=False),
        )
        assert actual == expected
    assert actual["nps"]["responses"] == 8  # every answer from February to April


def test_without_answers_the_score_is_unknown():
    assert Nps(promoters=0, passives=0, detractors=0, dismissed=2).score is None
    assert Nps(promoters=1, passives=1, detractors=1, dismissed=0).score == 0
    assert str(Nps(promoters=1, passives=0, detractors=2, dismissed=0).score) == "-33.3"


def test_the_analytics_page_shows_the_score_and_exports_the_comments(
    admin, proxy, shop, widget_on, five_off, clock
):
    answered(proxy, shop.shop, clock, five_off)

    page = admin.get("/app/analytics/", PERIOD).content.decode()
    export = admin.get("/app/analytics/", {**PERIOD, "export": "nps_responses"})

    assert 'data-testid="nps-score">40.0<' in page
    assert "+40.0 points" in page
    assert 'data-testid="nps-responses">5<' in page
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0] == ["answered_at", "customer_id", "score", "group", "comment", "reward"]
    assert rows[1:] == [
        ["2025-03-02T12:00:00+00:00", "7003", "10", "promoter", "Love the coffee", "5.00 off"],
        ["2025-03-05T12:00:00+00:00", "7004", "9", "promoter", "", "5.00 off"],
        # a comment that a spreadsheet would read as a formula is exported as text
        ["2025-03-09T12:00:00+00:00", "7005", "9", "promoter", '\'=HYPERLINK("x")', "5.00 off"],
        ["2025-03-12T12:00:00+00:00", "7006", "7", "passive", "", "5.00 off"],
        ["2025-03-20T12:00:00+00:00", "7007", "3", "detractor", "Code did not work", "5.00 off"],
        ["2025-03-25T12:00:00+00:00", "7008", "", "dismissed", "", "5.00 off"],
    ]


def test_another_shop_sees_none_of_the_answers(proxy, shop, other_shop, widget_on, five_off, clock):
    answered(proxy, shop.shop, clock, five_off)
    other = AdminClient(other_shop.shop)
    from django.test import Client

    other_api = Client(headers={"Authorization": f"Bearer {other_shop.api_token}"})

    body = other_api.get("/api/v1/analytics", PERIOD).json()
    export = other.get("/app/analytics/", {**PERIOD, "export": "nps_responses"})

    assert body["nps"]["responses"] == 0 and body["nps"]["score"] is None
    assert export.content.decode().strip().splitlines() == [
        "answered_at,customer_id,score,group,comment,reward"
    ]


def test_the_merchant_turns_the_survey_on_and_edits_the_question_audited(admin, shop):
    # when the merchant saves the card's form on the Analytics page
    response = admin.post(
        "/app/analytics/survey",
        {"enabled": "on", "question": " Would you recommend us? ", **PERIOD},
        HTTP_ORIGIN="http://testserver",
    )

    # then the survey is on with the question, and the change is in the audit log
    assert response.status_code == 303
    assert "toast=survey_saved" in response["Location"]
    row = SurveySettings.objects.get(shop=shop.shop)
    assert (row.enabled, row.question, row.updated_by) == (
        True,
        "Would you recommend us?",
        "staff:42",
    )
    audit = AuditEntry.objects.get(shop=shop.shop)
    assert (audit.action, audit.actor) == ("survey.update", "staff:42")
    assert audit.before == {"enabled": False, "question": ""}
    assert audit.after == {"enabled": True, "question": "Would you recommend us?"}

    # and saving the same again writes no second entry; a question too long is a 400
    admin.post(
        "/app/analytics/survey",
        {"enabled": "on", "question": "Would you recommend us?"},
        HTTP_ORIGIN="http://testserver",
    )
    too_long = admin.post(
        "/app/analytics/survey",
        {"enabled": "", "question": "x" * 201},
        HTTP_ORIGIN="http://testserver",
    )
    assert too_long.status_code == 400
    assert "At most 200 characters." in too_long.content.decode()
    assert AuditEntry.objects.filter(shop=shop.shop).count() == 1
    assert SurveySettings.objects.get(shop=shop.shop).enabled


def test_another_shops_admin_changes_only_its_own_survey(admin, other_shop, shop):
    other = AdminClient(other_shop.shop)
    SurveySettings.objects.create(shop=shop.shop, enabled=True, question="Ours")

    other.post("/app/analytics/survey", {"question": "Theirs"}, HTTP_ORIGIN="http://testserver")

    assert SurveySettings.objects.get(shop=shop.shop).question == "Ours"
    assert SurveySettings.objects.get(shop=other_shop.shop).question == "Theirs"


def test_a_data_request_holds_the_answers_and_a_redaction_erases_the_comments(
    proxy, shop, widget_on, five_off, clock
):
    # given 7003's answer with a comment
    answered(proxy, shop.shop, clock, five_off)

    # when the customer asks for their data, then is redacted
    request, _ = data_request_record(
        shop=shop.shop, request_id="r1", customer_id="7003", email="", order_ids=[]
    )
    redaction = customer_redact(shop=shop.shop, customer_id="7003", email="", order_ids=[])

    # then the data held their answer; the redaction blanked the comment, kept the score
    (member,) = request.data["members"]
    assert [(r["score"], r["comment"]) for r in member["survey_responses"]] == [
        (10, "Love the coffee")
    ]
    assert member["survey_responses"][0]["question"].startswith("How likely")
    assert redaction.record.summary["survey_comments"] == 1
    theirs = SurveyResponse.objects.get(member__pk=redaction.record.member_id)
    assert (theirs.score, theirs.comment) == (10, "")
    assert theirs.comment_erased_at is not None
    # the others' comments stay
    assert SurveyResponse.objects.exclude(comment="").count() == 4


@pytest.mark.django_db(transaction=True)
def test_answers_sent_at_once_record_one_response(proxy, shop, widget_on, five_off):
    # given a redemption and the survey on
    SurveySettings.objects.create(shop=shop.shop, enabled=True)
    redemption = member_redeems(proxy, shop.shop, five_off, "7001")
    member = redemption.member

    # when eight answers for it arrive at the same moment
    results, errors = run_concurrently(
        lambda i: survey_answer(
            shop=shop.shop, member=member, redemption_id=redemption.pk, score=i, comment=""
        ),
        8,
    )

    # then one was recorded, and every caller got that one
    assert not errors
    assert sum(created for _, created in results) == 1
    assert len({response.pk for response, _ in results}) == 1
    assert SurveyResponse.objects.count() == 1
