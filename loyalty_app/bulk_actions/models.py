from __future__ import annotations

from django.db import models

from loyalty_app.shops.models import Shop


class BulkAward(models.Model):
    """One CSV upload that awards an action to the customers it lists.

    Life: ``previewing`` (a worker reads every line and says what it would do, writing
    nothing but this row) -> ``previewed`` (the merchant reads the preview) -> confirmed:
    ``awarding`` (a worker records each line through ``actions.services.action_report``,
    in batches) -> ``done``; ``failed`` keeps the error and the cursors for a rerun.

    Invariants: the file is kept (``content``) so any run can start again;
    ``award_cursor`` is the last file line whose outcome is committed, and the award
    counters move in the same transaction as the events they count, so a run that
    resumes after a crash neither redoes nor miscounts a line (and were a line ever
    recorded twice, its event key makes the second a replay). ``awarded + limit_reached
    + replayed + rejected <= lines``. ``issues`` keeps the first ``MAX_ISSUES_KEPT``
    lines that were refused or skipped, with the reason.
    """

    MAX_ISSUES_KEPT = 1000

    class Status(models.TextChoices):
        PREVIEWING = "previewing"
        PREVIEWED = "previewed"
        AWARDING = "awarding"
        DONE = "done"
        FAILED = "failed"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="bulk_awards")
    action = models.CharField(
        max_length=64, blank=True, help_text="the action of lines without an action column"
    )
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField()
    content = models.BinaryField(editable=False)
    columns = models.JSONField(default=dict)
    lines = models.PositiveIntegerField(help_text="data lines (blank lines not counted)")
    idempotency_key = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREVIEWING)
    error = models.TextField(blank=True)

    # What the preview found (written by the preview run only).
    preview_cursor = models.PositiveIntegerField(default=0)
    preview_valid = models.PositiveIntegerField(default=0, help_text="lines that would earn")
    preview_limit_reached = models.PositiveIntegerField(default=0)
    preview_already = models.PositiveIntegerField(default=0, help_text="recorded before")
    preview_invalid = models.PositiveIntegerField(default=0)
    preview_new_members = models.PositiveIntegerField(default=0)
    preview_points = models.BigIntegerField(default=0)
    preview_issues = models.JSONField(default=list, blank=True)

    # What the award did.
    award_cursor = models.PositiveIntegerField(default=0)
    awarded = models.PositiveIntegerField(default=0)
    limit_reached = models.PositiveIntegerField(default=0)
    replayed = models.PositiveIntegerField(default=0, help_text="recorded before: nothing new")
    rejected = models.PositiveIntegerField(default=0)
    points_awarded = models.BigIntegerField(default=0)
    issues = models.JSONField(default=list, blank=True)

    created_by = models.CharField(max_length=200, blank=True)
    confirmed_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    previewed_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="bulk_award_idempotency_key",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    awarded__lte=models.F("lines")
                    - models.F("limit_reached")
                    - models.F("replayed")
                    - models.F("rejected")
                ),
                name="bulk_award_counts_within_lines",
            ),
        ]
        indexes = [models.Index(fields=["shop", "-id"], name="bulk_award_recent")]

    def __str__(self) -> str:
        return f"bulk award {self.pk} ({self.action or 'per line'}, {self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
