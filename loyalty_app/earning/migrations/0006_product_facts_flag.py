from django.db import migrations

FACT_FIELDS = {"product_type", "tag", "collection"}


def flag_shops(apps, schema_editor):
    """Set ``Shop.uses_product_facts`` for shops whose rules already need product facts."""
    Shop = apps.get_model("shops", "Shop")
    Program = apps.get_model("earning", "Program")
    Campaign = apps.get_model("earning", "Campaign")
    needed = set()
    for shop_id, rules in Program.objects.values_list("shop_id", "rules"):
        if any(r.get("field") in FACT_FIELDS for r in rules.get("line_rules", ())):
            needed.add(shop_id)
    for shop_id, definition in Campaign.objects.values_list("shop_id", "definition"):
        if (definition.get("applies_to") or {}).get("field") in FACT_FIELDS:
            needed.add(shop_id)
    Shop.objects.filter(pk__in=needed).update(uses_product_facts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("earning", "0005_actions_and_pending"),
        ("shops", "0002_uses_product_facts"),
    ]

    operations = [migrations.RunPython(flag_shops, migrations.RunPython.noop)]
