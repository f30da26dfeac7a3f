"""The condition grammar, the action registry and validation (pure, plus code look-ups)."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from routing.core import LineView, OrderView
from routing.rules import ACTIONS, conditions_compile, rule_validate
from routing.tests.helpers import MONDAY_9AM


def view(**kw) -> OrderView:
    base = dict(
        id=1,
        channel="web",
        channel_online=True,
        method="ship",
        service_level="standard",
        total=120.0,
        customer_tier="gold",
        country="US",
        region="NY",
        postal_code="10001",
        latitude=40.75,
        longitude=-73.99,
        clock=MONDAY_9AM,
        promise=date(2026, 3, 9),
        placed_at=MONDAY_9AM,
        pickup_location_id=None,
        lines=(LineView(1, 1, "SKU-A", 2, "ambient", 0.5), LineView(2, 2, "SKU-HZ", 1, "hazmat", 1.0)),
    )
    base.update(kw)
    return OrderView(**base)


def leaf(field, op, value):
    return {"field": field, "op": op, "value": value}


@pytest.mark.parametrize(
    "cond, expected",
    [
        (leaf("order.channel", "eq", "web"), True),
        (leaf("order.channel", "eq", "app"), False),
        (leaf("order.channel", "ne", "app"), True),
        (leaf("order.channel", "ne", "web"), False),
        (leaf("order.service_level", "in", ["express", "standard"]), True),
        (leaf("order.service_level", "in", ["express"]), False),
        (leaf("order.method", "not_in", ["pickup"]), True),
        (leaf("order.method", "not_in", ["ship"]), False),
        (leaf("order.total", "gt", 119.99), True),
        (leaf("order.total", "gt", 120), False),
        (leaf("order.total", "gte", 120), True),
        (leaf("order.total", "gte", 120.01), False),
        (leaf("order.units", "lt", 4), True),
        (leaf("order.units", "lt", 3), False),
        (leaf("order.line_count", "lte", 2), True),
        (leaf("order.line_count", "lte", 1), False),
        (leaf("destination.postal_code", "startswith", "100"), True),
        (leaf("destination.postal_code", "startswith", "900"), False),
        (leaf("destination.country", "eq", "US"), True),
        (leaf("destination.region", "in", ["NJ", "NY"]), True),
        (leaf("customer.tier", "eq", "gold"), True),
        (leaf("any_line.handling_class", "eq", "hazmat"), True),
        (leaf("all_lines.handling_class", "eq", "ambient"), False),
        (leaf("all_lines.handling_class", "in", ["ambient", "hazmat"]), True),
        (leaf("any_line.sku", "startswith", "SKU-H"), True),
        (leaf("all_lines.sku", "startswith", "SKU-H"), False),
        ({}, True),
        ({"all": [leaf("order.channel", "eq", "web"), leaf("order.total", "gt", 500)]}, False),
        ({"any": [leaf("order.channel", "eq", "app"), leaf("order.total", "gt", 100)]}, True),
        (
            {
                "all": [
                    leaf("order.channel", "eq", "web"),
                    {"any": [leaf("customer.tier", "eq", "platinum"), {"all": [leaf("order.units", "gte", 3)]}]},
                ]
            },
            True,
        ),
    ],
)
def test_each_operator_field_and_group(cond, expected):
    rule_validate(conditions=cond, action={"type": "stop"})
    assert conditions_compile(cond)(view()) is expected


@pytest.mark.parametrize(
    "cond, message",
    [
        (leaf("order.totl", "gt", 1), "'order.totl' is not a field you can test"),
        (leaf("order.total", "bigger", 1), "'bigger' is not an operator"),
        (leaf("order.total", "gt", "100"), "the order total is a number; '100' is not one"),
        (leaf("order.channel", "gt", "web"), "only compares numbers"),
        (leaf("order.service_level", "eq", "expres"), "'expres' is not a valid value for the service level"),
        (leaf("order.channel", "in", "web"), "needs a non-empty list"),
        (leaf("order.channel", "eq", ["web"]), "needs a single value"),
        (leaf("order.total", "startswith", 1), "'startswith' only works on text"),
        ({"field": "order.channel", "op": "eq"}, "give a value"),
        ({"all": []}, "'all' needs a non-empty list"),
        ({"all": [leaf("order.channel", "eq", "web")], "any": []}, "a group has exactly one key"),
        ({"all": [{"any": [leaf("order.units", "gte", "x")]}]}, "Condition › all #1 › any #1"),
        ("web", "expected an object"),
    ],
)
def test_condition_validation_messages(cond, message):
    with pytest.raises(ValidationError) as exc:
        rule_validate(conditions=cond, action={"type": "stop"})
    assert message in " ".join(exc.value.message_dict["conditions"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "action, message",
    [
        ({"type": "teleport"}, "Action 'teleport' is not known"),
        ({"type": "exclude"}, "Name the locations, groups or kinds"),
        ({"type": "exclude", "kinds": ["castle"]}, "Unknown location kind 'castle'"),
        ({"type": "restrict", "locations": ["NOPE-1"]}, "No location with code NOPE-1"),
        ({"type": "restrict", "groups": ["nope"]}, "No location group with code nope"),
        ({"type": "prefer", "kinds": ["store"], "adjustment": "cheap"}, "'adjustment' must be a number"),
        ({"type": "max_shipments", "max": 0}, "'max' must be a whole number of at least 1"),
        ({"type": "max_distance", "km": -5}, "'km' must be a positive number"),
        ({"type": "protect_store_stock", "units": 1.5}, "'units' must be a whole number"),
        ({"type": "pickup_fallback", "fallback": "teleport"}, "'fallback' must be"),
        ({"type": "ship_complete", "really": True}, "does not take really; it takes no parameters"),
        ("exclude stores", "The action must be an object"),
    ],
)
def test_action_validation_messages(action, message):
    with pytest.raises(ValidationError) as exc:
        rule_validate(conditions={}, action=action)
    assert message in " ".join(exc.value.message_dict["action"])


def test_registry_maps_every_action_type_to_a_class():
    assert set(ACTIONS) >= {
        "restrict",
        "exclude",
        "prefer",
        "max_shipments",
        "ship_complete",
        "max_distance",
        "protect_store_stock",
        "pickup_fallback",
        "stop",
    }
    for name, cls in ACTIONS.items():
        assert cls.type == name and cls.label


@pytest.mark.django_db
def test_rules_are_validated_on_save_and_published_versions_are_read_only():
    from routing.models import RoutingRule, RuleSet, RuleSetVersion

    rs = RuleSet.objects.create(code="t", name="T")
    draft = RuleSetVersion.objects.create(rule_set=rs, number=1)
    with pytest.raises(ValidationError, match="not a field you can test"):
        RoutingRule.objects.create(
            version=draft, name="bad", conditions=leaf("order.colour", "eq", "red"), action={"type": "stop"}
        )
    assert not RoutingRule.objects.filter(version=draft).exists()
    RoutingRule.objects.create(version=draft, name="ok", conditions={}, action={"type": "stop"})
    published = RuleSetVersion.objects.create(rule_set=rs, number=2, status="published")
    with pytest.raises(ValidationError, match="edit a draft copy"):
        RoutingRule.objects.create(version=published, name="late", conditions={}, action={"type": "stop"})


@pytest.mark.django_db(transaction=True)
def test_database_allows_one_published_version_per_rule_set():
    from routing.models import RuleSet, RuleSetVersion

    rs = RuleSet.objects.create(code="t", name="T")
    RuleSetVersion.objects.create(rule_set=rs, number=1, status="published")
    with pytest.raises(IntegrityError):
        RuleSetVersion.objects.create(rule_set=rs, number=2, status="published")


@pytest.mark.django_db
def test_publishing_swaps_versions_and_invalidates_the_compiled_cache():
    from routing.models import RoutingRule, RuleSetVersion
    from routing.selectors import network_static
    from routing.services import ruleset_version_draft, ruleset_version_publish

    current = RuleSetVersion.objects.get(rule_set__is_active=True, status="published")
    before = network_static()
    assert before.rules.version_id == current.pk
    assert network_static() is before  # cached while nothing changes
    draft = ruleset_version_draft(version=current)
    RoutingRule.objects.create(version=draft, priority=1, name="Stop early", conditions={}, action={"type": "stop"})
    ruleset_version_publish(version=draft)
    current.refresh_from_db()
    assert current.status == "archived"
    after = network_static()
    assert after is not before and after.rules.version_id == draft.pk
    assert after.rules.rules[0].name == "Stop early"
    with pytest.raises(ValidationError, match="Only drafts can be published"):
        ruleset_version_publish(version=draft)
