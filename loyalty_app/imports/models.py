from __future__ import annotations

from django.db import models

from loyalty_app.shops.models import Shop


class ImportJob(models.Model):
    """One upload of balances carried over from another loyalty program.

    The file is kept (``content``) so a worker can read it and a stopped job can be run
    again; ``cursor_line`` is the last file line whose outcome is committed, and every
    counter moves in the same transaction as the ledger entries it counts, so a job
    that resumes after a crash neither redoes nor miscounts a line.

    Invariants: ``imported + unchanged + rejected <= lines`` (equal once done);
    ``rejected_lines`` keeps the first ``MAX_REJECTED_KEPT`` rejections (``rejected``
    counts them all); an ``idempotency_key`` names one upload per shop.
    A dry run reads everything and writes nothing but its own counters.
    """

    MAX_REJECTED_KEPT = 1000

    class Status(models.TextChoices):
        RECEIVED = "received"
        PROCESSING = "processing"
        DONE = "done"
        FAILED = "failed"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="import_jobs")
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField()
    content = models.BinaryField(editable=False)
    columns = models.JSONField(default=dict, help_text="which header names were used for what")
    dry_run = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True, help_text="why the job failed")

    lines = models.PositiveIntegerField(help_text="data lines (blank lines not counted)")
    cursor_line = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0, help_text="lines that changed something")
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    members_created = models.PositiveIntegerField(default=0)
    points_total = models.BigIntegerField(default=0, help_text="sum of the valid lines' points")
    points_written = models.BigIntegerField(
        default=0, help_text="net points this job wrote to the ledger"
    )
    rejected_lines = models.JSONField(default=list, blank=True)

    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="import_job_idempotency_key",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    imported__lte=models.F("lines") - models.F("unchanged") - models.F("rejected")
                ),
                name="import_job_counts_within_lines",
            ),
        ]
        indexes = [models.Index(fields=["shop", "-id"], name="import_job_recent")]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.filename or 'upload'}, {self.status})"
