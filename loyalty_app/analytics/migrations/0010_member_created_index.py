"""An index of a shop's customer records by creation time, for the analytics' members per
day (records created per local day of a period): an index-only range of the period
instead of a scan of every member (bench/analytics.py: 90 ms at 1,000,000 members).
Created here, by name, without locking the members table against writes, like
``analytics_order_counted``.
"""

from typing import Any

from django.db import migrations

NAME = "analytics_member_created"


def create(apps: Any, schema_editor: Any) -> None:
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS {NAME} ON members_member (shop_id, created_at)"
    )


def drop(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("analytics", "0009_new_members_index_only"), ("members", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
