"""Settings come from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-real-secret-key",
    "SHOPIFY_API_KEY": "a-real-api-key",
    "SHOPIFY_API_SECRET": "a-real-api-secret",
}
# Read from the process environment by settings.py; each test decides them itself.
SETTINGS_VARIABLES = (
    *PRODUCTION,
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "SHOPIFY_WEBHOOK_MAX_BYTES",
    "DB_CONN_MAX_AGE",
    "DJANGO_SETTINGS_MODULE",
)


def start(**env: str | None) -> subprocess.CompletedProcess[str]:
    """Start the app (manage.py check) in a fresh process with this environment."""
    environ = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    environ.update(PRODUCTION)
    environ["ALLOWED_HOSTS"] = "loyalty.example.com"
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_with_every_secret_starts():
    # The control for the failures below: the same start, with nothing missing.
    result = start()

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "SHOPIFY_API_KEY", "SHOPIFY_API_SECRET"])
def test_production_without_a_secret_refuses_to_start_naming_it(missing):
    result = start(**{missing: None})

    assert result.returncode != 0
    assert (
        f"django.core.exceptions.ImproperlyConfigured: {missing} is not set. Set it in the "
        "environment (or run with DEBUG=true for local development)."
    ) in result.stderr


def test_an_empty_secret_counts_as_missing():
    result = start(SHOPIFY_API_SECRET="")

    assert result.returncode != 0
    assert "ImproperlyConfigured: SHOPIFY_API_SECRET is not set" in result.stderr


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_a_bad_boolean_refuses_to_start(value):
    result = start(DEBUG=value)

    assert result.returncode != 0
    assert (
        f"ImproperlyConfigured: DEBUG must be a boolean (true/false), got '{value}'"
        in result.stderr
    )


def test_a_bad_integer_refuses_to_start():
    result = start(SHOPIFY_WEBHOOK_MAX_BYTES="two megabytes")

    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: SHOPIFY_WEBHOOK_MAX_BYTES must be an integer, got 'two megabytes'"
        in result.stderr
    )


def test_development_mode_starts_with_no_secrets_at_all():
    result = start(DEBUG="true", SECRET_KEY=None, SHOPIFY_API_KEY=None, SHOPIFY_API_SECRET=None)

    assert result.returncode == 0, result.stderr
