"""Short-pick reasons a clerk can tell apart: "Can't find it now" (no stock change, re-routed) next to
"We have none" (the old "Not in stock": on hand set to what is still held)."""

from django.db import migrations


def add_cant_find(apps, schema_editor):
    RejectionReason = apps.get_model("fulfillment", "RejectionReason")
    RejectionReason.objects.get_or_create(
        code="cant_find", defaults={"label": "Can't find it now", "stock_effect": "none", "sort_order": 5}
    )
    # Relabel the default only when an admin has not renamed it.
    RejectionReason.objects.filter(code="not_in_stock", label="Not in stock").update(label="We have none")


def remove_cant_find(apps, schema_editor):
    RejectionReason = apps.get_model("fulfillment", "RejectionReason")
    RejectionReason.objects.filter(code="cant_find").delete()
    RejectionReason.objects.filter(code="not_in_stock", label="We have none").update(label="Not in stock")


class Migration(migrations.Migration):
    dependencies = [("fulfillment", "0006_endpoint_token_env_allow_list")]

    operations = [migrations.RunPython(add_cant_find, remove_cant_find)]
