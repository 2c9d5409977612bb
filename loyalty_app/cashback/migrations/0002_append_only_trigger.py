"""On PostgreSQL, the database itself refuses to change a cash-back entry (as for the
points ledger). Deletes stay possible only through the cascade of a shop's or member's own
deletion (the platform's redaction duty); an UPDATE is refused whoever issues it.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION cashback_entry_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'cash-back entries are append-only (entry %)', OLD.id;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cashback_entry_no_update BEFORE UPDATE ON cashback_cashbackentry
    FOR EACH ROW EXECUTE FUNCTION cashback_entry_refuse_update();
"""

DROP = """
DROP TRIGGER IF EXISTS cashback_entry_no_update ON cashback_cashbackentry;
DROP FUNCTION IF EXISTS cashback_entry_refuse_update();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # Straight to the cursor: PL/pgSQL's % must not be read as a query placeholder.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("cashback", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
