"""A definition change re-evaluates every member in a background job: batches, progress,
resuming after a crash, nothing changed by a second run, another shop's job unseen."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from loyalty_app.members.models import Member
from loyalty_app.tiers.models import MemberTier, TierEvaluationJob, TierEvent
from loyalty_app.tiers.services import tier_evaluation_run, tier_program_update

DEFINITION = {
    "metric": "amount_spent",
    "period": "lifetime",
    "tiers": [{"name": "Silver", "threshold": "200"}, {"name": "Gold", "threshold": "500"}],
}
RAISED = {
    **DEFINITION,
    "tiers": [{"name": "Silver", "threshold": "300"}, {"name": "Gold", "threshold": "500"}],
}


@pytest.fixture
def spenders(shop, place_order):
    """Seven members who spent 100, 200, ..., 700 (lifetime), placed by the engine."""
    moment = datetime(2025, 1, 10, tzinfo=UTC)
    for n in range(1, 8):
        place_order(
            shop.shop, order_id=f"o{n}", customer=f"c{n}", amount=f"{n}00", placed_at=moment
        )


def tiers_by_customer(shop) -> dict[str, str | None]:
    rows = MemberTier.objects.filter(shop=shop.shop).values_list("member__external_id", "tier")
    return {customer: tier for customer, tier in rows if tier}


def put(api, definition, capture) -> dict:
    with capture(execute=False):
        response = api.put(
            "/api/v1/tiers", data=json.dumps(definition), content_type="application/json"
        )
    assert response.status_code in (200, 201), response.content
    return response.json()


def test_a_definition_change_re_evaluates_every_member_in_batches_with_progress(
    api, shop, clock, spenders, django_capture_on_commit_callbacks
):
    # Given seven members and a first definition, saved (its job not run yet)
    put(api, DEFINITION, django_capture_on_commit_callbacks)
    job = TierEvaluationJob.objects.get(shop=shop.shop)
    assert (job.kind, job.status, job.version) == ("definition_change", "pending", 1)

    # When the job runs in batches of three
    tier_evaluation_run(job_id=job.pk, batch_size=3)

    # Then every member holds the tier the definition gives
    assert tiers_by_customer(shop) == {
        "c2": "Silver",
        "c3": "Silver",
        "c4": "Silver",
        "c5": "Gold",
        "c6": "Gold",
        "c7": "Gold",
    }
    # And the progress is visible through the API, and in the tiers' own answer
    body = api.get(f"/api/v1/tiers/evaluations/{job.pk}").json()
    assert {k: body[k] for k in ("status", "total", "processed", "changed", "percent")} == {
        "status": "done",
        "total": 7,
        "processed": 7,
        "changed": 6,
        "percent": 100,
    }
    assert api.get("/api/v1/tiers").json()["evaluation"]["id"] == job.pk


def test_raising_a_threshold_moves_members_down_and_says_why(
    api, shop, clock, spenders, django_capture_on_commit_callbacks
):
    # Given members evaluated under the first definition
    put(api, DEFINITION, django_capture_on_commit_callbacks)
    tier_evaluation_run(job_id=TierEvaluationJob.objects.get().pk)

    # When Silver's threshold is raised to 300 and the new version's job runs
    put(api, RAISED, django_capture_on_commit_callbacks)
    job = TierEvaluationJob.objects.get(version=2)
    tier_evaluation_run(job_id=job.pk, batch_size=2)

    # Then the member who spent 200 has no tier any more (a lifetime tier follows the
    # definition), by a definition_change event; nobody else moved
    assert "c2" not in tiers_by_customer(shop)
    event = TierEvent.objects.filter(member__external_id="c2").latest("id")
    assert (event.from_tier, event.to_tier, event.reason) == ("Silver", "", "definition_change")
    assert (event.program_version, TierEvaluationJob.objects.get(pk=job.pk).changed) == (2, 1)


def test_running_the_evaluation_again_changes_nothing(
    api, shop, clock, spenders, django_capture_on_commit_callbacks
):
    # Given a finished re-evaluation
    put(api, DEFINITION, django_capture_on_commit_callbacks)
    job = TierEvaluationJob.objects.get()
    tier_evaluation_run(job_id=job.pk)
    events = TierEvent.objects.count()

    # When it runs again, and a fresh job for the same version runs over everyone
    tier_evaluation_run(job_id=job.pk)
    TierEvaluationJob.objects.filter(pk=job.pk).update(
        status="pending", cursor=0, processed=0, changed=0
    )
    tier_evaluation_run(job_id=job.pk)

    # Then no tier changed and no event was recorded
    assert TierEvent.objects.count() == events
    assert TierEvaluationJob.objects.get(pk=job.pk).changed == 0


def test_a_job_stopped_midway_resumes_after_its_last_committed_batch(
    api, shop, clock, spenders, django_capture_on_commit_callbacks, monkeypatch
):
    # Given a job whose worker dies during its second batch
    put(api, DEFINITION, django_capture_on_commit_callbacks)
    job = TierEvaluationJob.objects.get()
    from loyalty_app.tiers import services

    real = services._batch_run
    calls = {"n": 0}

    def dying(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(services, "_batch_run", dying)
    with pytest.raises(KeyboardInterrupt):
        tier_evaluation_run(job_id=job.pk, batch_size=3)
    stopped = TierEvaluationJob.objects.get(pk=job.pk)
    assert (stopped.status, stopped.processed) == ("running", 3)

    # When the sweep runs it again
    monkeypatch.setattr(services, "_batch_run", real)
    tier_evaluation_run(job_id=job.pk, batch_size=3)

    # Then every member was evaluated once
    done = TierEvaluationJob.objects.get(pk=job.pk)
    assert (done.status, done.processed, done.changed) == ("done", 7, 6)
    assert TierEvent.objects.count() == 6


def test_a_newer_definition_supersedes_the_job_of_an_older_one(
    api, shop, clock, spenders, django_capture_on_commit_callbacks
):
    # Given two versions saved before any job ran
    put(api, DEFINITION, django_capture_on_commit_callbacks)
    put(api, RAISED, django_capture_on_commit_callbacks)
    first, second = TierEvaluationJob.objects.order_by("id")

    # When the first version's job runs
    tier_evaluation_run(job_id=first.pk)

    # Then it does nothing: the second version's job evaluates everyone
    assert TierEvaluationJob.objects.get(pk=first.pk).status == "superseded"
    assert not MemberTier.objects.exists()
    tier_evaluation_run(job_id=second.pk)
    assert tiers_by_customer(shop)["c3"] == "Silver"


def test_a_definition_saved_by_a_service_starts_its_job_after_commit(
    shop, spenders, django_capture_on_commit_callbacks
):
    # When the definition is saved and the transaction commits (an eager worker runs it)
    with django_capture_on_commit_callbacks(execute=True):
        tier_program_update(shop=shop.shop, data=DEFINITION, actor="test")

    # Then the members already hold their tiers
    assert TierEvaluationJob.objects.get().status == "done"
    assert tiers_by_customer(shop)["c7"] == "Gold"


def test_another_shops_token_cannot_see_an_evaluation_or_tier_events(
    api, shop, other_shop, spenders, django_capture_on_commit_callbacks, client
):
    # Given this shop's evaluation and a member's events
    put(api, DEFINITION, django_capture_on_commit_callbacks)
    job = TierEvaluationJob.objects.get()
    tier_evaluation_run(job_id=job.pk)
    assert Member.objects.filter(shop=shop.shop, external_id="c7").exists()

    # When the other shop asks for them
    other = {"Authorization": f"Bearer {other_shop.api_token}"}
    evaluation = client.get(f"/api/v1/tiers/evaluations/{job.pk}", headers=other)
    events = client.get("/api/v1/customers/c7/tier-events", headers=other)

    # Then both are 404, and the other shop's own tiers show no evaluation
    assert (evaluation.status_code, events.status_code) == (404, 404)
    assert client.get("/api/v1/tiers", headers=other).json()["evaluation"] is None
