"""The returns rule set: a routing RuleSet (code "returns", never the active order rule set) with a published
first version, evaluated by routing's rule engine to narrow the locations a mail-in return may go to."""

from django.db import migrations

RETURN_RULES = [
    (
        10,
        "Hazmat and oversized returns only to warehouses",
        {"any": [{"field": "any_line.handling_class", "op": "in", "value": ["hazmat", "oversized"]}]},
        {"type": "restrict", "kinds": ["warehouse"]},
    ),
    (
        20,
        "Dropship suppliers never take returns",
        {},
        {"type": "exclude", "kinds": ["dropship"]},
    ),
]


def forwards(apps, schema_editor):
    RuleSet = apps.get_model("routing", "RuleSet")
    RuleSetVersion = apps.get_model("routing", "RuleSetVersion")
    RoutingRule = apps.get_model("routing", "RoutingRule")
    RoutingSettings = apps.get_model("routing", "RoutingSettings")
    rs, created = RuleSet.objects.get_or_create(
        code="returns",
        defaults={
            "name": "Return routing",
            "is_active": False,
            "description": "Where mail-in returns may go (evaluated by returns.services, not by order routing).",
        },
    )
    if not created or rs.versions.exists():
        return
    v = RuleSetVersion.objects.create(rule_set=rs, number=1, status="published", note="shipped defaults")
    for priority, name, conditions, action in RETURN_RULES:
        RoutingRule.objects.create(
            version=v, priority=priority, name=name, enabled=True, conditions=conditions, action=action
        )
    # Every process's compiled rules are rebuilt on their next use.
    import secrets

    RoutingSettings.objects.update_or_create(pk=1, defaults={"revision": secrets.randbits(62)})


class Migration(migrations.Migration):
    dependencies = [("returns", "0001_initial"), ("routing", "0002_defaults")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
