"""An index for the analytics figures on the earning engine's orders table.

The figures read a shop's counted orders (paid, neither cancelled nor fully refunded, not
a test) by the time they were placed, and only their customer, revenue, points and id.
This partial index holds exactly those orders in (shop, placed_at) order with those
columns, so a period's figures are an index-only range scan instead of a scan of the whole
table (bench/analytics.py: 1,000,000 orders). It belongs to the analytics reads, so it is
created here, by name, without changing the ``earning.Order`` model; PostgreSQL builds it
without locking the table against the award path's writes (CONCURRENTLY).
"""

from typing import Any

from django.db import migrations

NAME = "analytics_order_counted"
WHERE = (
    "has_snapshot AND paid AND NOT cancelled AND NOT fully_refunded AND NOT test "
    "AND placed_at IS NOT NULL"
)


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON earning_order "
            "(shop_id, placed_at) INCLUDE (member_id, eligible_amount, refunded_amount, "
            f"points_target, id) WHERE {WHERE}"
        )
    else:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {NAME} ON earning_order (shop_id, placed_at) "
            f"WHERE {WHERE}"
        )


def drop(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("earning", "0007_action_event_data")]

    operations = [migrations.RunPython(create, drop)]
