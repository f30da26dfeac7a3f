"""The default reasons a store can give when it cannot fulfil a line (editable in the admin)."""

from django.db import migrations

REASONS = [
    ("not_in_stock", "Not in stock", "zero", 10),
    ("mismatch", "Stock count mismatch", "lower", 20),
    ("damaged", "Damaged", "damaged", 30),
    ("avoid_split", "Reject to avoid a split shipment", "none", 40),
    ("location_rejected", "Rejected by the warehouse or 3PL", "none", 50),
]


def add_reasons(apps, schema_editor):
    RejectionReason = apps.get_model("fulfillment", "RejectionReason")
    for code, label, effect, sort in REASONS:
        RejectionReason.objects.get_or_create(
            code=code, defaults={"label": label, "stock_effect": effect, "sort_order": sort}
        )


class Migration(migrations.Migration):
    dependencies = [("fulfillment", "0003_workflows")]

    operations = [migrations.RunPython(add_reasons, migrations.RunPython.noop)]
