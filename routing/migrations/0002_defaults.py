"""The default published rule set, the shipped rate tables (BENCHMARK.md cost model) and routing settings."""

from django.db import migrations

DEFAULT_RULES = [
    (
        10,
        "Pickup orders: ship to the store when it lacks stock",
        {"all": [{"field": "order.method", "op": "eq", "value": "pickup"}]},
        {"type": "pickup_fallback", "fallback": "ship_to_store"},
    ),
    (
        20,
        "Hazmat and oversized items never from stores",
        {"any": [{"field": "any_line.handling_class", "op": "in", "value": ["hazmat", "oversized"]}]},
        {"type": "exclude", "kinds": ["store"]},
    ),
    (
        30,
        "B2B orders ship from DCs and the 3PL",
        {"all": [{"field": "order.channel", "op": "eq", "value": "b2b"}]},
        {"type": "restrict", "kinds": ["warehouse", "3pl"]},
    ),
    (
        40,
        "Marketplace orders ship complete",
        {"all": [{"field": "order.channel", "op": "eq", "value": "marketplace"}]},
        {"type": "ship_complete"},
    ),
    (50, "At most three packages per order", {}, {"type": "max_shipments", "max": 3}),
]


def forwards(apps, schema_editor):
    from routing.costs import DEFAULT_RATES

    RuleSet = apps.get_model("routing", "RuleSet")
    RuleSetVersion = apps.get_model("routing", "RuleSetVersion")
    RoutingRule = apps.get_model("routing", "RoutingRule")
    CarrierService = apps.get_model("routing", "CarrierService")
    RateBand = apps.get_model("routing", "RateBand")
    RoutingSettings = apps.get_model("routing", "RoutingSettings")

    RoutingSettings.objects.get_or_create(pk=1, defaults={"revision": 1})
    if not RuleSet.objects.exists():
        rs = RuleSet.objects.create(
            code="default", name="Default routing", is_active=True, description="Shipped with the DOM."
        )
        v = RuleSetVersion.objects.create(rule_set=rs, number=1, status="published", note="shipped defaults")
        for priority, name, conditions, action in DEFAULT_RULES:
            RoutingRule.objects.create(
                version=v, priority=priority, name=name, enabled=True, conditions=conditions, action=action
            )
    names = {"standard": "Standard ground", "express": "Express (2 days)", "overnight": "Overnight", "same_day": "Same-day courier"}
    for level, rates in DEFAULT_RATES.items():
        svc, created = CarrierService.objects.get_or_create(
            service_level=level, defaults={"name": names.get(level, level), "max_km": rates.max_km}
        )
        if created:
            for b in rates.bands:
                RateBand.objects.create(
                    service=svc, max_km=b.max_km, base=round(b.base, 2), per_kg=round(b.per_kg, 2), transit_days=b.transit_days
                )


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
