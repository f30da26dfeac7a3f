"""Hand-built order histories for the KPI tests: orders, fulfilment orders, shipments and decisions written
directly with their timestamps, so each test states exactly what happened and when."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from fulfillment.models import FulfillmentLine, FulfillmentOrder, Shipment
from orders.models import Order, OrderLine
from routing.models import RoutingDecision

_numbers = itertools.count(1)
T0 = timezone.make_aware(datetime(2026, 3, 2, 9, 0))  # a Monday, 09:00 in the current zone
DAY0 = date(2026, 3, 2)


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def order_make(
    *,
    channel,
    placed: datetime = T0,
    lines: list[tuple] = (),
    method: str = "ship",
    promised: date | None = None,
    status: str = "routed",
) -> Order:
    """lines: (product, quantity, shipped, cancelled, returned)."""
    n = next(_numbers)
    order = Order.objects.create(
        channel=channel,
        external_id=f"H{n}",
        number=f"HIST-{n:05d}",
        placed_at=placed,
        fulfillment_method=method,
        promised_delivery_date=promised,
        status=status,
    )
    for i, (product, qty, shipped, cancelled, returned) in enumerate(lines, start=1):
        OrderLine.objects.create(
            order=order,
            line_number=i,
            product=product,
            sku=product.sku,
            quantity=qty,
            quantity_allocated=shipped,
            quantity_shipped=shipped,
            quantity_cancelled=cancelled,
            quantity_returned=returned,
        )
    return order


def fo_make(
    *,
    order: Order,
    location,
    method: str = "ship",
    status: str = "shipped",
    cost: str = "0",
    short: int = 0,
    **times,
) -> FulfillmentOrder:
    """A fulfilment order for all of the order's lines (`short` units short on the first line)."""
    fo = FulfillmentOrder.objects.create(
        order=order, location=location, method=method, status=status, estimated_cost=Decimal(cost), **times
    )
    worked = status in ("shipped", "delivered", "picked_up", "in_transit", "received")
    for i, line in enumerate(order.lines.order_by("line_number")):
        s = short if i == 0 else 0
        picked = line.quantity - s
        FulfillmentLine.objects.create(
            fulfillment_order=fo,
            order_line=line,
            quantity=line.quantity,
            quantity_picked=picked,
            quantity_short=s,
            quantity_shipped=min(line.quantity_shipped, picked) if worked else 0,
        )
    return fo


def shipment_make(*, fo: FulfillmentOrder, shipped: datetime, delivered: datetime | None = None, cost: str = "0"):
    return Shipment.objects.create(
        fulfillment_order=fo, shipped_at=shipped, delivered_at=delivered, cost=Decimal(cost), carrier="UPS"
    )


def decision_make(
    *,
    order: Order,
    made: datetime = T0,
    cost: str = "10.00",
    oracle: str | None = None,
    optimal: bool = True,
    outcome: str = "routed",
    kind: str = "route",
) -> RoutingDecision:
    d = RoutingDecision.objects.create(
        order=order,
        kind=kind,
        outcome=outcome,
        service_level="standard",
        method=order.fulfillment_method,
        cost=Decimal(cost),
        model_cost=Decimal(cost),
        oracle_cost=Decimal(oracle) if oracle is not None else None,
        optimal=optimal,
    )
    RoutingDecision.objects.filter(pk=d.pk).update(created_at=made)  # auto_now_add: date it afterwards
    return d
