"""The reliability harness in CI's short mode: faults and hostile input lose and double nothing.

`bench/chaos.py --short` starts its own stack (gunicorn, two Celery workers, beat, a
private Redis it kills, its own PostgreSQL database), delivers a few thousand events
for three shops with duplicates, reordering and late deliveries while it SIGKILLs a
worker, restarts Redis and drops PostgreSQL's connections, fuzzes and forges requests,
and compares every balance with an independent oracle.
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


def test_the_short_chaos_run_loses_nothing_and_doubles_nothing() -> None:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        pytest.skip("the harness needs PostgreSQL (DATABASE_URL)")
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            str(ROOT / "bench" / "chaos.py"),
            "--short",
            f"--db-name=loyalty_chaos_ci_{os.getpid()}",
        ],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    output = result.stdout + result.stderr
    summary_lines = [line for line in result.stdout.splitlines() if line.startswith("CHAOS ")]
    assert summary_lines, output[-6000:]
    summary = json.loads(summary_lines[-1].removeprefix("CHAOS "))
    assert result.returncode == 0, output[-6000:]
    assert summary["ok"] is True
    assert summary["undrained"] == 0
    assert summary["violations"] == 0
    assert len(summary["shops"]) == 3
    for shop in summary["shops"].values():
        assert shop["mismatches"] == shop["lost"] == shop["doubled"] == shop["5xx"] == 0
        assert shop["actual_points"] == shop["expected_points"] > 0
        assert shop["duplicates_ignored"] > 0
    assert any("SIGKILL celery worker" in fault for fault in summary["faults"])
    assert any("SIGKILL Redis" in fault for fault in summary["faults"])
    assert summary["fuzz"]["sent"] >= 1000
    assert set(summary["forgeries"]["statuses"]) <= {"401", "404"}
