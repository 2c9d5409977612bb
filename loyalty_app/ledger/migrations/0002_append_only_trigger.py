"""On PostgreSQL, the database itself refuses to change a ledger entry.

Deletes stay possible only through the cascade of a shop's own deletion (the
platform's shop-redaction duty); an UPDATE is refused whoever issues it.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION ledger_entry_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only (entry %)', OLD.id;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON ledger_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_refuse_update();
"""

DROP = """
DROP TRIGGER IF EXISTS ledger_entry_no_update ON ledger_ledgerentry;
DROP FUNCTION IF EXISTS ledger_entry_refuse_update();
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
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
