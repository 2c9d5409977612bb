"""`manage.py import_balances --shop D path.csv [--dry-run]`: import balances carried over
from another loyalty program, in this process, and print the report as one JSON object.

`--job N` runs a stored job again (it resumes after its last committed line).
Exit status: 0 when the job is done (rejected lines included), 1 when the file cannot
be imported at all or the job failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty_app.imports.fileformat import MAX_BYTES, FileError
from loyalty_app.imports.models import ImportJob
from loyalty_app.imports.services import import_job_create, import_job_run
from loyalty_app.shops.models import Shop


def job_report(job: ImportJob) -> dict[str, Any]:
    return {
        "import": job.pk,
        "shop": job.shop.domain,
        "file": job.filename,
        "sha256": job.sha256,
        "status": job.status,
        "dry_run": job.dry_run,
        "lines": job.lines,
        "imported": job.imported,
        "unchanged": job.unchanged,
        "rejected": job.rejected,
        "members_created": job.members_created,
        "points_total": job.points_total,
        "points_written": job.points_written,
        "columns": job.columns,
        "error": job.error,
        "rejected_lines": job.rejected_lines,
        "rejected_lines_truncated": job.rejected > len(job.rejected_lines),
    }


class Command(BaseCommand):
    help = (
        "Import balances from another loyalty program (CSV: customer_id and/or email, points, "
        "optional tier) and print the report as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="the CSV file")
        parser.add_argument("--shop", help="the shop's domain")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and count; write nothing"
        )
        parser.add_argument("--job", type=int, help="run a stored import job again")

    def handle(self, *args: object, **options: Any) -> None:
        if options["job"] is not None:
            if options["path"] or options["shop"]:
                raise CommandError("--job takes neither a file nor --shop")
            job = ImportJob.objects.defer("content").filter(pk=options["job"]).first()
            if job is None:
                raise CommandError(f"no import job {options['job']}")
            self._run(job.pk)
            return
        if not options["path"] or not options["shop"]:
            raise CommandError("give --shop DOMAIN and the CSV file (or --job N)")
        shop = Shop.objects.filter(domain=str(options["shop"]).strip().lower()).first()
        if shop is None:
            raise CommandError(f"no shop {options['shop']}")
        path = Path(options["path"])
        try:
            if path.stat().st_size > MAX_BYTES:
                raise CommandError(f"file: larger than {MAX_BYTES // (1024 * 1024)} MB; split it")
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"file: cannot read {path}: {exc.strerror}") from exc
        try:
            job, _ = import_job_create(
                shop=shop,
                content=content,
                filename=path.name,
                created_by="manage.py import_balances",
                dry_run=bool(options["dry_run"]),
                enqueue=False,
            )
        except FileError as exc:
            raise CommandError(str(exc)) from exc
        self._run(job.pk)

    def _run(self, job_id: int) -> None:
        job = import_job_run(job_id=job_id)
        job.shop = Shop.objects.get(pk=job.shop_id)
        self.stdout.write(json.dumps(job_report(job)))
        if job.status != ImportJob.Status.DONE:
            raise CommandError(f"import {job.pk} {job.status}: {job.error}")
