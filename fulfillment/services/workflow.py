"""The fulfilment order's state machine and the small helpers every fulfilment process shares: locking, scope
checks, transitions with their timeline event, stock consumption and release through inventory, and the
customer order's refresh after a change."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError

from common.errors import StateConflict
from common.roles import OPERATIONS, user_has_role
from fulfillment.models import (
    FulfillmentLine,
    FulfillmentOrder,
)
from inventory.models import (
    Location,
    RefType,
    ReservationLine,
)
from inventory.services import (
    reservation_consume,
    reservation_release,
)
from orders.models import Order
from orders.services import (
    order_event_add,
    order_lines_cancelled_add,
    order_lines_shipped_set,
    order_status_set,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


S = FulfillmentOrder.Status


M = FulfillmentOrder.Method


# Where each status may go next, per method. Rejected and cancelled are reachable from every open status.
_SHIP_FLOW = {
    S.CREATED: {S.RELEASED, S.PICKING, S.SHIPPED},
    S.RELEASED: {S.PICKING, S.PACKED, S.SHIPPED},
    S.PICKING: {S.PACKED, S.SHIPPED},
    S.PACKED: {S.SHIPPED},
    S.SHIPPED: {S.DELIVERED},
}


TRANSITIONS: dict[str, dict[str, set[str]]] = {
    M.SHIP: _SHIP_FLOW,
    M.SAME_DAY: _SHIP_FLOW,
    M.DROPSHIP: _SHIP_FLOW,
    M.PICKUP: {
        S.CREATED: {S.PICKING, S.READY_FOR_PICKUP},
        S.PICKING: {S.READY_FOR_PICKUP},
        S.READY_FOR_PICKUP: {S.PICKED_UP, S.EXPIRED},
    },
    M.TRANSFER: {
        S.CREATED: {S.RELEASED, S.PICKING, S.IN_TRANSIT},
        S.RELEASED: {S.PICKING, S.PACKED, S.IN_TRANSIT},
        S.PICKING: {S.PACKED, S.IN_TRANSIT},
        S.PACKED: {S.IN_TRANSIT},
        S.IN_TRANSIT: {S.RECEIVED},
    },
}


# Statuses in which the location still has work (and the order can still be cancelled or rejected here).
OPEN_STATUSES = (S.CREATED, S.RELEASED, S.PICKING, S.PACKED, S.READY_FOR_PICKUP)


CLOSED_STATUSES = (S.DELIVERED, S.PICKED_UP, S.EXPIRED, S.RECEIVED, S.REJECTED, S.CANCELLED)


PICKUP_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def _dom(name: str):
    return settings.DOM[name]


def _lock(fo_id: int) -> FulfillmentOrder:
    try:
        return (
            FulfillmentOrder.objects.select_for_update(of=("self",))
            .select_related("order", "location", "order__customer")
            .get(pk=fo_id)
        )
    except FulfillmentOrder.DoesNotExist:
        raise ValidationError(f"Fulfilment order {fo_id} does not exist.") from None


def _check_scope(fo: FulfillmentOrder, actor: AbstractBaseUser | None) -> None:
    """Store staff act only on their own stores' work; operations and machine calls (actor None) anywhere."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return
    if actor.is_superuser or user_has_role(user=actor, roles=[OPERATIONS]):
        return
    if not fo.location.staff.filter(pk=actor.pk).exists():
        raise PermissionDenied(
            f"FO-{fo.pk} belongs to {fo.location.code}; you can only act on your own store's orders."
        )


def _transition(
    fo: FulfillmentOrder, to: str, *, actor: AbstractBaseUser | None = None, message: str = "", data: dict | None = None
) -> None:
    allowed = TRANSITIONS.get(fo.method, {}).get(fo.status, set())
    if to in (S.REJECTED, S.CANCELLED):
        allowed = allowed | ({to} if fo.status in OPEN_STATUSES else set())
    if to not in allowed:
        raise StateConflict(
            f"FO-{fo.pk} is {fo.get_status_display().lower()}; a {fo.get_method_display().lower()} fulfilment "
            f"order cannot become {S(to).label.lower()} from there."
        )
    fo.status = to
    fo.save()
    order_event_add(
        order=fo.order,
        type=f"fulfillment.{to}",
        message=message or f"FO-{fo.pk} at {fo.location.code}: {S(to).label.lower()}.",
        data={"fulfillment_order": fo.pk, "location": fo.location.code, **(data or {})},
        actor=actor,
    )


def _lines(fo: FulfillmentOrder) -> list[FulfillmentLine]:
    return list(
        fo.lines.select_for_update(of=("self",)).select_related("order_line", "order_line__product").order_by("pk")
    )


def _reservation_lines(fo: FulfillmentOrder) -> dict[int, ReservationLine]:
    """The reservation line of each order line of this fulfilment order (by order line id)."""
    if fo.reservation_id is None:
        return {}
    found = {}
    for rl in ReservationLine.objects.filter(reservation_id=fo.reservation_id, ref_type=RefType.ORDER_LINE):
        found[rl.ref_id] = rl
    return found


def _stock_quantities(fo: FulfillmentOrder, by_line: dict[int, int]) -> dict[int, int]:
    """Map {fulfilment line id: units} to {reservation line id: units}; units without a reservation line
    (a location that does not track stock here) are skipped."""
    res_lines = _reservation_lines(fo)
    lines = {ln.pk: ln for ln in fo.lines.all()}
    out: dict[int, int] = {}
    for line_id, q in by_line.items():
        rl = res_lines.get(lines[line_id].order_line_id)
        if rl is not None and q > 0:
            out[rl.pk] = out.get(rl.pk, 0) + min(q, rl.quantity_open)
    return {k: v for k, v in out.items() if v > 0}


def _consume(fo: FulfillmentOrder, by_line: dict[int, int], *, actor: AbstractBaseUser | None, reference: str) -> None:
    quantities = _stock_quantities(fo, by_line)
    if quantities:
        reservation_consume(reservation=fo.reservation, quantities=quantities, actor=actor, reference=reference)


def _release(
    fo: FulfillmentOrder, by_line: dict[int, int] | None, *, actor: AbstractBaseUser | None, reference: str
) -> None:
    if fo.reservation_id is None:
        return
    if by_line is None:
        reservation_release(reservation=fo.reservation, actor=actor, reference=reference)
        return
    quantities = _stock_quantities(fo, by_line)
    if quantities:
        reservation_release(reservation=fo.reservation, quantities=quantities, actor=actor, reference=reference)


def _sku_list(lines: Iterable, qty_attr: str = "quantity") -> str:
    return ", ".join(f"{ln.order_line.sku} × {getattr(ln, qty_attr)}" for ln in lines)


def _order_refresh(order: Order, *, actor: AbstractBaseUser | None = None) -> None:
    """Bring the customer order's shipped quantities and status in line with its fulfilment orders.

    Shipped/partially shipped/delivered are derived from the fulfilment orders (transfers do not count, they
    only move stock between locations); the move itself goes through the orders lifecycle service.
    """
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status == Order.Status.CANCELLED:
        return
    fos = list(order.fulfillment_orders.exclude(method=M.TRANSFER).prefetch_related("lines"))
    shipped: dict[int, int] = {}
    for fo in fos:
        for ln in fo.lines.all():
            shipped[ln.order_line_id] = shipped.get(ln.order_line_id, 0) + ln.quantity_shipped
    lines = list(order.lines.all())
    changed: dict[int, int] = {}
    for ol in lines:
        q = min(shipped.get(ol.pk, 0), ol.quantity)
        if ol.quantity_shipped != q:
            changed[ol.pk] = ol.quantity_shipped = q
    order_lines_shipped_set(shipped=changed)
    total_shipped = sum(ol.quantity_shipped for ol in lines)
    all_done = all(ol.quantity_shipped + ol.quantity_cancelled >= ol.quantity for ol in lines)
    status = order.status
    if total_shipped == 0:
        if all_done and fos and all(fo.status in CLOSED_STATUSES for fo in fos):
            status = Order.Status.CANCELLED
    elif all_done:
        delivered = all(
            fo.status in (S.DELIVERED, S.PICKED_UP) for fo in fos if fo.status in (S.SHIPPED, S.DELIVERED, S.PICKED_UP)
        )
        status = Order.Status.DELIVERED if delivered else Order.Status.SHIPPED
    else:
        status = Order.Status.PARTIALLY_SHIPPED
    if status != order.status:
        order_status_set(order=order, status=status, actor=actor)


def _cancel_order_line_units(by_order_line: dict[int, int]) -> None:
    order_lines_cancelled_add(amounts=by_order_line)


def _customer_email(order: Order) -> str:
    if order.customer_id and order.customer.email:
        return order.customer.email
    return (order.shipping_address or {}).get("email", "") or (order.billing_address or {}).get("email", "")


def _local(dt: datetime, location: Location) -> str:
    return dt.astimezone(ZoneInfo(location.timezone)).strftime("%A %d %B %Y")
