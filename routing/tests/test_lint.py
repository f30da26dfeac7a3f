"""Lint: rules that never fire, empty groups and inactive locations, contradictions, unknown values."""

import pytest

from inventory.models import Location, LocationGroup
from orders.models import Channel
from routing.editor.diff import RuleRow
from routing.editor.lint import (
    LintContext,
    LocationFact,
    conditions_disjoint,
    conditions_imply,
    version_lint,
)
from routing.editor.selectors import lint_context_load

CTX = LintContext(
    channels=frozenset({"web", "b2b", "mkt"}),
    known_skus=frozenset({"SKU-A"}),
    regions=frozenset({"NY", "NJ", "CA"}),
    locations={
        "DC-EAST": LocationFact(1, "DC-EAST", "warehouse", True),
        "DC-WEST": LocationFact(2, "DC-WEST", "warehouse", True),
        "DC-OLD": LocationFact(3, "DC-OLD", "warehouse", False),
        "STORE-1": LocationFact(4, "STORE-1", "store", True),
    },
    groups={"east": frozenset({"DC-EAST"}), "empty": frozenset(), "closed": frozenset({"DC-OLD"})},
)


def leaf(field, op, value):
    return {"field": field, "op": op, "value": value}


def rule(i, conditions, action, enabled=True, name=None):
    return RuleRow(i, name or f"rule {i}", i * 10, enabled, conditions, action)


def codes(report, rule_id):
    return [w.code for w in report.for_rule(rule_id)]


def test_rule_after_catch_all_stop_never_fires():
    report = version_lint(
        rules=[
            rule(1, {}, {"type": "stop"}, name="Stop here"),
            rule(2, leaf("order.total", "gte", 100), {"type": "ship_complete"}),
        ],
        ctx=CTX,
    )
    assert codes(report, 2) == ["never_fires"]
    assert "“Stop here” catches every order first and stops" in report.for_rule(2)[0].message
    assert codes(report, 1) == []


def test_rule_whose_orders_an_earlier_stop_rule_catches_never_fires():
    stop = rule(1, {"all": [leaf("order.channel", "in", ["web", "mkt"])]}, {"type": "stop"})
    narrower = rule(
        2,
        {"all": [leaf("order.channel", "eq", "web"), leaf("order.total", "gt", 50)]},
        {"type": "max_shipments", "max": 1},
    )
    wider = rule(3, {"all": [leaf("order.channel", "in", ["web", "b2b"])]}, {"type": "max_shipments", "max": 1})
    report = version_lint(rules=[stop, narrower, wider], ctx=CTX)
    assert codes(report, 2) == ["never_fires"]
    assert codes(report, 3) == []  # b2b orders still reach it


def test_disabled_stop_rule_shadows_nothing():
    report = version_lint(
        rules=[rule(1, {}, {"type": "stop"}, enabled=False), rule(2, {}, {"type": "ship_complete"})], ctx=CTX
    )
    assert report.warnings == []


def test_self_contradictory_conditions():
    report = version_lint(
        rules=[
            rule(1, {"all": [leaf("order.total", "gt", 100), leaf("order.total", "lt", 50)]}, {"type": "ship_complete"})
        ],
        ctx=CTX,
    )
    assert codes(report, 1) == ["contradictory_conditions"]


def test_restriction_to_empty_group_and_inactive_locations():
    report = version_lint(
        rules=[
            rule(1, {}, {"type": "restrict", "groups": ["empty"]}),
            rule(2, {}, {"type": "exclude", "locations": ["DC-OLD"]}),
            rule(3, leaf("order.channel", "eq", "b2b"), {"type": "restrict", "groups": ["closed"]}),
        ],
        ctx=CTX,
    )
    assert codes(report, 1) == ["empty_group", "no_location"]
    assert "Group empty has no locations" in report.for_rule(1)[0].message
    assert codes(report, 2) == ["inactive_location"]
    assert "DC-OLD is inactive" in report.for_rule(2)[0].message
    assert codes(report, 3) == ["inactive_location", "no_location"]


def test_contradictory_restrictions():
    east = rule(1, leaf("order.channel", "eq", "web"), {"type": "restrict", "groups": ["east"]})
    west = rule(2, leaf("order.total", "gte", 10), {"type": "restrict", "locations": ["DC-WEST"]})
    report = version_lint(rules=[east, west], ctx=CTX)
    assert codes(report, 2) == ["contradiction"]
    assert "Contradicts rule #1" in report.for_rule(2)[0].message


def test_restrictions_on_disjoint_orders_do_not_contradict():
    east = rule(1, leaf("order.channel", "eq", "web"), {"type": "restrict", "groups": ["east"]})
    west = rule(2, leaf("order.channel", "eq", "b2b"), {"type": "restrict", "locations": ["DC-WEST"]})
    assert version_lint(rules=[east, west], ctx=CTX).warnings == []


def test_exclude_removing_everything_a_restriction_allows():
    only_dcs = rule(1, {}, {"type": "restrict", "kinds": ["warehouse"]})
    no_dcs = rule(2, leaf("order.total", "gt", 5), {"type": "exclude", "kinds": ["warehouse"]})
    report = version_lint(rules=[only_dcs, no_dcs], ctx=CTX)
    assert codes(report, 2) == ["contradiction"]


def test_unknown_channel_sku_and_region():
    report = version_lint(
        rules=[
            rule(1, leaf("order.channel", "eq", "wbe"), {"type": "ship_complete"}),
            rule(2, leaf("any_line.sku", "in", ["SKU-A", "SKU-NOPE"]), {"type": "ship_complete"}),
            rule(3, leaf("destination.region", "eq", "XX"), {"type": "ship_complete"}),
            rule(4, leaf("order.channel", "not_in", ["wbe"]), {"type": "ship_complete"}),
        ],
        ctx=CTX,
    )
    assert codes(report, 1) == ["unknown_value"]
    assert "'wbe': no such channel" in report.for_rule(1)[0].message
    assert "matches no order" in report.for_rule(1)[0].message
    assert codes(report, 2) == ["unknown_value"] and "'SKU-NOPE'" in report.for_rule(2)[0].message
    assert codes(report, 3) == ["unknown_value"]
    assert codes(report, 4) == []  # "none of" an unknown channel still matches orders


@pytest.mark.parametrize(
    "a,b,expected",
    [
        (leaf("order.total", "gte", 200), leaf("order.total", "gt", 100), True),
        (leaf("order.total", "gt", 100), leaf("order.total", "gte", 200), False),
        (
            leaf("destination.postal_code", "startswith", "100"),
            leaf("destination.postal_code", "startswith", "10"),
            True,
        ),
        (leaf("destination.postal_code", "eq", "10001"), leaf("destination.postal_code", "startswith", "100"), True),
        (leaf("all_lines.handling_class", "eq", "hazmat"), leaf("any_line.handling_class", "in", ["hazmat"]), True),
        (leaf("any_line.handling_class", "eq", "hazmat"), leaf("all_lines.handling_class", "eq", "hazmat"), False),
        (
            leaf("order.channel", "eq", "web"),
            {"any": [leaf("order.channel", "eq", "b2b"), leaf("order.channel", "eq", "web")]},
            True,
        ),
        (
            {"any": [leaf("order.channel", "eq", "web"), leaf("order.channel", "eq", "b2b")]},
            leaf("order.channel", "ne", "mkt"),
            True,
        ),
        (leaf("order.channel", "ne", "web"), leaf("order.channel", "eq", "b2b"), False),
    ],
)
def test_implication(a, b, expected):
    assert conditions_imply(a, b) is expected


def test_disjointness():
    assert conditions_disjoint(leaf("order.total", "lt", 50), leaf("order.total", "gte", 50))
    assert not conditions_disjoint(leaf("order.total", "lte", 50), leaf("order.total", "gte", 50))
    assert conditions_disjoint(leaf("order.channel", "in", ["web"]), leaf("order.channel", "not_in", ["web", "b2b"]))
    assert not conditions_disjoint(leaf("any_line.sku", "eq", "A"), leaf("any_line.sku", "eq", "B"))


@pytest.mark.django_db
def test_lint_context_reads_the_database(dc, dc_west):
    Channel.objects.create(code="web", name="Web", kind="web")
    dc_west.is_active = False
    dc_west.save()
    LocationGroup.objects.create(code="nobody", name="Nobody")
    g = LocationGroup.objects.create(code="west", name="West")
    g.locations.add(dc_west)
    rows = [
        rule(1, leaf("order.channel", "eq", "web"), {"type": "restrict", "groups": ["west"]}),
        rule(2, leaf("order.channel", "eq", "app"), {"type": "prefer", "groups": ["nobody"], "adjustment": -1}),
    ]
    report = version_lint(rules=rows, ctx=lint_context_load(rows=rows))
    assert codes(report, 1) == ["inactive_location", "no_location"]
    assert codes(report, 2) == ["empty_group", "unknown_value"]
    assert Location.objects.count() == 2
