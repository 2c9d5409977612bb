"""Indexes for the analytics rollups' incremental refresh on other packages' tables.

The refresh reads a shop's orders changed since its watermark (``updated_at``: a refund
or a late snapshot changes an old order) and the actions recorded since (``created_at``).
Without these, each refresh would scan every order of every shop. They belong to the
analytics reads, so they are created here, by name, like ``analytics_order_counted``;
PostgreSQL builds them without locking the tables against the award path's writes.
"""

from typing import Any

from django.db import migrations

INDEXES = (
    ("analytics_order_changed", "earning_order", "(shop_id, updated_at)"),
    ("analytics_action_created", "earning_actionevent", "(shop_id, created_at)"),
)


def create(apps: Any, schema_editor: Any) -> None:
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, table, columns in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON {table} {columns}"
        )


def drop(apps: Any, schema_editor: Any) -> None:
    for name, _table, _columns in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("analytics", "0002_rollups")]

    operations = [migrations.RunPython(create, drop)]
