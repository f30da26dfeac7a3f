"""Dated backorders: routing decides when units are backordered, inventory allocates them against inbound
supply (inventory.backorders) and orders stores the expected dates (orders.services). This module joins the
three: after a routing batch backorders units, when inbound is received (routed highest priority first),
when inbound is delayed, and on the backorder retry schedule."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from inventory.services import inbound_allocations_replan, products_with_inbound_plans
from orders.models import Order, OrderLine
from orders.services import order_events_add_bulk, order_lines_expected_dates_set


def backorders_date(*, product_ids: set[int] | None, quiet_order_ids: frozenset[int] = frozenset()) -> dict:
    """Re-plan the inbound allocations of these products' backorders (all products with inbound plans when
    None) and store the expected dates. Every backordered order whose expected date changed gets a
    "backordered" timeline entry with the new date (so `order.backordered` goes out), except
    `quiet_order_ids` (a routing batch writes their entry itself). Returns {order id: new expected date}."""
    products = products_with_inbound_plans(product_ids=product_ids)
    if not products:
        return {}
    with transaction.atomic():
        changed = order_lines_expected_dates_set(dates=inbound_allocations_replan(product_ids=products))
        waiting = set(
            Order.objects.filter(pk__in=changed, status=Order.Status.BACKORDERED).values_list("pk", flat=True)
        )
        events = [
            {
                "order_id": oid,
                "type": "backordered",
                "message": f"Expected {d.isoformat()} (inbound supply)" if d else "No inbound supply dated yet",
                "data": {"expected_date": d.isoformat() if d else None, "redated": True},
            }
            for oid, d in changed.items()
            if oid in waiting and oid not in quiet_order_ids
        ]
        order_events_add_bulk(events=events)
    return changed


def backorders_date_for_lines(*, line_ids: list[int], order_ids: frozenset[int]) -> dict[int, date | None]:
    """After a routing batch left these order lines' units unplaced: date them against inbound and return
    the expected date of each of `order_ids` (the batch's own timeline entries carry it)."""
    products = set(
        OrderLine.objects.filter(pk__in=line_ids, product_id__isnull=False).values_list("product_id", flat=True)
    )
    if not products or not products_with_inbound_plans(product_ids=products):
        return {}
    backorders_date(product_ids=products, quiet_order_ids=order_ids)
    rows = OrderLine.objects.filter(order_id__in=order_ids, expected_date__isnull=False).values_list(
        "order_id", "expected_date"
    )
    out: dict[int, date | None] = {}
    for oid, d in rows:
        out[oid] = max(d, out.get(oid) or d)
    return out


def inbound_received_route(*, order_ids: list[int], product_ids: set[int]) -> int:
    """Inbound arrived: route the orders that waited on it one by one, highest priority first (each takes
    the new stock before the next is tried), then re-date what still waits. Returns how many moved."""
    from routing.models import RoutingDecision
    from routing.services.batch import BACKGROUND, _Job, _run

    moved = 0
    for oid in order_ids:
        job = _Job(order_id=oid, kind=RoutingDecision.Kind.REROUTE, reason="inbound received", require_progress=True)
        moved += len(_run(jobs=[job], now=None, mode=BACKGROUND).outcomes)
    backorders_date(product_ids=product_ids)
    return moved
