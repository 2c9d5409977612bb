"""`manage.py import_balances`: the same import from a shell, with a JSON report and an
exit status that says whether the file could be imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from loyalty_app.imports import services
from loyalty_app.imports.models import ImportJob
from loyalty_app.ledger.models import LedgerEntry
from loyalty_app.members.models import Member
from loyalty_app.shops.services import shop_create

from .conftest import assert_ledger_matches_balances, csv_of

ROOT = Path(__file__).resolve().parent.parent.parent

DOMAIN = "alpha-store.myshopify.com"


@pytest.fixture
def balances(tmp_path: Path) -> Path:
    path = tmp_path / "smile-export.csv"
    path.write_bytes(csv_of("101,ada@example.com,120,Gold", ",eve@example.com,30,", "102,,1.5,"))
    return path


def manage(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the command in this process: (exit status manage.py would give, stdout, the
    error). A CommandError is what manage.py turns into its message and status 1."""
    try:
        call_command(*argv)
        code, err = 0, ""
    except CommandError as exc:
        code, err = exc.returncode, str(exc)
    out, _ = capsys.readouterr()
    return code, out, err


def test_the_command_imports_a_file_and_prints_the_report_as_json(shop, balances, capsys):
    code, out, _ = manage("import_balances", "--shop", DOMAIN, str(balances), capsys=capsys)

    assert code == 0
    report = json.loads(out)
    assert report["status"] == "done"
    assert report["file"] == "smile-export.csv"
    assert (report["lines"], report["imported"], report["rejected"]) == (3, 2, 1)
    assert report["points_written"] == 150
    assert report["rejected_lines"] == [
        {
            "line": 4,
            "column": "points",
            "reason": "points: must be a whole number (got 1.5)",
            "raw": "102,,1.5,",
        }
    ]
    assert Member.objects.get(shop=shop.shop, external_id="101").points_balance == 120
    assert_ledger_matches_balances(shop.shop)


def test_running_the_command_again_on_the_same_file_changes_nothing(shop, balances, capsys):
    manage("import_balances", "--shop", DOMAIN, str(balances), capsys=capsys)
    entries = LedgerEntry.objects.count()

    code, out, _ = manage("import_balances", "--shop", DOMAIN, str(balances), capsys=capsys)

    report = json.loads(out)
    assert code == 0
    assert (report["imported"], report["unchanged"], report["points_written"]) == (0, 2, 0)
    assert LedgerEntry.objects.count() == entries


def test_a_dry_run_from_the_command_writes_nothing(shop, balances, capsys):
    code, out, _ = manage(
        "import_balances", "--shop", DOMAIN, str(balances), "--dry-run", capsys=capsys
    )

    assert code == 0
    assert json.loads(out)["dry_run"] is True
    assert json.loads(out)["imported"] == 2
    assert Member.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfeemail,points\n", "file: is not UTF-8 text"),
        (b"name,points\nAda,1\n", "columns: needs an 'email' or a 'customer_id' column"),
        (b"", "file: is empty"),
    ],
)
def test_an_unusable_file_exits_non_zero_and_says_why(shop, tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    code, out, err = manage("import_balances", "--shop", DOMAIN, str(path), capsys=capsys)

    assert code == 1
    assert message in err
    assert out == ""
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--shop", "nope.myshopify.com", "{file}"], "no shop nope.myshopify.com"),
        (["--shop", DOMAIN, "/no/such/file.csv"], "file: cannot read /no/such/file.csv"),
        (["{file}"], "give --shop DOMAIN and the CSV file"),
        (["--job", "999999"], "no import job 999999"),
    ],
)
def test_a_wrong_invocation_exits_non_zero(shop, balances, capsys, argv, message):
    argv = [a.replace("{file}", str(balances)) for a in argv]

    code, _, err = manage("import_balances", *argv, capsys=capsys)

    assert code == 1
    assert message in err


def test_a_stopped_job_is_finished_with_job(shop, balances, capsys, monkeypatch):
    # given a job that failed midway
    def broken(**_kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_batch_apply", broken)
    code, out, err = manage("import_balances", "--shop", DOMAIN, str(balances), capsys=capsys)
    job_id = json.loads(out)["import"]
    assert code == 1
    assert f"import {job_id} failed: RuntimeError: disk full" in err

    # when it is run again once the cause is gone
    monkeypatch.undo()
    call_command("import_balances", "--job", str(job_id))

    assert ImportJob.objects.get(pk=job_id).status == "done"
    assert Member.objects.get(shop=shop.shop, external_id="101").points_balance == 120


@pytest.mark.django_db(transaction=True)
def test_manage_py_exits_1_for_an_unusable_file_and_0_for_a_good_one(tmp_path):
    # given a shop the command's own process can see, on the test database
    shop_create(domain="cmd-shop.myshopify.com")
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_bytes(b"name,points\nAda,1\n")
    good.write_bytes(csv_of("101,,5,"))
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [
                sys.executable,
                "manage.py",
                "import_balances",
                "--shop",
                "cmd-shop.myshopify.com",
                str(path),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    refused, imported = run(bad), run(good)

    assert refused.returncode == 1
    assert "columns: needs an 'email' or a 'customer_id' column" in refused.stderr
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["imported"] == 1
