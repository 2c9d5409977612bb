"""An index of the ledger's activity entries (points earned, redemptions) per member in
time order: the rollup refresh finds each new entry's previous activity entry of the same
member (``AnalyticsActiveDay``) with one probe. Created here, by name, without locking the
ledger against writes, like ``analytics_order_counted``.
"""

from typing import Any

from django.db import migrations

NAME = "analytics_ledger_active"
WHERE = "(kind IN ('order', 'action', 'tier_reward') AND points > 0) OR kind = 'redemption'"


def create(apps: Any, schema_editor: Any) -> None:
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS {NAME} ON ledger_ledgerentry "
        f"(member_id, created_at, id) WHERE {WHERE}"
    )


def drop(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("analytics", "0004_active_days"), ("ledger", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
