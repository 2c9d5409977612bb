"""On PostgreSQL, the database itself refuses to change a ledger entry.

Deletes stay possible only through the cascade of a shop's own deletion (the
platform's shop-redaction duty); an UPDATE is refused whoever issues it.
"""

from django.db import migrations

from loyalty_app.common.append_only import append_only_trigger_operation


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [
        append_only_trigger_operation(
            prefix="ledger_entry", table="ledger_ledgerentry", noun="ledger entries"
        )
    ]
