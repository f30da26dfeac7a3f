"""Routing one order now, and re-routing orders (short picks, rejections, an operator's "re-route now")."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from orders.models import Order, OrderLine
from routing.models import RoutingDecision
from routing.selectors import (
    decision_latest,
)
from routing.services.batch import _Job, _run

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def order_route(
    *, order_id: int, now: datetime | None = None, actor: AbstractBaseUser | None = None
) -> RoutingDecision:
    """Route an order (created or validated) in one transaction and return the decision.

    Safe to run twice: an order that is already routed or backordered is not routed again; its latest
    decision is returned. Orders on hold or cancelled are refused with a ValidationError.
    """
    result = _run(jobs=[_Job(order_id=order_id, kind=RoutingDecision.Kind.ROUTE)], now=now, actor=actor)
    if result.decisions:
        return result.decisions[0]
    latest = decision_latest(order_id=order_id)
    if latest is not None:
        return latest
    order = Order.objects.filter(pk=order_id).values_list("number", "status").first()
    if order is None:
        raise ValidationError(f"Order {order_id} does not exist.")
    raise ValidationError(f"Order {order[0]} is {order[1]}; only created or validated orders are routed.")


def order_reroute(
    *,
    order_id: int,
    quantities: dict[int, int],
    exclude_location_ids: list[int],
    reason: str,
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> RoutingDecision:
    """Route again `quantities` ({order line id: units}) that are not currently allocated, never to the
    excluded locations; a new decision on the order's timeline.

    Units that are already allocated again (a second delivery of the same task) are skipped, so running it
    twice is safe; when nothing is left to place the latest decision is returned unchanged.
    """
    quantities = {int(k): int(v) for k, v in quantities.items()}
    rows = {
        pk: (line_no, qty - alloc - cancelled)
        for pk, line_no, qty, alloc, cancelled in OrderLine.objects.filter(order_id=order_id).values_list(
            "pk", "line_number", "quantity", "quantity_allocated", "quantity_cancelled"
        )
    }
    errors = []
    for line_id, q in quantities.items():
        if line_id not in rows:
            errors.append(f"Order line {line_id} does not belong to order {order_id}.")
        elif q < 0:
            errors.append(f"Line {rows[line_id][0]}: cannot re-route a negative quantity ({q}).")
    if errors:
        raise ValidationError(errors)
    todo = {k: min(q, rows[k][1]) for k, q in quantities.items() if min(q, rows[k][1]) > 0}
    if todo:
        result = _run(
            jobs=[
                _Job(
                    order_id=order_id,
                    kind=RoutingDecision.Kind.REROUTE,
                    reason=reason,
                    quantities=todo,
                    exclude_location_ids=frozenset(exclude_location_ids),
                )
            ],
            now=now,
            actor=actor,
        )
        if result.decisions:
            return result.decisions[0]
        status = Order.objects.filter(pk=order_id).values_list("status", flat=True).first()
        raise ValidationError(f"Order {order_id} is {status}; it cannot be re-routed.")
    latest = decision_latest(order_id=order_id)
    if latest is None:
        raise ValidationError(f"Order {order_id} has nothing to re-route and has never been routed.")
    return latest


def orders_reroute_now(*, order_ids: list[int], actor: AbstractBaseUser | None = None) -> list[tuple[str, str]]:
    """Route each chosen order now (the orders list's bulk "re-route"): orders not yet routed are routed,
    orders with units still unplaced (backordered, partly placed) have those units routed again. Orders
    whose units are all placed, or that are on hold, cancelled or shipped, are left alone with the reason.
    Returns (order number, what happened) per order."""
    out = []
    for order in Order.objects.filter(pk__in=order_ids).order_by("placed_at", "pk"):
        try:
            if order.status in (Order.Status.CREATED, Order.Status.VALIDATED):
                order_route(order_id=order.pk, actor=actor)
                out.append((order.number, "routed"))
                continue
            open_units = {
                pk: qty - alloc - cancelled
                for pk, qty, alloc, cancelled in order.lines.values_list(
                    "pk", "quantity", "quantity_allocated", "quantity_cancelled"
                )
                if qty - alloc - cancelled > 0
            }
            if order.status not in (Order.Status.BACKORDERED, Order.Status.ROUTED) or not open_units:
                out.append(
                    (
                        order.number,
                        f"left alone: it is {order.get_status_display().lower()}"
                        + ("" if open_units else " with nothing left to place"),
                    )
                )
                continue
            order_reroute(
                order_id=order.pk,
                quantities=open_units,
                exclude_location_ids=[],
                reason="re-routed by operations",
                actor=actor,
            )
            out.append((order.number, "unplaced units routed again"))
        except ValidationError as exc:
            out.append((order.number, "left alone: " + " ".join(exc.messages)))
    return out
