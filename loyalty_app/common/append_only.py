"""A PostgreSQL trigger that refuses every UPDATE of a table's rows (append-only tables).

Migrations call `append_only_trigger_operation`; the SQL it runs is fixed by its arguments,
so a migration already applied keeps its meaning as long as this text is not changed.
Deletes stay possible (a shop's or member's erasure cascades through them).
"""

from __future__ import annotations

from django.db import migrations


def append_only_trigger_sql(*, prefix: str, table: str, noun: str) -> tuple[str, str]:
    """The (create, drop) SQL of the trigger `<prefix>_no_update` on `table`.

    Its function `<prefix>_refuse_update()` raises "<noun> are append-only (entry <id>)".
    """
    create = f"""
CREATE OR REPLACE FUNCTION {prefix}_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{noun} are append-only (entry %)', OLD.id;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {prefix}_no_update BEFORE UPDATE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {prefix}_refuse_update();
"""
    drop = f"""
DROP TRIGGER IF EXISTS {prefix}_no_update ON {table};
DROP FUNCTION IF EXISTS {prefix}_refuse_update();
"""
    return create, drop


def append_only_trigger_operation(*, prefix: str, table: str, noun: str) -> migrations.RunPython:
    """A migration operation installing (and, backwards, dropping) the trigger; PostgreSQL only."""
    create, drop = append_only_trigger_sql(prefix=prefix, table=table, noun=noun)

    def run(sql: str, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            # Straight to the cursor: PL/pgSQL's % must not be read as a query placeholder.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    def forwards(apps, schema_editor):
        run(create, schema_editor)

    def backwards(apps, schema_editor):
        run(drop, schema_editor)

    return migrations.RunPython(forwards, backwards)
