"""Helpers for the rule editor's tests: a published rule set with known rules, and a snapshot of every
live table routing could touch (to prove a simulation or a test order leaves them byte-identical)."""

from __future__ import annotations

from django.db.models import Max

from fulfillment.models import FulfillmentLine, FulfillmentOrder
from inventory.models import InventoryMovement, Reservation, ReservationLine, StockLevel
from orders.models import Order, OrderEvent, OrderLine
from routing.models import LocationCapacity, RoutingDecision, RoutingRule, RuleSet, RuleSetVersion
from routing.services import ruleset_version_publish

HAZMAT_RULE = (
    "Hazmat never from stores",
    {"any": [{"field": "any_line.handling_class", "op": "in", "value": ["hazmat"]}]},
    {"type": "exclude", "kinds": ["store"]},
)
B2B_RULE = (
    "B2B from DCs",
    {"all": [{"field": "order.channel", "op": "eq", "value": "b2b"}]},
    {"type": "restrict", "kinds": ["warehouse"]},
)
MAX3_RULE = ("At most three packages", {}, {"type": "max_shipments", "max": 3})


def published_version(rules=(HAZMAT_RULE, B2B_RULE, MAX3_RULE)) -> RuleSetVersion:
    """A new published version of the active rule set (created when missing) holding exactly `rules`."""
    rs = RuleSet.objects.filter(is_active=True).first() or RuleSet.objects.create(
        code="default", name="Default routing", is_active=True
    )
    number = (rs.versions.aggregate(m=Max("number"))["m"] or 0) + 1
    RuleSetVersion.objects.filter(rule_set=rs, status=RuleSetVersion.Status.DRAFT).delete()
    v = RuleSetVersion.objects.create(rule_set=rs, number=number, note="test rules")
    for i, (name, conditions, action) in enumerate(rules, start=1):
        RoutingRule.objects.create(version=v, priority=i * 10, name=name, conditions=conditions, action=action)
    return ruleset_version_publish(version=v)


LIVE_TABLES = [
    (StockLevel, ("id", "product_id", "location_id", "on_hand", "reserved", "updated_at")),
    (Reservation, ("id", "channel_id", "reference", "status", "expires_at", "updated_at")),
    (
        ReservationLine,
        ("id", "reservation_id", "product_id", "location_id", "quantity", "quantity_closed", "reference"),
    ),
    (InventoryMovement, ("id", "product_id", "location_id", "delta_on_hand", "delta_reserved", "reason", "reference")),
    (Order, None),
    (OrderLine, None),
    (OrderEvent, None),
    (FulfillmentOrder, None),
    (FulfillmentLine, None),
    (LocationCapacity, ("id", "location_id", "day", "capacity", "used")),
    (RoutingDecision, ("id", "order_id", "outcome", "plan", "cost")),
]


def live_snapshot() -> dict:
    """Every row (every column unless listed) of the tables live routing writes, in primary-key order."""
    out = {}
    for model, cols in LIVE_TABLES:
        fields = cols or tuple(f.attname for f in model._meta.concrete_fields)
        out[model.__name__] = [tuple(map(repr, row)) for row in model.objects.order_by("pk").values_list(*fields)]
    return out
