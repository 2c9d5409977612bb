"""The index of the ledger's activity entries again, with the referral and challenge
kinds that now count as activity (``services.ACTIVE``). PostgreSQL uses a partial index
only for a query whose condition implies the index's: with the kinds missing, the
refresh's per-entry probe for the previous activity entry could not use it. The new index
is built first, then the old one dropped, both without locking the ledger against writes.
"""

from typing import Any

from django.db import migrations

OLD = "analytics_ledger_active"
OLD_WHERE = "(kind IN ('order', 'action', 'tier_reward') AND points > 0) OR kind = 'redemption'"
NAME = "analytics_ledger_activity"
WHERE = (
    "(kind IN ('order', 'action', 'tier_reward', 'referral', 'challenge') AND points > 0)"
    " OR kind = 'redemption'"
)


def _index(schema_editor: Any, name: str, where: str) -> None:
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON ledger_ledgerentry "
        f"(member_id, created_at, id) WHERE {where}"
    )


def _drop(schema_editor: Any, name: str) -> None:
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


def create(apps: Any, schema_editor: Any) -> None:
    _index(schema_editor, NAME, WHERE)
    _drop(schema_editor, OLD)


def revert(apps: Any, schema_editor: Any) -> None:
    _index(schema_editor, OLD, OLD_WHERE)
    _drop(schema_editor, NAME)


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("analytics", "0006_buyers")]

    operations = [migrations.RunPython(create, revert)]
