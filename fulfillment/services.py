"""Fulfilment: every change to a fulfilment order, shipment, purchase order, outbox message or store setting.

Each transition is checked against the method's state machine, runs in one transaction with the fulfilment
order locked, and writes an event on the customer order's timeline. Stock moves only through
`inventory.services`: shipping and handing over consume the fulfilment order's reservation, a short pick or
a rejection releases the short units (and applies the reason's stock effect), and the short units are handed
to routing for a new location (`routing.tasks.reroute_order`, enqueued on commit).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from common.credentials import CredentialRefused, credential_env_read
from common.csv import csv_text
from common.netguard import OutboundError, OutboundRefused, OutboundTooLarge, outbound_request
from common.pathguard import PathRefused, path_under_root
from common.roles import OPERATIONS, user_has_role
from fulfillment.carriers import carrier_service_get, handling_problems
from fulfillment.models import (
    Endpoint,
    FulfillmentEvent,
    FulfillmentLine,
    FulfillmentOrder,
    OutboxMessage,
    PurchaseOrder,
    PurchaseOrderLine,
    RejectionReason,
    Shipment,
    ShipmentLine,
    StoreSettings,
    SupplierItem,
)
from inventory.bulk import model_rows_insert
from inventory.models import (
    InventoryMovement,
    Location,
    LocationKind,
    RefType,
    Reservation,
    ReservationLine,
    StockLevel,
)
from inventory.services import (
    HoldLine,
    ReservationHold,
    location_safety_stock_set,
    location_settings_set,
    reservation_consume,
    reservation_hold,
    reservation_release,
    stock_adjust,
    stock_receive,
    stock_set_on_hand,
)
from notifications.services import notification_pickup_ready_resend, notification_pickup_reminder_queue
from orders.models import Order, OrderLine
from orders.services import (
    order_event_add,
    order_lines_allocated_release,
    order_lines_cancelled_add,
    order_lines_shipped_set,
    order_status_set,
)

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


# --- Small helpers shared by the services ----------------------------------------------------------------


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


def _check_scope(fo: FulfillmentOrder, actor) -> None:
    """Store staff act only on their own stores' work; operations and machine calls (actor None) anywhere."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return
    if actor.is_superuser or user_has_role(user=actor, roles=[OPERATIONS]):
        return
    if not fo.location.staff.filter(pk=actor.pk).exists():
        raise PermissionDenied(
            f"FO-{fo.pk} belongs to {fo.location.code}; you can only act on your own store's orders."
        )


def _transition(fo: FulfillmentOrder, to: str, *, actor=None, message: str = "", data: dict | None = None) -> None:
    allowed = TRANSITIONS.get(fo.method, {}).get(fo.status, set())
    if to in (S.REJECTED, S.CANCELLED):
        allowed = allowed | ({to} if fo.status in OPEN_STATUSES else set())
    if to not in allowed:
        raise ValidationError(
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


def _consume(fo: FulfillmentOrder, by_line: dict[int, int], *, actor, reference: str) -> None:
    quantities = _stock_quantities(fo, by_line)
    if quantities:
        reservation_consume(reservation=fo.reservation, quantities=quantities, actor=actor, reference=reference)


def _release(fo: FulfillmentOrder, by_line: dict[int, int] | None, *, actor, reference: str) -> None:
    if fo.reservation_id is None:
        return
    if by_line is None:
        reservation_release(reservation=fo.reservation, actor=actor, reference=reference)
        return
    quantities = _stock_quantities(fo, by_line)
    if quantities:
        reservation_release(reservation=fo.reservation, quantities=quantities, actor=actor, reference=reference)


def _sku_list(lines, qty_attr: str = "quantity") -> str:
    return ", ".join(f"{ln.order_line.sku} × {getattr(ln, qty_attr)}" for ln in lines)


def _order_refresh(order: Order, *, actor=None) -> None:
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


# --- Creation (routing's batch writer) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FulfillmentOrderNew:
    """A fulfilment order routing decided: where, how, which order lines and units, and the reservation."""

    order_id: int
    location_id: int
    method: str
    reservation_id: int | None
    carrier_service: str
    ship_by: datetime
    estimated_cost: Decimal
    lines: list[tuple[int, int]]  # (order line id, units)


def fulfillment_orders_create_bulk(*, orders: list[FulfillmentOrderNew], now: datetime | None = None) -> list[int]:
    """Create fulfilment orders (status created) and their lines set-based (COPY on PostgreSQL), in the
    caller's transaction; returns the new ids in order."""
    fo_ids = model_rows_insert(
        model=FulfillmentOrder,
        rows=[
            {
                "order_id": n.order_id,
                "location_id": n.location_id,
                "method": n.method,
                "status": S.CREATED.value,
                "reservation_id": n.reservation_id,
                "carrier_service": n.carrier_service,
                "ship_by": n.ship_by,
                "estimated_cost": n.estimated_cost,
            }
            for n in orders
        ],
        now=now,
    )
    model_rows_insert(
        model=FulfillmentLine,
        rows=[
            {"fulfillment_order_id": fo_id, "order_line_id": line_id, "quantity": q}
            for fo_id, n in zip(fo_ids, orders, strict=True)
            for line_id, q in n.lines
        ],
        now=now,
    )
    return fo_ids


def fulfillment_line_take_back(*, line: FulfillmentLine, quantity: int) -> None:
    """Take `quantity` unpicked units off a fulfilment line (a stock shortage moves them elsewhere): the line
    shrinks or goes, and a fulfilment order left without lines is cancelled. The caller releases the stock."""
    fo_id = line.fulfillment_order_id
    if quantity >= line.quantity:
        line.delete()
    else:
        FulfillmentLine.objects.filter(pk=line.pk).update(quantity=F("quantity") - quantity)
    if not FulfillmentLine.objects.filter(fulfillment_order_id=fo_id).exists():
        FulfillmentOrder.objects.filter(pk=fo_id).update(status=S.CANCELLED)


# --- Store settings --------------------------------------------------------------------------------------

WALK_IN_NOTE = "walk-in protection (store settings)"


def store_settings_ensure(*, location: Location) -> StoreSettings:
    """The store's settings row, created with the configured defaults on first use."""
    obj, _ = StoreSettings.objects.get_or_create(
        location=location,
        defaults={
            "pickup_hold_days": _dom("PICKUP_HOLD_DAYS"),
            "reminder_days_before": _dom("PICKUP_REMINDER_DAYS_BEFORE"),
        },
    )
    return obj


def store_settings_update(
    *,
    location: Location,
    actor=None,
    scan_required: bool | None = None,
    allow_partial_rejection: bool | None = None,
    walk_in_protection: int | None = None,
    pickup_hold_days: int | None = None,
    reminder_days_before: int | None = None,
    sell_online: bool | None = None,
) -> StoreSettings:
    """Change a store's settings. Walk-in protection becomes a location-wide safety-stock rule, so every ATS
    read (and therefore routing) holds those units back from online orders."""
    if walk_in_protection is not None and walk_in_protection < 0:
        raise ValidationError({"walk_in_protection": "Walk-in protection cannot be negative."})
    if pickup_hold_days is not None and pickup_hold_days < 1:
        raise ValidationError({"pickup_hold_days": "Customers need at least 1 day to collect."})
    with transaction.atomic():
        st = store_settings_ensure(location=location)
        st = StoreSettings.objects.select_for_update().get(pk=st.pk)
        for name, value in [
            ("scan_required", scan_required),
            ("allow_partial_rejection", allow_partial_rejection),
            ("walk_in_protection", walk_in_protection),
            ("pickup_hold_days", pickup_hold_days),
            ("reminder_days_before", reminder_days_before),
        ]:
            if value is not None:
                setattr(st, name, value)
        st.save()
        if walk_in_protection is not None:
            location_safety_stock_set(location=location, quantity=walk_in_protection, note=WALK_IN_NOTE)
        if sell_online is not None:
            location_settings_set(location=location, sell_online=sell_online)
        return st


def _local_today(location: Location, now: datetime | None = None):
    return (now or timezone.now()).astimezone(ZoneInfo(location.timezone)).date()


def store_pause_today(*, location: Location, actor=None, now: datetime | None = None) -> StoreSettings:
    """No new online work at this store for the rest of its local day: capacity goes to 0 (routing skips a
    location without capacity), today's capacity row (if routing opened one) is closed at what it has
    already taken, and every process's cached network is invalidated; what is already queued stays.
    Idempotent."""
    from routing.services import location_capacity_day_set

    with transaction.atomic():
        st = store_settings_ensure(location=location)
        st = StoreSettings.objects.select_for_update().get(pk=st.pk)
        loc = Location.objects.select_for_update().get(pk=location.pk)
        if st.paused_on is None:
            st.paused_capacity = loc.daily_capacity
        st.paused_on = _local_today(loc, now)
        st.save()
        location_settings_set(location=location, daily_capacity=0)
        location_capacity_day_set(location_id=location.pk, day=st.paused_on, capacity=0)
        return st


def store_resume(*, location: Location, actor=None) -> StoreSettings:
    """End a pause: the capacity saved when pausing comes back (on the location and on the paused day's
    capacity row). Idempotent."""
    from routing.services import location_capacity_day_set

    with transaction.atomic():
        st = store_settings_ensure(location=location)
        st = StoreSettings.objects.select_for_update().get(pk=st.pk)
        if st.paused_on is None:
            return st
        capacity = st.paused_capacity or 0
        location_settings_set(location=location, daily_capacity=capacity)
        location_capacity_day_set(location_id=location.pk, day=st.paused_on, capacity=capacity)
        st.paused_on, st.paused_capacity = None, None
        st.save()
        return st


def store_pauses_expire(*, now: datetime | None = None) -> int:
    """Resume every store whose pause day is over (in the store's time zone). Safe to run any time."""
    count = 0
    for st in StoreSettings.objects.filter(paused_on__isnull=False).select_related("location"):
        if st.paused_on < _local_today(st.location, now):
            store_resume(location=st.location)
            count += 1
    return count


# --- Picking (stores, and confirmations from warehouses) -------------------------------------------------


@dataclass(frozen=True)
class ScanResult:
    outcome: str  # "scanned", "already_scanned", "not_in_order"
    message: str
    line_id: int | None = None


def fulfillment_line_pick(*, line_id: int, delta: int = 1, actor=None, scanned: bool = False) -> FulfillmentLine:
    """Confirm (+) or undo (−) picked units of one line. Stores with "scan required" accept + only by scan."""
    line = FulfillmentLine.objects.select_related("fulfillment_order").filter(pk=line_id).first()
    if line is None:
        raise ValidationError(f"Fulfilment line {line_id} does not exist.")
    with transaction.atomic():
        fo = _lock(line.fulfillment_order_id)
        _check_scope(fo, actor)
        line = FulfillmentLine.objects.select_for_update().select_related("order_line").get(pk=line_id)
        if fo.status not in (S.CREATED, S.RELEASED, S.PICKING):
            raise ValidationError(f"FO-{fo.pk} is {fo.get_status_display().lower()}; picking is over.")
        if delta > 0 and not scanned and fo.location.kind == LocationKind.STORE:
            st = StoreSettings.objects.filter(location=fo.location).first()
            if st and st.scan_required:
                raise ValidationError(f"{fo.location.code} requires scanning: scan SKU {line.order_line.sku}.")
        new = line.quantity_picked + delta
        if new < 0:
            raise ValidationError(f"SKU {line.order_line.sku}: nothing picked to undo.")
        if new > line.quantity - line.quantity_short:
            raise ValidationError(
                f"SKU {line.order_line.sku}: all {line.quantity - line.quantity_short} already picked."
            )
        line.quantity_picked = new
        line.save(update_fields=["quantity_picked"])
        if fo.status != S.PICKING:
            _transition(fo, S.PICKING, actor=actor, message=f"FO-{fo.pk} at {fo.location.code}: picking started.")
        if delta > 0:
            fo.picked_by = actor if getattr(actor, "pk", None) else fo.picked_by
            fo.picked_at = timezone.now()
            fo.save(update_fields=["picked_by", "picked_at", "updated_at"])
        return line


def fulfillment_line_scan(*, fo_id: int, code: str, actor=None) -> ScanResult:
    """A barcode (the SKU) scanned while picking: confirms one unit, with feedback for the screen."""
    code = (code or "").strip()
    fo = FulfillmentOrder.objects.select_related("location").get(pk=fo_id)
    _check_scope(fo, actor)
    lines = list(fo.lines.select_related("order_line").order_by("pk"))
    matching = [ln for ln in lines if ln.order_line.sku.lower() == code.lower()]
    if not code or not matching:
        return ScanResult("not_in_order", f"{code or 'Empty scan'}: not in this order.")
    line = next((ln for ln in matching if ln.quantity_open > 0), None)
    if line is None:
        return ScanResult(
            "already_scanned", f"{matching[0].order_line.sku}: already scanned (all picked).", matching[0].pk
        )
    line = fulfillment_line_pick(line_id=line.pk, delta=1, actor=actor, scanned=True)
    return ScanResult(
        "scanned",
        f"{line.order_line.sku}: scanned ({line.quantity_picked} of {line.quantity - line.quantity_short}).",
        line.pk,
    )


def fulfillment_order_pick_confirm(
    *, fo_id: int, quantities: dict[int, int] | None = None, actor=None
) -> FulfillmentOrder:
    """Set picked quantities at once (a warehouse or 3PL confirmation): `quantities` {line id: units picked},
    or every open unit when omitted. Units not picked stay open (report them short to re-route)."""
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        if fo.status not in (S.CREATED, S.RELEASED, S.PICKING):
            raise ValidationError(f"FO-{fo.pk} is {fo.get_status_display().lower()}; it cannot be picked now.")
        lines = _lines(fo)
        by_id = {ln.pk: ln for ln in lines}
        for line_id in quantities or {}:
            if line_id not in by_id:
                raise ValidationError(f"Line {line_id} is not part of FO-{fo.pk}.")
        for ln in lines:
            q = ln.quantity - ln.quantity_short if quantities is None else quantities.get(ln.pk, ln.quantity_picked)
            if q < 0 or q > ln.quantity - ln.quantity_short:
                raise ValidationError(
                    f"SKU {ln.order_line.sku}: picked quantity must be 0 to {ln.quantity - ln.quantity_short}, got {q}."
                )
            ln.quantity_picked = q
        FulfillmentLine.objects.bulk_update(lines, ["quantity_picked"])
        fo.picked_by = actor if getattr(actor, "pk", None) else None
        fo.picked_at = timezone.now()
        if fo.status != S.PICKING:
            _transition(fo, S.PICKING, actor=actor, message=f"FO-{fo.pk} at {fo.location.code}: picked.")
        else:
            fo.save()
        return fo


# --- Short picks and rejections → re-route ---------------------------------------------------------------


def _reason(code: str) -> RejectionReason:
    reason = RejectionReason.objects.filter(code=code, is_active=True).first() if code else None
    if reason is None:
        labels = ", ".join(RejectionReason.objects.filter(is_active=True).values_list("label", flat=True))
        what = f"Unknown reason {code!r}" if code else "Choose a reason"
        raise ValidationError({"reason": f"{what}: one of {labels}."})
    return reason


def _apply_stock_effect(fo: FulfillmentOrder, line: FulfillmentLine, q: int, reason: RejectionReason, actor) -> None:
    product = line.order_line.product
    if product is None or reason.stock_effect == RejectionReason.StockEffect.NONE:
        return
    level = StockLevel.objects.select_for_update().filter(product=product, location=fo.location).first()
    if level is None:
        return
    ref = f"fo:{fo.pk}:{reason.code}"
    if reason.stock_effect == RejectionReason.StockEffect.ZERO:
        # Nothing left to sell here; units still held for other orders stay (they are physically counted).
        target = min(level.on_hand, level.reserved)
        if target != level.on_hand:
            stock_set_on_hand(product=product, location=fo.location, on_hand=target, reference=ref, actor=actor)
        return
    delta = min(q, level.on_hand)
    if delta > 0:
        stock_adjust(
            product=product,
            location=fo.location,
            delta=-delta,
            reason=InventoryMovement.Reason.DAMAGE
            if reason.stock_effect == RejectionReason.StockEffect.DAMAGED
            else InventoryMovement.Reason.ADJUST,
            reference=ref,
            actor=actor,
        )


def _short_lines(
    fo: FulfillmentOrder, shorts: dict[int, int], reason: RejectionReason, *, actor, note: str = ""
) -> FulfillmentOrder:
    """Release `shorts` {line id: units} at this location, apply the reason's stock effect, record it on the
    lines, put the order's timeline on "waiting for a new location" and hand the units to routing."""
    lines = {ln.pk: ln for ln in _lines(fo)}
    shorts = {k: v for k, v in shorts.items() if v > 0}
    if not shorts:
        raise ValidationError("Nothing to report short: give a quantity of at least 1.")
    for line_id, q in shorts.items():
        ln = lines.get(line_id)
        if ln is None:
            raise ValidationError(f"Line {line_id} is not part of FO-{fo.pk}.")
        if q > ln.quantity_open:
            raise ValidationError(
                {"quantity": f"SKU {ln.order_line.sku}: only {ln.quantity_open} left to pick, cannot report {q} short."}
            )
    _release(fo, shorts, actor=actor, reference=f"fo:{fo.pk}:short")
    reroute: dict[int, int] = {}
    for line_id, q in shorts.items():
        ln = lines[line_id]
        ln.quantity_short += q
        ln.short_reason = reason.code
        ln.save(update_fields=["quantity_short", "short_reason"])
        _apply_stock_effect(fo, ln, q, reason, actor)
        reroute[ln.order_line_id] = reroute.get(ln.order_line_id, 0) + q
    # The units are no longer allocated anywhere: routing re-routes exactly these.
    order_lines_allocated_release(amounts=reroute)
    described = ", ".join(f"{lines[i].order_line.sku} × {q}" for i, q in shorts.items())
    order_event_add(
        order=fo.order,
        type="fulfillment.lines_waiting",
        message=f"Waiting for a new location: {described} ({fo.location.code}: {reason.label.lower()}"
        + (f" — {note}" if note else "")
        + ").",
        data={
            "fulfillment_order": fo.pk,
            "location": fo.location.code,
            "reason": reason.code,
            "quantities": {str(k): v for k, v in reroute.items()},
        },
        actor=actor,
    )
    everything_short = all(ln.quantity_short == ln.quantity for ln in lines.values())
    if everything_short:
        fo.rejection_reason = reason.label
        _transition(fo, S.REJECTED, actor=actor, message=f"FO-{fo.pk} rejected by {fo.location.code}: {reason.label}.")
    order_id, exclude, why = fo.order_id, [fo.location_id], f"{fo.location.code}: {reason.code}"
    # robust: the units are already released and recorded; a broker hiccup must not turn that into an error
    # page (the timeline event says what is waiting, and operations can re-route from there).
    transaction.on_commit(
        lambda: async_task("routing.tasks.reroute_order", order_id, reroute, exclude, why), robust=True
    )
    return fo


def fulfillment_line_short(
    *, line_id: int, quantity: int, reason_code: str, actor=None, note: str = ""
) -> FulfillmentOrder:
    """Report units of a line that this location cannot fulfil. When the store does not allow partial
    rejection, the whole fulfilment order is rejected instead."""
    line = FulfillmentLine.objects.filter(pk=line_id).first()
    if line is None:
        raise ValidationError(f"Fulfilment line {line_id} does not exist.")
    if quantity <= 0:
        raise ValidationError({"quantity": "Report at least 1 unit short."})
    reason = _reason(reason_code)
    with transaction.atomic():
        fo = _lock(line.fulfillment_order_id)
        _check_scope(fo, actor)
        if fo.status not in (S.CREATED, S.RELEASED, S.PICKING):
            raise ValidationError(f"FO-{fo.pk} is {fo.get_status_display().lower()}; lines can no longer be rejected.")
        st = StoreSettings.objects.filter(location=fo.location).first()
        if st is not None and not st.allow_partial_rejection:
            shorts = {ln.pk: ln.quantity_open for ln in fo.lines.all()}
            if quantity > shorts.get(line_id, 0):
                raise ValidationError({"quantity": f"Only {shorts.get(line_id, 0)} left to pick on that line."})
            return _short_lines(fo, shorts, reason, actor=actor, note=note or "whole order rejected (no partial)")
        return _short_lines(fo, {line_id: quantity}, reason, actor=actor, note=note)


def fulfillment_order_reject(*, fo_id: int, reason_code: str, actor=None, note: str = "") -> FulfillmentOrder:
    """The location cannot fulfil this order at all: every open unit is released and re-routed."""
    reason = _reason(reason_code)
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        if fo.status not in (S.CREATED, S.RELEASED, S.PICKING):
            raise ValidationError(f"FO-{fo.pk} is {fo.get_status_display().lower()}; it can no longer be rejected.")
        lines = list(fo.lines.all())
        # Units already picked go back to open so that everything is released and re-routed.
        FulfillmentLine.objects.filter(pk__in=[ln.pk for ln in lines]).update(quantity_picked=0)
        return _short_lines(
            fo, {ln.pk: ln.quantity - ln.quantity_short for ln in lines}, reason, actor=actor, note=note
        )


# --- Pickup (BOPIS) ----------------------------------------------------------------------------------------


def _customer_email(order: Order) -> str:
    if order.customer_id and order.customer.email:
        return order.customer.email
    return (order.shipping_address or {}).get("email", "") or (order.billing_address or {}).get("email", "")


def _local(dt: datetime, location: Location) -> str:
    return dt.astimezone(ZoneInfo(location.timezone)).strftime("%A %d %B %Y")


def _send_ready_email(fo_id: int, *, actor=None) -> FulfillmentOrder:
    notification_pickup_ready_resend(fo_id=fo_id, actor=actor)  # queued, sent once (notifications)
    return FulfillmentOrder.objects.select_related("order", "order__customer", "location").get(pk=fo_id)


def fulfillment_order_ready(
    *, fo_id: int, staging_location: str = "", actor=None, now: datetime | None = None
) -> FulfillmentOrder:
    """Every line is picked (or reported short): the parcel waits at the counter. A pickup code and the
    pickup-by date are set and the customer's e-mail is queued with the ready event (notifications: sent
    once, retried, failures on the e-mails screen); it can be resent, the order stays ready."""
    now = now or timezone.now()
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        if fo.method != M.PICKUP:
            raise ValidationError(f"FO-{fo.pk} is a {fo.get_method_display().lower()} order, not a pickup.")
        lines = list(fo.lines.select_related("order_line"))
        open_lines = [ln for ln in lines if ln.quantity_open > 0]
        if open_lines:
            raise ValidationError(
                "Pick or report short every line first: " + _sku_list(open_lines, "quantity_open") + " still open."
            )
        if not any(ln.quantity_picked for ln in lines):
            raise ValidationError(f"FO-{fo.pk} has nothing picked to hand over.")
        st = store_settings_ensure(location=fo.location)
        fo.pickup_code = "".join(secrets.choice(PICKUP_CODE_ALPHABET) for _ in range(6))
        fo.pickup_by = now + timedelta(days=st.pickup_hold_days)
        fo.staging_location = staging_location.strip()[:40]
        fo.ready_at = now
        _transition(
            fo,
            S.READY_FOR_PICKUP,
            actor=actor,
            message=f"Ready for pickup at {fo.location.code}"
            + (f" (staged at {fo.staging_location})" if fo.staging_location else "")
            + f"; collect by {_local(fo.pickup_by, fo.location)}.",
            data={"pickup_by": fo.pickup_by.isoformat()},
        )
    return fo  # the ready e-mail is queued by the order.ready_for_pickup event (notifications), sent once


def fulfillment_order_resend_ready_email(*, fo_id: int, actor=None) -> FulfillmentOrder:
    """Send the ready-for-pickup email again (customers miss the first one)."""
    fo = FulfillmentOrder.objects.select_related("location").get(pk=fo_id)
    _check_scope(fo, actor)
    if fo.status != S.READY_FOR_PICKUP:
        raise ValidationError(f"FO-{fo.pk} is {fo.get_status_display().lower()}, not ready for pickup.")
    return _send_ready_email(fo.pk, actor=actor)


def fulfillment_order_handover(
    *,
    fo_id: int,
    code: str,
    quantities: dict[int, int] | None = None,
    collected_by_name: str = "",
    collected_relation: str = "customer",
    collected_id_type: str = "",
    actor=None,
) -> FulfillmentOrder:
    """Hand the parcel to the customer (or someone they sent) after checking the pickup code. All picked
    units, or `quantities` {line id: units}; the rest is cancelled and its stock returns to sale."""
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        if fo.status != S.READY_FOR_PICKUP:
            raise ValidationError(f"FO-{fo.pk} is {fo.get_status_display().lower()}, not waiting for pickup.")
        if (code or "").strip().upper() != fo.pickup_code:
            raise ValidationError({"code": "The pickup code does not match this order. Check it and try again."})
        lines = _lines(fo)
        by_id = {ln.pk: ln for ln in lines}
        handed: dict[int, int] = {}
        for ln in lines:
            q = ln.quantity_picked if quantities is None else quantities.get(ln.pk, 0)
            if q < 0 or q > ln.quantity_picked:
                raise ValidationError(
                    {"quantities": f"SKU {ln.order_line.sku}: hand over 0 to {ln.quantity_picked}, not {q}."}
                )
            handed[ln.pk] = q
        for line_id in quantities or {}:
            if line_id not in by_id:
                raise ValidationError({"quantities": f"Line {line_id} is not part of FO-{fo.pk}."})
        if not any(handed.values()):
            raise ValidationError({"quantities": "Hand over at least one unit (or let the order expire)."})
        name = collected_by_name.strip() or (fo.order.customer.name if fo.order.customer_id else "")
        if not name:
            raise ValidationError({"collected_by_name": "Record who collected the order."})
        rest = {ln.pk: ln.quantity_picked - handed[ln.pk] for ln in lines}
        _consume(fo, handed, actor=actor, reference=f"fo:{fo.pk}:handover")
        _release(fo, rest, actor=actor, reference=f"fo:{fo.pk}:handover-rest")
        cancelled_by_ol: dict[int, int] = {}
        for ln in lines:
            ln.quantity_shipped = handed[ln.pk]
            ln.quantity_cancelled += rest[ln.pk]
            cancelled_by_ol[ln.order_line_id] = cancelled_by_ol.get(ln.order_line_id, 0) + rest[ln.pk]
        FulfillmentLine.objects.bulk_update(lines, ["quantity_shipped", "quantity_cancelled"])
        _cancel_order_line_units(cancelled_by_ol)
        fo.collected_by_name = name[:200]
        fo.collected_relation = collected_relation.strip()[:60]
        fo.collected_id_type = collected_id_type.strip()[:60]
        fo.handed_over_by = actor if getattr(actor, "pk", None) else None
        fo.picked_up_at = timezone.now()
        not_taken = [ln for ln in lines if rest[ln.pk]]
        _transition(
            fo,
            S.PICKED_UP,
            actor=actor,
            message=f"Collected at {fo.location.code} by {fo.collected_by_name} ({fo.collected_relation or 'customer'})"
            + (f", handed over by {actor.get_username()}" if getattr(actor, "pk", None) else "")
            + (
                f"; not taken (cancelled): {', '.join(f'{ln.order_line.sku} × {rest[ln.pk]}' for ln in not_taken)}"
                if not_taken
                else ""
            )
            + ".",
            data={
                "collected_by": fo.collected_by_name,
                "relation": fo.collected_relation,
                "id_type": fo.collected_id_type,
                "handed": {str(k): v for k, v in handed.items()},
                "cancelled": {str(k): v for k, v in rest.items() if v},
            },
        )
        _order_refresh(fo.order, actor=actor)
        return fo


def pickup_reminders_send(*, now: datetime | None = None) -> int:
    """Remind customers whose pickup-by date is near. Each order is reminded once (claimed atomically)."""
    now = now or timezone.now()
    sent = 0
    candidates = FulfillmentOrder.objects.filter(
        status=S.READY_FOR_PICKUP, reminder_sent_at__isnull=True, pickup_by__gt=now
    ).select_related("location")
    for fo in candidates:
        st = StoreSettings.objects.filter(location_id=fo.location_id).first()
        days = st.reminder_days_before if st else _dom("PICKUP_REMINDER_DAYS_BEFORE")
        if fo.pickup_by - timedelta(days=days) > now:
            continue
        claimed = FulfillmentOrder.objects.filter(
            pk=fo.pk, status=S.READY_FOR_PICKUP, reminder_sent_at__isnull=True
        ).update(reminder_sent_at=now)
        if not claimed:
            continue
        fo.refresh_from_db()
        try:
            notification_pickup_reminder_queue(fo_id=fo.pk)
        except Exception as exc:  # noqa: BLE001
            logger.warning("pickup reminder for FO-%s failed: %s", fo.pk, exc)
            FulfillmentOrder.objects.filter(pk=fo.pk).update(reminder_sent_at=None)
            continue
        order_event_add(order=fo.order, type="fulfillment.reminder_sent", message="Pickup reminder sent.")
        sent += 1
    return sent


def pickup_no_shows_expire(*, now: datetime | None = None) -> int:
    """Cancel pickups not collected by their pickup-by date; their stock returns to sale. Idempotent."""
    now = now or timezone.now()
    count = 0
    ids = list(
        FulfillmentOrder.objects.filter(status=S.READY_FOR_PICKUP, pickup_by__lt=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for fo_id in ids:
        with transaction.atomic():
            fo = _lock(fo_id)
            if fo.status != S.READY_FOR_PICKUP or fo.pickup_by >= now:
                continue  # collected or handled by another run meanwhile
            lines = _lines(fo)
            _release(fo, None, actor=None, reference=f"fo:{fo.pk}:no-show")
            by_ol: dict[int, int] = {}
            for ln in lines:
                q = ln.quantity_picked - ln.quantity_shipped
                ln.quantity_cancelled += q
                by_ol[ln.order_line_id] = by_ol.get(ln.order_line_id, 0) + q
            FulfillmentLine.objects.bulk_update(lines, ["quantity_cancelled"])
            _cancel_order_line_units(by_ol)
            fo.expired_at = now
            _transition(
                fo,
                S.EXPIRED,
                message=f"Not collected by {_local(fo.pickup_by, fo.location)}: cancelled, stock back on sale at "
                f"{fo.location.code}.",
            )
            _order_refresh(fo.order)
            count += 1
    return count


# --- Shipping: pack, ship, hand off, deliver --------------------------------------------------------------


def fulfillment_order_pack(
    *,
    fo_id: int,
    weight_grams: int,
    length_cm: int = 0,
    width_cm: int = 0,
    height_cm: int = 0,
    package_type: str = "default box",
    actor=None,
) -> Shipment:
    """Everything picked goes into a package (weight and dimensions recorded)."""
    if weight_grams is None or weight_grams <= 0:
        raise ValidationError({"weight_grams": "Weigh the package: weight must be more than 0 g."})
    if min(length_cm, width_cm, height_cm) < 0:
        raise ValidationError({"length_cm": "Dimensions cannot be negative."})
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        if fo.method == M.PICKUP:
            raise ValidationError(f"FO-{fo.pk} is a pickup; mark it ready instead of packing.")
        lines = list(fo.lines.select_related("order_line"))
        open_lines = [ln for ln in lines if ln.quantity_open > 0]
        if open_lines:
            raise ValidationError(
                "Pick or report short every line before packing: " + _sku_list(open_lines, "quantity_open") + "."
            )
        if not any(ln.quantity_picked for ln in lines):
            raise ValidationError(f"FO-{fo.pk} has nothing picked to pack.")
        shipment = Shipment.objects.create(
            fulfillment_order=fo,
            package_type=package_type[:40],
            weight_grams=weight_grams,
            length_cm=length_cm,
            width_cm=width_cm,
            height_cm=height_cm,
            packed_at=timezone.now(),
            packed_by=actor if getattr(actor, "pk", None) else None,
            currency=fo.order.currency,
        )
        _transition(fo, S.PACKED, actor=actor, message=f"FO-{fo.pk} packed at {fo.location.code} ({weight_grams} g).")
        return shipment


def _destination_country(order: Order) -> str:
    addr = order.shipping_address or {}
    return (addr.get("country_code") or addr.get("country") or "US").upper()[:2]


def _customs_items(fo: FulfillmentOrder, shipped: dict[int, int]) -> list[dict]:
    items, missing = [], []
    for ln in fo.lines.select_related("order_line", "order_line__product"):
        q = shipped.get(ln.pk, 0)
        if not q:
            continue
        p = ln.order_line.product
        if p is None or not p.hs_code or not p.country_of_origin:
            missing.append(ln.order_line.sku)
            continue
        unit = ln.order_line.unit_price
        items.append(
            {
                "sku": p.sku,
                "description": p.name,
                "hs_code": p.hs_code,
                "origin": p.country_of_origin,
                "quantity": q,
                "unit_value": str(unit),
                "value": str(unit * q),
                "weight_grams": p.weight_grams * q,
            }
        )
    if missing:
        raise ValidationError(
            f"International shipment needs an HS code and country of origin for SKU(s) {', '.join(missing)}; "
            "add them to the product."
        )
    return items


def fulfillment_order_ship(
    *,
    fo_id: int,
    service: str,
    tracking_number: str = "",
    tracking_url: str = "",
    carrier: str = "",
    cost: Decimal | None = None,
    weight_grams: int | None = None,
    actor=None,
) -> Shipment:
    """The parcel leaves: stock is consumed (on hand and reserved down together), the shipment gets its
    carrier, service and tracking, customs data when it crosses a border, and the order's status follows.

    A warehouse or 3PL may confirm shipping without separate pick/pack events: open units count as picked.
    A transfer becomes "in transit" to the pickup store.
    """
    svc = carrier_service_get(code=service)
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        if fo.status in (S.SHIPPED, S.DELIVERED, S.IN_TRANSIT, S.RECEIVED):
            tn = fo.shipments.exclude(tracking_number="").values_list("tracking_number", flat=True).first()
            raise ValidationError(
                f"FO-{fo.pk} was already shipped" + (f" (tracking {tn})" if tn else "") + "; nothing to confirm."
            )
        if fo.method == M.PICKUP:
            raise ValidationError(f"FO-{fo.pk} is a pickup; hand it over at the counter instead of shipping.")
        lines = _lines(fo)
        if fo.status in (S.CREATED, S.RELEASED):
            for ln in lines:
                ln.quantity_picked = ln.quantity - ln.quantity_short
            FulfillmentLine.objects.bulk_update(lines, ["quantity_picked"])
        elif any(ln.quantity_open for ln in lines):
            raise ValidationError(
                "Pick or report short every line before shipping: "
                + _sku_list([ln for ln in lines if ln.quantity_open], "quantity_open")
                + "."
            )
        to_ship = {ln.pk: ln.quantity_picked - ln.quantity_shipped for ln in lines}
        if not any(to_ship.values()):
            raise ValidationError(f"FO-{fo.pk} has nothing picked to ship.")
        products = [ln.order_line.product for ln in lines if to_ship[ln.pk] and ln.order_line.product]
        problems = handling_problems(
            service=svc, products=products, location=fo.location, same_day=fo.method == M.SAME_DAY
        )
        if problems:
            raise ValidationError({"service": problems})
        customs = _customs_items(fo, to_ship) if _destination_country(fo.order) != fo.location.country else []
        shipment = fo.shipments.filter(shipped_at__isnull=True).order_by("pk").first() or Shipment(
            fulfillment_order=fo, currency=fo.order.currency
        )
        shipment.carrier = carrier or svc.carrier
        shipment.service = svc.code
        shipment.tracking_number = tracking_number.strip()[:80]
        shipment.tracking_url = tracking_url or svc.tracking_link(shipment.tracking_number)
        shipment.cost = cost if cost is not None else shipment.cost
        if weight_grams:
            shipment.weight_grams = weight_grams
        elif not shipment.weight_grams:
            shipment.weight_grams = sum(p.weight_grams for p in products)
        shipment.customs_items = customs
        shipment.shipped_at = timezone.now()
        shipment.save()
        ShipmentLine.objects.bulk_create(
            [ShipmentLine(shipment=shipment, fulfillment_line_id=k, quantity=q) for k, q in to_ship.items() if q]
        )
        _consume(fo, to_ship, actor=actor, reference=f"fo:{fo.pk}:ship")
        for ln in lines:
            ln.quantity_shipped += to_ship[ln.pk]
        FulfillmentLine.objects.bulk_update(lines, ["quantity_shipped"])
        fo.carrier_service = svc.code
        _transition(
            fo,
            S.IN_TRANSIT if fo.method == M.TRANSFER else S.SHIPPED,
            actor=actor,
            message=f"FO-{fo.pk} shipped from {fo.location.code} with {svc.name}"
            + (f", tracking {shipment.tracking_number}" if shipment.tracking_number else " (no tracking number yet)")
            + ".",
            data={
                "shipment": shipment.pk,
                "carrier": shipment.carrier,
                "service": svc.code,
                "tracking_number": shipment.tracking_number,
                "tracking_url": shipment.tracking_url,
                "lines": [
                    {"line_number": ln.order_line.line_number, "sku": ln.order_line.sku, "quantity": to_ship[ln.pk]}
                    for ln in lines
                    if to_ship[ln.pk]
                ],
                "units": sum(to_ship.values()),
            },
        )
        if fo.method == M.DROPSHIP:
            PurchaseOrder.objects.filter(fulfillment_order=fo).update(status=PurchaseOrder.Status.SHIPPED)
        if fo.method != M.TRANSFER:
            _order_refresh(fo.order, actor=actor)
        return shipment


def shipments_hand_off(*, shipment_ids: list[int], location: Location, actor=None) -> int:
    """The carrier collected these packages from the store. Idempotent; other stores' packages refused."""
    shipments = list(Shipment.objects.filter(pk__in=shipment_ids).select_related("fulfillment_order__location"))
    for sh in shipments:
        if sh.fulfillment_order.location_id != location.pk:
            raise PermissionDenied(f"Shipment {sh.pk} is not from {location.code}.")
        _check_scope(sh.fulfillment_order, actor)
        if sh.shipped_at is None:
            raise ValidationError(f"Shipment {sh.pk} has not been shipped yet; create the shipment first.")
    return Shipment.objects.filter(pk__in=[s.pk for s in shipments], handed_off_at__isnull=True).update(
        handed_off_at=timezone.now()
    )


def fulfillment_order_deliver(*, fo_id: int, delivered_at: datetime | None = None, actor=None) -> FulfillmentOrder:
    """The carrier delivered the parcel."""
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        at = delivered_at or timezone.now()
        fo.shipments.filter(delivered_at__isnull=True).update(delivered_at=at)
        _transition(fo, S.DELIVERED, actor=actor, message=f"FO-{fo.pk} delivered.")
        _order_refresh(fo.order, actor=actor)
        return fo


# --- Warehouses and 3PLs: consolidation, release, confirmations ------------------------------------------


def _consolidation_key(fo: FulfillmentOrder) -> str:
    order = fo.order
    who = order.customer_id or _customer_email(order) or order.number
    address = json.dumps(
        {k: str(v).strip().lower() for k, v in sorted((order.shipping_address or {}).items()) if v}, sort_keys=True
    )
    raw = f"{fo.location_id}|{fo.method}|{who}|{address}"
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def _fo_payload(fo: FulfillmentOrder) -> dict:
    order = fo.order
    return {
        "fulfillment_order": fo.pk,
        "order": order.number,
        "method": fo.method,
        "service_level": order.service_level,
        "carrier_service": fo.carrier_service,
        "ship_to": order.shipping_address,
        "destination_store": order.pickup_location.code
        if fo.method == M.TRANSFER and order.pickup_location_id
        else None,
        "lines": [
            {"line": ln.pk, "sku": ln.order_line.sku, "quantity": ln.quantity - ln.quantity_short}
            for ln in fo.lines.select_related("order_line").order_by("pk")
        ],
    }


def _release_group(fos: list[FulfillmentOrder], *, actor=None, now: datetime) -> OutboxMessage:
    fos = sorted(fos, key=lambda f: f.pk)
    for fo in fos:
        fo.released_at, fo.hold_until = now, None
        _transition(
            fo,
            S.RELEASED,
            actor=actor,
            message=f"FO-{fo.pk} sent to {fo.location.code}"
            + (f" together with {', '.join(f'FO-{o.pk}' for o in fos if o.pk != fo.pk)}" if len(fos) > 1 else "")
            + ".",
        )
    key = "release:" + "-".join(str(fo.pk) for fo in fos)
    return outbox_message_add(
        kind="fulfillment_orders.release",
        location=fos[0].location,
        key=key,
        payload={"consolidated": len(fos) > 1, "fulfillment_orders": [_fo_payload(fo) for fo in fos]},
    )


def fulfillment_order_release(
    *, fo_id: int, actor=None, now: datetime | None = None, force: bool = False
) -> FulfillmentOrder:
    """Send a warehouse or 3PL its work through the outbox, holding it for the consolidation window first
    so that orders for the same customer and address leave together. High-priority orders (and `force`)
    go at once, taking any held orders of the same group with them."""
    now = now or timezone.now()
    window = timedelta(minutes=_dom("CONSOLIDATION_MINUTES"))
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        if fo.status != S.CREATED:
            return fo
        if fo.location.kind not in (LocationKind.WAREHOUSE, LocationKind.THIRD_PARTY):
            raise ValidationError(
                f"{fo.location.code} is a {fo.location.get_kind_display()}; only warehouses and 3PLs are released to."
            )
        if not fo.consolidation_key:
            fo.consolidation_key = _consolidation_key(fo)
        group = list(
            FulfillmentOrder.objects.select_for_update(of=("self",))
            .select_related("order", "location")
            .filter(status=S.CREATED, location=fo.location, consolidation_key=fo.consolidation_key)
            .exclude(pk=fo.pk)
            .order_by("pk")
        )
        urgent = force or fo.order.priority >= _dom("HIGH_PRIORITY") or window.total_seconds() == 0
        if not urgent:
            held = [g.hold_until for g in group if g.hold_until]
            due = min(held) if held else fo.created_at + window
            fo.hold_until = due
            if due > now:
                fo.save(update_fields=["consolidation_key", "hold_until", "updated_at"])
                return fo
        _release_group([fo, *group], actor=actor, now=now)
        return fo


def fulfillment_orders_release_due(*, now: datetime | None = None, batch: int = 500) -> int:
    """Release (or start holding) new warehouse/3PL work and send dropship purchase orders. Idempotent."""
    now = now or timezone.now()
    count = 0
    new = (
        FulfillmentOrder.objects.filter(
            status=S.CREATED,
            method__in=[M.SHIP, M.TRANSFER, M.SAME_DAY],
            location__kind__in=[LocationKind.WAREHOUSE, LocationKind.THIRD_PARTY],
        )
        .filter(Q(hold_until__isnull=True) | Q(hold_until__lte=now))
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in list(new):
        fo = fulfillment_order_release(fo_id=pk, now=now)
        count += fo.status == S.RELEASED
    for pk in list(
        FulfillmentOrder.objects.filter(status=S.CREATED, method=M.DROPSHIP, purchase_order__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    ):
        try:
            purchase_order_create(fo_id=pk)
            count += 1
        except ValidationError as exc:
            logger.warning("purchase order for FO-%s not created: %s", pk, exc)
    return count


EVENT_TYPES = ("picked", "shipped", "rejected", "delivered")


def fulfillment_event_apply(
    *, fo_id: int, event_id: str, type: str, payload: dict, actor=None
) -> tuple[FulfillmentOrder, bool]:
    """Apply a confirmation from a warehouse, 3PL or supplier. The same `event_id` twice is applied once
    (returns duplicate=True the second time); an event that does not fit the order's state is refused."""
    if type not in EVENT_TYPES:
        raise ValidationError({"type": f"Unknown event type {type!r}; use one of {', '.join(EVENT_TYPES)}."})
    if not event_id:
        raise ValidationError({"event_id": "Each event needs an event_id (used to ignore duplicates)."})
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        try:
            with transaction.atomic():
                FulfillmentEvent.objects.create(fulfillment_order=fo, event_id=event_id, type=type, payload=payload)
        except IntegrityError:
            return fo, True
        lines = {ln.order_line.sku: ln for ln in fo.lines.select_related("order_line")}

        def by_sku(key: str) -> dict[int, int] | None:
            items = payload.get("lines")
            if not items:
                return None
            out: dict[int, int] = {}
            for i, item in enumerate(items):
                ln = lines.get(str(item.get("sku", "")))
                if ln is None:
                    raise ValidationError({"lines": f"Line {i + 1}: SKU {item.get('sku')!r} is not in FO-{fo.pk}."})
                try:
                    out[ln.pk] = int(item.get(key, item.get("quantity")))
                except (TypeError, ValueError):
                    raise ValidationError({"lines": f"Line {i + 1}: quantity must be a whole number."}) from None
            return out

        if type == "picked":
            fulfillment_order_pick_confirm(fo_id=fo.pk, quantities=by_sku("quantity"), actor=actor)
        elif type == "shipped":
            fulfillment_order_ship(
                fo_id=fo.pk,
                service=payload.get("service") or fo.carrier_service or "ups_ground",
                tracking_number=str(payload.get("tracking_number", "")),
                tracking_url=str(payload.get("tracking_url", "")),
                carrier=str(payload.get("carrier", "")),
                cost=Decimal(str(payload["cost"])) if payload.get("cost") is not None else None,
                actor=actor,
            )
        elif type == "rejected":
            reason = str(payload.get("reason") or "").strip()
            if not reason:
                raise ValidationError({"reason": "Say why the order was rejected."})
            code = (
                reason if RejectionReason.objects.filter(code=reason, is_active=True).exists() else "location_rejected"
            )
            shorts = by_sku("quantity")
            if shorts is None:
                fulfillment_order_reject(fo_id=fo.pk, reason_code=code, actor=actor, note=reason)
            else:
                with transaction.atomic():
                    _short_lines(_lock(fo.pk), shorts, _reason(code), actor=actor, note=reason)
        elif type == "delivered":
            fulfillment_order_deliver(fo_id=fo.pk, actor=actor)
        fo.refresh_from_db()
        return fo, False


# --- Ship-to-store ------------------------------------------------------------------------------------------


def _reserve_received(*, order: Order, store: Location, lines: list[tuple[OrderLine, int]], actor) -> Reservation:
    """Hold the received units for the customer at the store.

    Not `stock_reserve`: these units arrived for this customer, so the store's safety stock and walk-in
    protection must not stop them being held. The stock write still goes through inventory.services.
    """
    hold = ReservationHold(
        channel_id=order.channel_id,
        reference=f"order:{order.pk}",
        ref_type=RefType.ORDER,
        ref_id=order.pk,
        lines=[
            HoldLine(ol.product_id, store.pk, q, f"order_line:{ol.pk}", RefType.ORDER_LINE, ol.pk) for ol, q in lines
        ],
    )
    return reservation_hold(hold=hold, actor=actor)


def transfer_receive(*, fo_id: int, actor=None) -> FulfillmentOrder:
    """A ship-to-store parcel arrived: the units are received into the store's stock, held for the customer,
    and a pickup fulfilment order is created there (the customer order stays open until handover)."""
    with transaction.atomic():
        fo = _lock(fo_id)
        if fo.method != M.TRANSFER:
            raise ValidationError(f"FO-{fo.pk} is not a transfer.")
        store = fo.order.pickup_location
        if store is None:
            raise ValidationError(f"Order {fo.order.number} has no pickup store to receive at.")
        if actor is not None and getattr(actor, "is_authenticated", False):  # noqa: SIM102
            if not (actor.is_superuser or user_has_role(user=actor, roles=[OPERATIONS])):  # noqa: SIM102
                if not store.staff.filter(pk=actor.pk).exists():
                    raise PermissionDenied(f"This parcel goes to {store.code}; you can only receive at your own store.")
        if fo.status != S.IN_TRANSIT:
            raise ValidationError(
                f"FO-{fo.pk} is {fo.get_status_display().lower()}, not in transit; nothing to receive."
            )
        lines = [
            (ln.order_line, ln.quantity_shipped) for ln in fo.lines.select_related("order_line") if ln.quantity_shipped
        ]
        for ol, q in lines:
            stock_receive(product=ol.product, location=store, quantity=q, reference=f"fo:{fo.pk}:transfer", actor=actor)
        reservation = _reserve_received(order=fo.order, store=store, lines=lines, actor=actor)
        pickup = FulfillmentOrder.objects.create(
            order=fo.order, location=store, method=M.PICKUP, reservation=reservation, ship_by=fo.ship_by
        )
        FulfillmentLine.objects.bulk_create(
            [FulfillmentLine(fulfillment_order=pickup, order_line=ol, quantity=q) for ol, q in lines]
        )
        fo.pickup_fulfillment_order = pickup
        fo.received_at = timezone.now()
        fo.received_by = actor if getattr(actor, "pk", None) else None
        _transition(
            fo,
            S.RECEIVED,
            actor=actor,
            message=f"Transfer FO-{fo.pk} received at {store.code}; pick-up order FO-{pickup.pk} created.",
            data={"pickup_fulfillment_order": pickup.pk},
        )
        return fo


# --- Dropship purchase orders ----------------------------------------------------------------------------


def purchase_order_create(*, fo_id: int, actor=None) -> PurchaseOrder:
    """Turn a dropship fulfilment order into a purchase order to the supplier, sent through the outbox.
    Idempotent: a second call returns the existing purchase order."""
    with transaction.atomic():
        fo = _lock(fo_id)
        existing = PurchaseOrder.objects.filter(fulfillment_order=fo).first()
        if existing:
            return existing
        if fo.method != M.DROPSHIP or fo.location.kind != LocationKind.DROPSHIP:
            raise ValidationError(f"FO-{fo.pk} is not a dropship order at a supplier.")
        lines = list(fo.lines.select_related("order_line", "order_line__product").order_by("pk"))
        costs = {
            si.product_id: si
            for si in SupplierItem.objects.filter(
                supplier=fo.location, product_id__in=[ln.order_line.product_id for ln in lines]
            )
        }
        missing = [ln.order_line.sku for ln in lines if ln.order_line.product_id not in costs]
        if missing:
            raise ValidationError(
                f"No supplier cost at {fo.location.code} for SKU(s) {', '.join(missing)}; add them as supplier items."
            )
        po = PurchaseOrder.objects.create(
            number=f"PO-{fo.pk:07d}", supplier=fo.location, fulfillment_order=fo, currency=fo.order.currency
        )
        po_lines = [
            PurchaseOrderLine(
                purchase_order=po,
                fulfillment_line=ln,
                product=ln.order_line.product,
                quantity=ln.quantity - ln.quantity_short,
                unit_cost=costs[ln.order_line.product_id].unit_cost,
            )
            for ln in lines
            if ln.quantity - ln.quantity_short > 0
        ]
        PurchaseOrderLine.objects.bulk_create(po_lines)
        po.total_cost = sum((pl.unit_cost * pl.quantity for pl in po_lines), Decimal("0"))
        po.save(update_fields=["total_cost"])
        fo.released_at = timezone.now()
        _transition(fo, S.RELEASED, actor=actor, message=f"Purchase order {po.number} sent to {fo.location.code}.")
        outbox_message_add(
            kind="purchase_order",
            location=fo.location,
            key=f"po:{po.number}",
            payload={
                "purchase_order": po.number,
                "order": fo.order.number,
                "currency": po.currency,
                "total_cost": str(po.total_cost),
                "ship_to": fo.order.shipping_address,
                "lines": [
                    {
                        "sku": pl.product.sku,
                        "supplier_sku": costs[pl.product_id].supplier_sku,
                        "quantity": pl.quantity,
                        "unit_cost": str(pl.unit_cost),
                    }
                    for pl in po_lines
                ],
            },
        )
        return po


def purchase_order_confirm_shipment(
    *,
    po_number: str,
    tracking_number: str,
    carrier: str = "",
    service: str = "ups_ground",
    tracking_url: str = "",
    actor=None,
) -> Shipment:
    """The supplier shipped the purchase order to the customer (API or CSV)."""
    po = PurchaseOrder.objects.filter(number=po_number).first()
    if po is None:
        raise ValidationError({"purchase_order": f"Unknown purchase order {po_number!r}."})
    if po.status == PurchaseOrder.Status.CANCELLED:
        raise ValidationError({"purchase_order": f"{po.number} was cancelled; do not ship it."})
    if po.status == PurchaseOrder.Status.SHIPPED:
        raise ValidationError({"purchase_order": f"{po.number} was already confirmed as shipped."})
    with transaction.atomic():
        shipment = fulfillment_order_ship(
            fo_id=po.fulfillment_order_id,
            service=service,
            tracking_number=tracking_number,
            carrier=carrier,
            tracking_url=tracking_url,
            actor=actor,
        )
        PurchaseOrderLine.objects.filter(purchase_order=po).update(quantity_shipped=F("quantity"))
        return shipment


CSV_COLUMNS = ("purchase_order", "tracking_number", "carrier", "service")


def purchase_orders_confirm_csv(*, text: str, supplier: Location | None = None, actor=None) -> list[Shipment]:
    """Confirm shipments from a supplier's CSV (`purchase_order,tracking_number,carrier,service` per row).
    Every row is checked first; any error names the row and nothing is applied."""
    reader = csv.DictReader(io.StringIO(text))
    missing_cols = [c for c in CSV_COLUMNS[:2] if c not in (reader.fieldnames or [])]
    if missing_cols:
        raise ValidationError(f"The CSV needs the column(s) {', '.join(missing_cols)} (header row).")
    rows, errors = [], []
    seen = set()
    for i, row in enumerate(reader, start=2):
        number = (row.get("purchase_order") or "").strip()
        tracking = (row.get("tracking_number") or "").strip()
        po = PurchaseOrder.objects.filter(number=number).first()
        if not number or po is None:
            errors.append(f"Row {i}: purchase_order {number!r} is unknown.")
        elif supplier is not None and po.supplier_id != supplier.pk:
            errors.append(f"Row {i}: {number} belongs to another supplier.")
        elif po.status != PurchaseOrder.Status.SENT:
            errors.append(f"Row {i}: {number} is {po.get_status_display().lower()}; only sent orders can be confirmed.")
        elif number in seen:
            errors.append(f"Row {i}: {number} appears twice.")
        if not tracking:
            errors.append(f"Row {i}: tracking_number is empty.")
        service = (row.get("service") or "").strip() or "ups_ground"
        try:
            carrier_service_get(code=service)
        except ValidationError:
            errors.append(f"Row {i}: service {service!r} is unknown.")
        seen.add(number)
        rows.append((number, tracking, (row.get("carrier") or "").strip(), service))
    if not rows and not errors:
        errors.append("The CSV has no rows.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        return [
            purchase_order_confirm_shipment(po_number=n, tracking_number=t, carrier=c, service=s, actor=actor)
            for n, t, c, s in rows
        ]


# --- Cancellation ------------------------------------------------------------------------------------------


def fulfillment_orders_cancel_for_order(*, order_id: int, actor=None) -> int:
    """The customer order was cancelled: stop every fulfilment order that has not left the building, release
    its stock (idempotent with the order's own release) and tell suppliers to drop their purchase orders."""
    count = 0
    with transaction.atomic():
        ids = list(
            FulfillmentOrder.objects.filter(order_id=order_id, status__in=OPEN_STATUSES)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for pk in ids:
            fo = _lock(pk)
            if fo.status not in OPEN_STATUSES:
                continue
            _release(fo, None, actor=actor, reference=f"fo:{fo.pk}:cancel")
            _transition(
                fo, S.CANCELLED, actor=actor, message=f"FO-{fo.pk} at {fo.location.code} cancelled with the order."
            )
            po = (
                PurchaseOrder.objects.filter(fulfillment_order=fo)
                .exclude(status=PurchaseOrder.Status.CANCELLED)
                .first()
            )
            if po is not None:
                po.status = PurchaseOrder.Status.CANCELLED
                po.save(update_fields=["status", "updated_at"])
                outbox_message_add(
                    kind="purchase_order.cancel",
                    location=fo.location,
                    key=f"po-cancel:{po.number}",
                    payload={"purchase_order": po.number, "cancelled": True},
                )
            elif fo.released_at and fo.location.kind in (LocationKind.WAREHOUSE, LocationKind.THIRD_PARTY):
                outbox_message_add(
                    kind="fulfillment_order.cancel",
                    location=fo.location,
                    key=f"fo-cancel:{fo.pk}",
                    payload={"fulfillment_order": fo.pk, "cancelled": True},
                )
            count += 1
    return count


# --- Outbox ----------------------------------------------------------------------------------------------


def outbox_message_add(*, kind: str, location: Location, key: str, payload: dict) -> OutboxMessage:
    """Queue a message for a location's endpoint (once per key) and deliver it after commit."""
    msg, created = OutboxMessage.objects.get_or_create(
        idempotency_key=key, defaults={"kind": kind, "location": location, "payload": payload}
    )
    if created:
        pk = msg.pk
        # robust: the message is stored; if enqueueing fails the outbox sweeper delivers it.
        transaction.on_commit(lambda: async_task("fulfillment.tasks.deliver_outbox_message", pk), robust=True)
    return msg


class DeliveryError(Exception):
    pass


def _purchase_order_csv(payload: dict) -> str:
    return csv_text(
        header=["purchase_order", "order", "sku", "supplier_sku", "quantity", "unit_cost", "currency"],
        rows=(
            [
                payload.get("purchase_order"),
                payload.get("order"),
                ln["sku"],
                ln.get("supplier_sku", ""),
                ln["quantity"],
                ln["unit_cost"],
                payload.get("currency", ""),
            ]
            for ln in payload.get("lines", [])
        ),
    )


def _send(msg: OutboxMessage, endpoint: Endpoint) -> None:
    body = json.dumps(
        {"idempotency_key": msg.idempotency_key, "kind": msg.kind, "payload": msg.payload}, sort_keys=True
    ).encode()
    url = endpoint.url.strip()
    if url.startswith(("http://", "https://")):
        headers = {"Content-Type": "application/json", "Idempotency-Key": msg.idempotency_key}
        try:
            token = credential_env_read(name=endpoint.token_env, kind="endpoint")
        except CredentialRefused as exc:
            raise DeliveryError(f"Token refused: {exc}") from exc
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = outbound_request(url=url, method="POST", body=body, headers=headers, max_bytes=1 << 20)
        except (OutboundRefused, OutboundTooLarge, OutboundError) as exc:
            raise DeliveryError(f"{url}: {exc}") from exc
        if not 200 <= resp.status < 300:
            raise DeliveryError(f"HTTP {resp.status} from {url}")
    elif url.startswith("file://"):
        try:
            folder = path_under_root(folder=url[len("file://") :])
            folder.mkdir(parents=True, exist_ok=True)
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in msg.idempotency_key)
            tmp = folder / f".{safe}.json.tmp"
            tmp.write_bytes(body)
            tmp.replace(folder / f"{safe}.json")  # atomic: the reader sees all of it or nothing
        except PathRefused as exc:
            raise DeliveryError(f"{url}: {exc}") from exc
        except OSError as exc:
            raise DeliveryError(f"{url}: {exc}") from exc
    elif url.startswith("mailto:"):
        email = EmailMessage(
            subject=f"{msg.kind.replace('_', ' ').title()} {msg.payload.get('purchase_order') or msg.idempotency_key}",
            body=json.dumps(msg.payload, indent=2),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[url[len("mailto:") :]],
            headers={"X-Idempotency-Key": msg.idempotency_key},
        )
        if msg.kind == "purchase_order":
            email.attach(f"{msg.payload.get('purchase_order')}.csv", _purchase_order_csv(msg.payload), "text/csv")
        try:
            email.send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 — SMTP errors come in many types
            raise DeliveryError(f"mail to {url}: {exc}") from exc
    else:
        raise DeliveryError(f"Unsupported endpoint {url!r}: use http(s)://, file:// or mailto:.")


def outbox_message_deliver(*, message_id: int, now: datetime | None = None) -> OutboxMessage:
    """Try to deliver one message. The message is claimed first (a conditional update), so two workers
    never send it at the same time; a delivered message is never sent again. Failures are retried with
    exponential backoff until `OUTBOX_MAX_ATTEMPTS`, then the message is marked failed."""
    now = now or timezone.now()
    timeout = _dom("OUTBOX_TIMEOUT_SECONDS")
    claimable = Q(status=OutboxMessage.Status.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    claimable |= Q(status=OutboxMessage.Status.SENDING, claimed_until__lt=now)  # a worker died mid-send
    claimed = OutboxMessage.objects.filter(claimable, pk=message_id).update(
        status=OutboxMessage.Status.SENDING,
        claimed_until=now + timedelta(seconds=timeout * 3),
        attempts=F("attempts") + 1,
    )
    msg = OutboxMessage.objects.select_related("location").get(pk=message_id)
    if not claimed:
        return msg
    endpoint = Endpoint.objects.filter(location=msg.location, is_active=True).first()
    try:
        if endpoint is None:
            raise DeliveryError(f"No active endpoint configured for {msg.location.code}.")
        _send(msg, endpoint)
    except DeliveryError as exc:
        give_up = msg.attempts >= _dom("OUTBOX_MAX_ATTEMPTS")
        delay = min(_dom("OUTBOX_BACKOFF_SECONDS") * 2 ** (msg.attempts - 1), 3600)
        msg.status = OutboxMessage.Status.FAILED if give_up else OutboxMessage.Status.PENDING
        msg.next_attempt_at = None if give_up else now + timedelta(seconds=delay)
        msg.last_error = str(exc)[:500]
        msg.claimed_until = None
        msg.save(update_fields=["status", "next_attempt_at", "last_error", "claimed_until"])
        return msg
    msg.status, msg.delivered_at, msg.claimed_until, msg.last_error = (
        OutboxMessage.Status.DELIVERED,
        timezone.now(),
        None,
        "",
    )
    msg.save(update_fields=["status", "delivered_at", "claimed_until", "last_error"])
    return msg


def outbox_deliver_due(*, now: datetime | None = None, batch: int = 200) -> int:
    """Deliver every message whose retry time has come. Safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    ids = list(
        OutboxMessage.objects.filter(
            Q(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
            | Q(status=OutboxMessage.Status.PENDING, next_attempt_at__isnull=True)
            | Q(status=OutboxMessage.Status.SENDING, claimed_until__lt=now)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    return sum(outbox_message_deliver(message_id=pk, now=now).status == OutboxMessage.Status.DELIVERED for pk in ids)
