"""The survey in the widget: asked after a redemption, answered once per redemption,
dismissable, refused clearly, and one shop's and one member's only."""

from __future__ import annotations

import pytest

from loyalty_app.rewards.models import Redemption
from loyalty_app.surveys.models import SurveyResponse, SurveySettings

from .conftest import answer, member_redeems, member_with_points, redeem

pytestmark = pytest.mark.django_db


def test_after_a_redemption_the_state_asks_the_question_with_the_shops_name(
    proxy, shop, widget_on, survey_on, five_off
):
    # given a member with points and the survey on
    member_with_points(shop.shop, "7001", 500)

    # when they redeem in the widget
    body = redeem(proxy, five_off, "7001", "attempt-0001")

    # then the answer (the panel's new state) asks about that redemption
    redemption = Redemption.objects.get(shop=shop.shop)
    assert body["survey"] == {
        "redemption_id": redemption.pk,
        "reward": "5.00 off",
        "question": f"How likely are you to recommend {shop.shop.name or shop.shop.domain} "
        "to a friend?",
    }


def test_without_a_redemption_or_with_the_survey_off_nothing_is_asked(
    proxy, shop, widget_on, five_off
):
    member_with_points(shop.shop, "7001", 1000)
    assert proxy.get("state", customer="7001").json()["survey"] is None

    # the survey is off by default: a redemption asks nothing
    body = redeem(proxy, five_off, "7001", "attempt-0001")
    assert body["survey"] is None


def test_the_merchants_question_is_asked_as_written(proxy, shop, widget_on, five_off):
    SurveySettings.objects.create(
        shop=shop.shop, enabled=True, question="Would you tell a friend about our beans?"
    )
    member_with_points(shop.shop, "7001", 500)

    body = redeem(proxy, five_off, "7001", "attempt-0001")

    assert body["survey"]["question"] == "Would you tell a friend about our beans?"


def test_an_answer_is_recorded_once_and_a_replay_answers_the_first(
    proxy, shop, widget_on, survey_on, five_off
):
    # given a redemption
    redemption = member_redeems(proxy, shop.shop, five_off, "7001")

    # when the member answers 9 with a comment, then the same request comes again with
    # another score (a retried or doubled send)
    first = answer(proxy, "7001", redemption_id=redemption.pk, score=9, comment=" Great beans ")
    again = answer(proxy, "7001", redemption_id=redemption.pk, score=2, comment="changed")

    # then the first answer stands, and the state no longer asks
    assert first.status_code == 201
    assert first.json() == {
        "response": {
            "redemption_id": redemption.pk,
            "score": 9,
            "dismissed": False,
            "comment": "Great beans",
        },
        "message": "Thank you for your answer!",
    }
    assert again.status_code == 200
    assert again.json()["response"] == first.json()["response"]
    stored = SurveyResponse.objects.get()
    assert (stored.score, stored.comment, stored.member.external_id) == (9, "Great beans", "7001")
    assert stored.question.startswith("How likely are you to recommend")
    assert proxy.get("state", customer="7001").json()["survey"] is None


def test_a_dismissal_is_an_answer_without_a_score(proxy, shop, widget_on, survey_on, five_off):
    redemption = member_redeems(proxy, shop.shop, five_off, "7001")

    response = answer(proxy, "7001", redemption_id=redemption.pk, dismissed=True, comment="x")

    assert response.status_code == 201
    assert response.json()["response"] == {
        "redemption_id": redemption.pk,
        "score": None,
        "dismissed": True,
        "comment": "",
    }
    assert proxy.get("state", customer="7001").json()["survey"] is None
    # a later score for the same redemption changes nothing
    later = answer(proxy, "7001", redemption_id=redemption.pk, score=10)
    assert later.status_code == 200 and later.json()["response"]["score"] is None


@pytest.mark.parametrize(
    "data, field",
    [
        ({"score": 11}, "score"),
        ({"score": -1}, "score"),
        ({}, "score"),
        ({"score": 5, "dismissed": True}, "score"),
        ({"score": 5, "comment": "x" * 1001}, "comment"),
    ],
)
def test_a_score_outside_0_to_10_or_a_long_comment_is_a_400_and_nothing_is_stored(
    proxy, shop, widget_on, survey_on, five_off, data, field
):
    redemption = member_redeems(proxy, shop.shop, five_off, "7001")

    response = answer(proxy, "7001", redemption_id=redemption.pk, **data)

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not SurveyResponse.objects.exists()


def test_another_members_redemption_cannot_be_answered(proxy, shop, widget_on, survey_on, five_off):
    # given 7001's redemption, and 7002 another member
    redemption = member_redeems(proxy, shop.shop, five_off, "7001")
    member_with_points(shop.shop, "7002", 0)

    response = answer(proxy, "7002", redemption_id=redemption.pk, score=0)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not SurveyResponse.objects.exists()
    # and once 7001 answered, 7002's request still reveals nothing of it
    answer(proxy, "7001", redemption_id=redemption.pk, score=10)
    response = answer(proxy, "7002", redemption_id=redemption.pk, score=0)
    assert response.status_code == 404
    assert SurveyResponse.objects.get().score == 10


def test_another_shops_member_cannot_answer_this_shops_redemption(
    proxy, shop, other_shop, widget_on, survey_on, five_off
):
    # given a redemption in the first shop, and a member with the same customer id in the
    # other shop, whose survey is on too
    redemption = member_redeems(proxy, shop.shop, five_off, "7001")
    SurveySettings.objects.create(shop=other_shop.shop, enabled=True)
    member_with_points(other_shop.shop, "7001", 0)

    # when the other shop's storefront sends an answer naming it
    response = proxy.post(
        "survey",
        {"redemption_id": redemption.pk, "score": 0},
        customer="7001",
        shop=other_shop.shop.domain,
    )

    # then it is not found there, and nothing is stored
    assert response.status_code == 404
    assert not SurveyResponse.objects.exists()


def test_a_survey_turned_off_or_a_failed_delivery_is_refused(
    proxy, shop, widget_on, survey_on, five_off
):
    redemption = member_redeems(proxy, shop.shop, five_off, "7001")
    Redemption.objects.filter(pk=redemption.pk).update(status=Redemption.Status.FAILED)
    failed = answer(proxy, "7001", redemption_id=redemption.pk, score=8)
    assert (failed.status_code, failed.json()["code"]) == (409, "not_redeemed")
    assert proxy.get("state", customer="7001").json()["survey"] is None

    Redemption.objects.filter(pk=redemption.pk).update(status=Redemption.Status.PENDING)
    SurveySettings.objects.filter(shop=shop.shop).update(enabled=False)
    closed = answer(proxy, "7001", redemption_id=redemption.pk, score=8)
    assert (closed.status_code, closed.json()["code"]) == (409, "survey_off")
    assert not SurveyResponse.objects.exists()


def test_without_the_proxy_signature_or_as_a_guest_nothing_is_answered(
    client, proxy, shop, widget_on, survey_on, five_off
):
    redemption = member_redeems(proxy, shop.shop, five_off, "7001")

    unsigned = client.post(
        "/proxy/survey",
        data={"redemption_id": redemption.pk, "score": 1},
        content_type="application/json",
    )
    guest = answer(proxy, "", redemption_id=redemption.pk, score=1)

    assert unsigned.status_code == 401
    assert guest.status_code == 403
    assert not SurveyResponse.objects.exists()
