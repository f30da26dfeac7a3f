"""Test helpers: orders created directly with the ORM (intake lives in the orders app), stock through
inventory.services, and a fixed routing clock (a Monday morning in New York)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from inventory.models import Location, Product
from inventory.services import stock_receive
from orders.models import Channel, Order, OrderLine

# Monday 2026-03-02, 09:00 in New York: before every cut-off, a business day.
MONDAY_9AM = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
_seq = itertools.count(1)


def stock(product: Product, location: Location, quantity: int) -> None:
    stock_receive(product=product, location=location, quantity=quantity, reference="test")


def make_order(
    *,
    channel: Channel,
    lines: list[tuple[Product, int]],
    postal_code: str = "10001",
    method: str = "ship",
    service_level: str = "standard",
    pickup_location: Location | None = None,
    status: str = Order.Status.VALIDATED,
    placed_at: datetime = MONDAY_9AM,
    total: float = 50,
    priority: int = 0,
) -> Order:
    n = next(_seq)
    order = Order.objects.create(
        channel=channel,
        external_id=f"T-{n}",
        number=f"T{n:06d}",
        status=status,
        placed_at=placed_at,
        total=total,
        shipping_address={"postal_code": postal_code, "country": "US"},
        fulfillment_method=method,
        pickup_location=pickup_location,
        service_level=service_level,
        priority=priority,
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(order=order, line_number=i, product=p, sku=p.sku, quantity=q)
            for i, (p, q) in enumerate(lines, start=1)
        ]
    )
    return order


def publish_rules(rules: list[tuple[str, dict, dict]]):
    """Publish a new version of the active rule set holding exactly `rules` [(name, conditions, action)]."""
    from routing.models import RoutingRule, RuleSetVersion
    from routing.services import ruleset_version_draft, ruleset_version_publish

    current = RuleSetVersion.objects.get(rule_set__is_active=True, status="published")
    draft = ruleset_version_draft(version=current)
    draft.rules.all().delete()
    for i, (name, conditions, action) in enumerate(rules, start=1):
        RoutingRule.objects.create(version=draft, priority=i * 10, name=name, conditions=conditions, action=action)
    return ruleset_version_publish(version=draft)
