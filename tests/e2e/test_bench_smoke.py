"""The webhook benchmark runs end to end: `bench/webhooks.py --smoke` against the real stack.

It starts its own gunicorn and Celery worker on its own database
(``loyalty_bench_smoke_<pid>``, dropped afterwards) and Redis db number (12), on the
servers of the suite's DATABASE_URL / REDIS_URL, so it never touches the pytest database
or the suite's Redis db. The test itself needs no Django database access.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]


def test_webhook_benchmark_smoke_run_passes_its_checks() -> None:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        pytest.skip("the benchmark needs PostgreSQL (DATABASE_URL)")
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15",
    }
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            str(ROOT / "bench" / "webhooks.py"),
            "--smoke",
            # Its own database, so that two test runs on one machine do not collide.
            f"--db-name=loyalty_bench_smoke_{os.getpid()}",
            "--drop-db",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith('{"bench"')]
    assert lines, output[-6000:]
    figures = json.loads(lines[-1])
    assert figures["ok"] is True
    assert figures["orders"] == figures["accepted"] == 300
    assert figures["http_5xx"] == 0
    assert figures["missing"] == figures["mismatched"] == figures["doubled"] == 0
    assert figures["ledger_points"] == figures["expected_points"] > 0
    assert figures["stack"]["database"] != "test_loyalty"
