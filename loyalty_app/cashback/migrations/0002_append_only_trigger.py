"""On PostgreSQL, the database itself refuses to change a cash-back entry (as for the
points ledger). Deletes stay possible only through the cascade of a shop's or member's own
deletion (the platform's redaction duty); an UPDATE is refused whoever issues it.
"""

from django.db import migrations

from loyalty_app.common.append_only import append_only_trigger_operation


class Migration(migrations.Migration):
    dependencies = [("cashback", "0001_initial")]
    operations = [
        append_only_trigger_operation(
            prefix="cashback_entry", table="cashback_cashbackentry", noun="cash-back entries"
        )
    ]
