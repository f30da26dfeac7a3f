"""Writes of returns: create (with eligibility), approve and route, reject, mark in transit, receive with a
condition and disposition per line, issue the refund.

Every service runs in one transaction, locks the order (so two RMAs of one order can never promise back more
than was shipped) and writes the order's timeline through `orders.services.order_event_add`; stock moves only
through `inventory.services`; order status only through `orders.services.order_status_set`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from common.roles import API_CLIENT, OPERATIONS, STORE_STAFF, user_has_role
from inventory.models import InventoryMovement, Location
from inventory.services import StockChange, stock_apply_changes
from orders.models import Order, OrderLine
from orders.selectors import channel_for_client
from orders.services import ALLOWED_TRANSITIONS, order_event_add, order_lines_returned_add, order_status_set
from returns.models import OPEN_STATUSES, ReturnAuthorization, ReturnLine, ReturnRoutingDecision
from returns.routing import MAX_LISTED_CANDIDATES, NeedPolicy, return_decide
from returns.selectors import (
    open_return_quantities,
    return_network_load,
    return_window_starts,
    returns_rules_compiled,
    staff_store_ids,
)
from routing.network import LineView
from routing.selectors import network_static, order_views_load

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

RMA = ReturnAuthorization
S = ReturnAuthorization.Status
D = ReturnLine.Disposition
RETURNABLE_ORDER_STATUSES = (
    Order.Status.PARTIALLY_SHIPPED,
    Order.Status.SHIPPED,
    Order.Status.DELIVERED,
    Order.Status.PARTIALLY_RETURNED,
)
# Units in these conditions are not sellable: they may not be restocked.
UNSELLABLE_CONDITIONS = (ReturnLine.Condition.DAMAGED, ReturnLine.Condition.DEFECTIVE)


@dataclass(frozen=True, slots=True)
class ReturnLineIn:
    """One line of a return request: the order line by id, line number or SKU, and how many units."""

    quantity: int
    order_line_id: int | None = None
    line_number: int | None = None
    sku: str = ""
    reason: str = ReturnLine.Reason.OTHER
    note: str = ""


@dataclass(frozen=True, slots=True)
class ReceiveLineIn:
    return_line_id: int
    quantity: int
    condition: str = ""
    disposition: str = ""


@dataclass(frozen=True, slots=True)
class RmaCreated:
    rma: ReturnAuthorization
    created: bool


def _setting(name: str, default: object):
    return settings.DOM.get(name, default)


def need_policy() -> NeedPolicy:
    return NeedPolicy(
        window_days=_setting("RETURNS_SALES_DAYS", 30),
        target_days=_setting("RETURNS_TARGET_COVER_DAYS", 14),
        credit_per_unit=float(_setting("RETURNS_NEED_CREDIT_PER_UNIT", 2.0)),
    )


# --- Scope -------------------------------------------------------------------------------------------------


def _check_scope(*, actor: AbstractBaseUser | None, order: Order, location_id: int | None) -> None:
    """Operations (and system calls without an actor) may act on any return; an API client only on its
    channel's orders; store staff only on returns received at one of their stores."""
    if actor is None or getattr(actor, "pk", None) is None:
        return
    if actor.is_superuser or user_has_role(user=actor, roles=[OPERATIONS]):
        return
    if user_has_role(user=actor, roles=[API_CLIENT]):
        channel = channel_for_client(user=actor)
        if channel is None or channel.pk != order.channel_id:
            raise PermissionDenied(f"Order {order.number} is not an order of this API client's channel.")
        return
    if user_has_role(user=actor, roles=[STORE_STAFF]):
        if location_id is not None and location_id in staff_store_ids(user=actor):
            return
        code = Location.objects.filter(pk=location_id).values_list("code", flat=True).first()
        raise PermissionDenied(
            f"This return is handled at {code}, not at your store." if code else "Returns here need a store of yours."
        )
    raise PermissionDenied("Your role may not handle returns.")


def _lock_order(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def _lock_rma(rma_id: int) -> ReturnAuthorization:
    return ReturnAuthorization.objects.select_for_update().select_related("order").get(pk=rma_id)


# --- Create ------------------------------------------------------------------------------------------------


def _resolve_lines(*, order: Order, lines: list[ReturnLineIn], now: datetime) -> tuple[list, list[str]]:
    """Match each requested line to an order line and check it: returnable product, return window open,
    quantity within shipped − returned − on open RMAs. Returns ([(order_line, line_in)], errors)."""
    order_lines = list(order.lines.select_related("product").order_by("line_number"))
    by_id = {ol.pk: ol for ol in order_lines}
    by_number = {ol.line_number: ol for ol in order_lines}
    by_sku: dict[str, list[OrderLine]] = {}
    for ol in order_lines:
        by_sku.setdefault(ol.sku, []).append(ol)
    open_q = open_return_quantities(order_line_ids=list(by_id))
    starts = return_window_starts(order=order)
    errors: list[str] = []
    matched: list[tuple[OrderLine, ReturnLineIn]] = []
    seen: set[int] = set()
    reasons = set(ReturnLine.Reason.values)
    for i, ln in enumerate(lines, start=1):
        where = f"Line {i}" + (f" (SKU {ln.sku})" if ln.sku else "")
        if ln.order_line_id is not None:
            ol = by_id.get(ln.order_line_id)
        elif ln.line_number is not None:
            ol = by_number.get(ln.line_number)
        else:
            candidates = by_sku.get(ln.sku, [])
            ol = candidates[0] if len(candidates) == 1 else None
            if len(candidates) > 1:
                errors.append(f"{where}: SKU {ln.sku} is on several lines of order {order.number}; give line_number.")
                continue
        if ol is None:
            what = f"SKU {ln.sku}" if ln.sku else f"line {ln.line_number or ln.order_line_id}"
            errors.append(f"{where}: {what} is not on order {order.number}.")
            continue
        where = f"Line {ol.line_number} (SKU {ol.sku})"
        if ol.pk in seen:
            errors.append(f"{where}: listed twice; give each order line once with its total quantity.")
            continue
        seen.add(ol.pk)
        if ln.quantity is None or ln.quantity < 1:
            errors.append(f"{where}: quantity must be at least 1, got {ln.quantity}.")
            continue
        if ln.reason not in reasons:
            errors.append(f"{where}: {ln.reason!r} is not a return reason; choose from {', '.join(sorted(reasons))}.")
            continue
        product = ol.product
        if product is None:
            errors.append(f"{where}: the item is not a known product and cannot be returned.")
            continue
        if not product.returnable:
            errors.append(f"{where}: this product is not returnable.")
            continue
        can = ol.quantity_shipped - ol.quantity_returned - open_q.get(ol.pk, 0)
        if ol.quantity_shipped == 0:
            errors.append(f"{where}: nothing of this line has been shipped or handed over yet.")
            continue
        start = starts[ol.pk]
        closes = start + timedelta(days=product.return_window_days)
        if now > closes:
            errors.append(
                f"{where}: the {product.return_window_days}-day return window closed on "
                f"{timezone.localdate(closes).isoformat()} (received {timezone.localdate(start).isoformat()})."
            )
            continue
        if ln.quantity > can:
            errors.append(
                f"{where}: {ln.quantity} requested but only {max(0, can)} can be returned "
                f"({ol.quantity_shipped} shipped, {ol.quantity_returned} already returned, "
                f"{open_q.get(ol.pk, 0)} on open returns)."
            )
            continue
        matched.append((ol, ln))
    return matched, errors


def _rma_request_check(*, method: str, store: Location | None, lines: list[ReturnLineIn]) -> None:
    """Refuse a return request whose method, store or lines cannot make a return (before any lock)."""
    if method not in RMA.Method.values:
        raise ValidationError({"method": f"{method!r} is not a return method; use mail or in_store."})
    if method == RMA.Method.IN_STORE:
        if store is None:
            raise ValidationError({"store": "An in-store return needs the store where the customer is."})
        if not (store.is_active and store.accepts_returns):
            raise ValidationError({"store": f"{store.code} does not accept returns."})
    elif store is not None:
        raise ValidationError({"store": "Only in-store returns name a store; mail-in returns are routed."})
    if not lines:
        raise ValidationError({"lines": ["Give at least one line to return."]})


def _return_lines_create(*, rma: ReturnAuthorization, matched: list) -> list[ReturnLine]:
    return ReturnLine.objects.bulk_create(
        [
            ReturnLine(
                rma=rma,
                order_line=ol,
                product_id=ol.product_id,
                sku=ol.sku,
                quantity=ln.quantity,
                reason=ln.reason,
                reason_note=ln.note[:300],
                unit_price=ol.unit_price,
            )
            for ol, ln in matched
        ]
    )


def rma_create(
    *,
    order: Order,
    lines: list[ReturnLineIn],
    method: str = RMA.Method.MAIL,
    store: Location | None = None,
    source: str = "back-office",
    idempotency_key: str = "",
    customer_note: str = "",
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> RmaCreated:
    """Authorise a return of some of an order's shipped units, or refuse it naming every problem (nothing
    stored). Mail-in returns are routed to a return location by the returns rule set and cost; in-store
    returns are received at `store`. Approved at once unless `DOM["RETURNS_AUTO_APPROVE"]` is off.

    The same idempotency key on the same order returns the first RMA (created=False) and writes nothing.
    """
    now = now or timezone.now()
    _rma_request_check(method=method, store=store, lines=lines)
    with transaction.atomic():
        order = _lock_order(order.pk)
        _check_scope(actor=actor, order=order, location_id=store.pk if store else None)
        if idempotency_key:
            existing = RMA.objects.filter(order=order, idempotency_key=idempotency_key).first()
            if existing is not None:
                return RmaCreated(existing, False)
        if order.status not in RETURNABLE_ORDER_STATUSES:
            raise ValidationError(
                {
                    "order": f"Order {order.number} is {order.get_status_display().lower()}; only shipped or "
                    "delivered orders can be returned."
                }
            )
        matched, errors = _resolve_lines(order=order, lines=lines, now=now)
        if errors:
            raise ValidationError({"lines": errors})
        n = RMA.objects.filter(order=order).count() + 1
        rma = RMA.objects.create(
            number=f"RMA-{order.number}-{n}",
            order=order,
            method=method,
            return_location=store if method == RMA.Method.IN_STORE else None,
            source=source,
            idempotency_key=idempotency_key[:200],
            customer_note=customer_note[:500],
            currency=order.currency,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        created = _return_lines_create(rma=rma, matched=matched)
        rma.refund_amount = sum((rl.unit_price * rl.quantity for rl in created), Decimal("0"))
        rma.save(update_fields=["refund_amount"])
        order_event_add(
            order=order,
            type="return_requested",
            message=f"Return {rma.number} requested ({rma.get_method_display().lower()}): "
            + ", ".join(f"{rl.sku} × {rl.quantity}" for rl in created)
            + ".",
            data={"rma": rma.number, "lines": {rl.sku: rl.quantity for rl in created}},
            actor=actor,
        )
        if _setting("RETURNS_AUTO_APPROVE", True):
            _approve(rma=rma, actor=actor)
        return RmaCreated(rma, True)


# --- Approve and route -------------------------------------------------------------------------------------


def _origin_view(*, rma: ReturnAuthorization, lines: list[ReturnLine]):
    """A routing OrderView of the return: the order's channel, customer and address (where the parcel
    starts), and the returned units as its lines."""
    view = order_views_load(order_ids=[rma.order_id])[rma.order_id]
    line_views = tuple(
        LineView(
            rl.order_line_id,
            rl.product_id,
            rl.sku,
            rl.quantity,
            rl.product.handling_class,
            rl.product.weight_grams / 1000.0,
        )
        for rl in lines
    )
    lat, lon = view.latitude, view.longitude
    if (lat is None or lon is None) and rma.order.pickup_location_id:
        pickup = rma.order.pickup_location
        lat, lon = pickup.latitude, pickup.longitude
    return dataclasses.replace(
        view,
        lines=line_views,
        total=float(sum(rl.unit_price * rl.quantity for rl in lines)),
        service_level="standard",
        latitude=lat,
        longitude=lon,
    )


def _route(*, rma: ReturnAuthorization, actor: AbstractBaseUser | None = None) -> ReturnRoutingDecision:
    """Choose and store the return location (and the explanation). In-store returns stay at their store."""
    lines = list(rma.lines.select_related("product").order_by("pk"))
    if rma.method == RMA.Method.IN_STORE:
        return ReturnRoutingDecision.objects.create(
            rma=rma,
            method=rma.method,
            location_id=rma.return_location_id,
            notes=[f"returned in store: received at {rma.return_location.code}"],
            actor=actor if getattr(actor, "pk", None) else None,
        )
    static = network_static()
    policy = need_policy()
    view = _origin_view(rma=rma, lines=lines)
    product_ids = sorted({rl.product_id for rl in lines})
    net = return_network_load(product_ids=product_ids, static=static, sales_days=policy.window_days)
    distances = (
        static.distances(view.latitude, view.longitude)
        if view.latitude is not None and view.longitude is not None
        else {}
    )
    decision = return_decide(
        view=view,
        locations=static.locations,
        distances=distances,
        accepting=net["accepting"],
        rules=returns_rules_compiled(static=static),
        rates=static.rates["standard"],
        ats=net["ats"],
        sales=net["sales"],
        policy=policy,
    )
    if decision.location_id is None:
        reasons = "; ".join(f"{r} ({len(ids)})" for r, ids in sorted(decision.excluded.items()))
        raise ValidationError(
            {"return_location": f"No location can take this return ({', '.join(ln.sku for ln in lines)}): {reasons}."}
        )
    notes = list(decision.notes)
    if len(decision.candidates) > MAX_LISTED_CANDIDATES:
        notes.append(f"{len(decision.candidates)} eligible locations; the {MAX_LISTED_CANDIDATES} cheapest are listed")
    return ReturnRoutingDecision.objects.create(
        rma=rma,
        method=rma.method,
        location_id=decision.location_id,
        rule_set_version_id=decision.rule_set_version_id,
        rules_fired=decision.rules_fired,
        candidates=[c.as_dict() for c in decision.candidates[:MAX_LISTED_CANDIDATES]],
        excluded=decision.excluded,
        notes=notes,
        cost=Decimal(str(round(decision.cost, 2))),
        actor=actor if getattr(actor, "pk", None) else None,
    )


def _approve(*, rma: ReturnAuthorization, actor: AbstractBaseUser | None) -> ReturnAuthorization:
    decision = _route(rma=rma, actor=actor)
    rma.return_location_id = decision.location_id
    rma.status = S.APPROVED
    rma.approved_at = timezone.now()
    rma.save(update_fields=["return_location", "status", "approved_at", "updated_at"])
    code = decision.location.code
    order_event_add(
        order=rma.order,
        type="return_approved",
        message=f"Return {rma.number} approved: "
        + (f"received at {code} (in store)." if rma.method == RMA.Method.IN_STORE else f"to be sent to {code}."),
        data={"rma": rma.number, "location": code, "decision": decision.pk},
        actor=actor,
    )
    return rma


def rma_approve(*, rma: ReturnAuthorization, actor: AbstractBaseUser | None = None) -> ReturnAuthorization:
    """Approve a requested return and choose where it goes (when returns are not approved automatically)."""
    with transaction.atomic():
        _lock_order(rma.order_id)
        rma = _lock_rma(rma.pk)
        _check_scope(actor=actor, order=rma.order, location_id=rma.return_location_id)
        if rma.status != S.REQUESTED:
            raise ValidationError(
                f"Return {rma.number} is {rma.get_status_display().lower()}, not waiting for approval."
            )
        return _approve(rma=rma, actor=actor)


def rma_reject(*, rma: ReturnAuthorization, reason: str, actor: AbstractBaseUser | None = None) -> ReturnAuthorization:
    """Refuse a return that has not arrived yet; its units are free to be returned on another RMA."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the return is rejected."})
    with transaction.atomic():
        _lock_order(rma.order_id)
        rma = _lock_rma(rma.pk)
        _check_scope(actor=actor, order=rma.order, location_id=rma.return_location_id)
        if rma.status not in OPEN_STATUSES:
            raise ValidationError(
                f"Return {rma.number} is {rma.get_status_display().lower()}; it can no longer be rejected."
            )
        rma.status = S.REJECTED
        rma.rejected_reason = reason[:300]
        rma.refund_status = RMA.RefundStatus.NONE
        rma.refund_amount = Decimal("0")
        rma.closed_at = timezone.now()
        rma.save()
        order_event_add(
            order=rma.order,
            type="return_rejected",
            message=f"Return {rma.number} rejected: {reason}.",
            data={"rma": rma.number},
            actor=actor,
        )
        return rma


def rma_mark_in_transit(
    *, rma: ReturnAuthorization, tracking_number: str = "", actor: AbstractBaseUser | None = None
) -> ReturnAuthorization:
    """The customer sent the parcel (mail-in only). Safe to repeat: a second call only updates the tracking."""
    with transaction.atomic():
        rma = _lock_rma(rma.pk)
        _check_scope(actor=actor, order=rma.order, location_id=rma.return_location_id)
        if rma.method != RMA.Method.MAIL:
            raise ValidationError(f"Return {rma.number} is an in-store return; nothing is in transit.")
        if rma.status not in (S.APPROVED, S.IN_TRANSIT):
            raise ValidationError(f"Return {rma.number} is {rma.get_status_display().lower()}, not awaiting a parcel.")
        first = rma.status == S.APPROVED
        rma.status = S.IN_TRANSIT
        rma.tracking_number = (tracking_number or rma.tracking_number).strip()[:80]
        rma.save(update_fields=["status", "tracking_number", "updated_at"])
        if first:
            order_event_add(
                order=rma.order,
                type="return_in_transit",
                message=f"Return {rma.number} on its way to {rma.return_location.code}"
                + (f", tracking {rma.tracking_number}." if rma.tracking_number else "."),
                data={"rma": rma.number, "tracking_number": rma.tracking_number},
                actor=actor,
            )
        return rma


# --- Receive with condition and disposition -----------------------------------------------------------------


def _receive_errors(*, rma: ReturnAuthorization, by_id: dict[int, ReturnLine], lines: list[ReceiveLineIn]) -> list[str]:
    errors: list[str] = []
    seen: set[int] = set()
    for ln in lines:
        rl = by_id.get(ln.return_line_id)
        if rl is None:
            errors.append(f"Return line {ln.return_line_id} is not part of {rma.number}.")
            continue
        where = f"SKU {rl.sku}"
        if rl.pk in seen:
            errors.append(f"{where}: listed twice.")
            continue
        seen.add(rl.pk)
        if ln.quantity < 0 or ln.quantity > rl.quantity:
            errors.append(f"{where}: received quantity must be 0 to {rl.quantity}, not {ln.quantity}.")
            continue
        if ln.quantity == 0:
            continue
        if ln.condition not in ReturnLine.Condition.values:
            errors.append(f"{where}: record the condition the units arrived in.")
        if ln.disposition not in D.values:
            errors.append(
                f"{where}: choose what happens to the units (restock, refurbish, write off, return to vendor)."
            )
        elif ln.disposition == D.RESTOCK and ln.condition in UNSELLABLE_CONDITIONS:
            errors.append(
                f"{where}: {ReturnLine.Condition(ln.condition).label.lower()} units cannot be restocked as sellable; "
                "choose refurbish, write off or return to vendor."
            )
    if not errors and not any(ln.quantity for ln in lines):
        errors.append("Record at least one unit received (or reject the return if nothing came back).")
    return errors


def _receipt_events_add(
    *,
    order: Order,
    rma: ReturnAuthorization,
    rma_lines: list[ReturnLine],
    location: Location,
    actor: AbstractBaseUser | None,
) -> None:
    """The timeline of a receipt: what arrived (and what did not), then how it was inspected."""
    received = [rl for rl in rma_lines if rl.quantity_received]
    short = [rl for rl in rma_lines if rl.quantity_received < rl.quantity]
    order_event_add(
        order=order,
        type="return_received",
        message=f"Return {rma.number} received at {location.code}: "
        + ", ".join(f"{rl.sku} × {rl.quantity_received}" for rl in received)
        + (
            f"; not received: {', '.join(f'{rl.sku} × {rl.quantity - rl.quantity_received}' for rl in short)}"
            if short
            else ""
        )
        + ".",
        data={"rma": rma.number, "location": location.code},
        actor=actor,
    )
    order_event_add(
        order=order,
        type="return_inspected",
        message=f"Return {rma.number} inspected: "
        + ", ".join(
            f"{rl.sku} × {rl.quantity_received} {rl.get_condition_display().lower()} → "
            f"{D(rl.disposition).label.split(' (')[0].lower()}"
            for rl in received
        )
        + f". Refund pending: {rma.refund_amount} {rma.currency}.",
        data={
            "rma": rma.number,
            "lines": [
                {
                    "sku": rl.sku,
                    "quantity": rl.quantity_received,
                    "condition": rl.condition,
                    "disposition": rl.disposition,
                }
                for rl in received
            ],
            "refund_amount": str(rma.refund_amount),
        },
        actor=actor,
    )


def rma_receive(
    *,
    rma: ReturnAuthorization,
    lines: list[ReceiveLineIn],
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> ReturnAuthorization:
    """The units arrived at the return location: record per line how many, their condition and disposition.

    Restocked units go on hand at the return location at once (an InventoryMovement "return" per line,
    through inventory.services); refurbish, write-off and return-to-vendor units never become sellable.
    The order lines' returned quantities, the order status (partially returned / returned), the refund
    amount (units received × the order line price, pending) and the timeline are updated together.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = _lock_order(rma.order_id)
        rma = _lock_rma(rma.pk)
        _check_scope(actor=actor, order=order, location_id=rma.return_location_id)
        if rma.status not in (S.APPROVED, S.IN_TRANSIT):
            raise ValidationError(
                f"Return {rma.number} is {rma.get_status_display().lower()}"
                + ("; approve it first." if rma.status == S.REQUESTED else "; it cannot be received again.")
            )
        rma_lines = list(rma.lines.select_related("product").order_by("pk"))
        by_id = {rl.pk: rl for rl in rma_lines}
        errors = _receive_errors(rma=rma, by_id=by_id, lines=lines)
        if errors:
            raise ValidationError({"lines": errors})
        got = {ln.return_line_id: ln for ln in lines if ln.quantity > 0}
        location = rma.return_location
        restock = [
            StockChange(by_id[k].product_id, location.pk, delta_on_hand=ln.quantity)
            for k, ln in got.items()
            if ln.disposition == D.RESTOCK
        ]
        stock_apply_changes(
            changes=restock, reason=InventoryMovement.Reason.RETURN, reference=f"rma:{rma.number}", actor=actor
        )
        returned: dict[int, int] = {}
        for rl in rma_lines:
            ln = got.get(rl.pk)
            if ln is None:
                continue
            rl.quantity_received, rl.condition, rl.disposition = ln.quantity, ln.condition, ln.disposition
            returned[rl.order_line_id] = returned.get(rl.order_line_id, 0) + ln.quantity
        order_lines_returned_add(amounts=returned)
        ReturnLine.objects.bulk_update(rma_lines, ["quantity_received", "condition", "disposition"])
        rma.refund_amount = sum((rl.unit_price * rl.quantity_received for rl in rma_lines), Decimal("0"))
        rma.refund_status = RMA.RefundStatus.PENDING
        rma.status = S.INSPECTED
        rma.received_at = rma.inspected_at = now
        rma.received_by = actor if getattr(actor, "pk", None) else None
        rma.save()
        _receipt_events_add(order=order, rma=rma, rma_lines=rma_lines, location=location, actor=actor)
        _order_status_after_return(order=order, actor=actor, rma=rma)
        return rma


def _order_status_after_return(*, order: Order, actor: AbstractBaseUser | None, rma: ReturnAuthorization) -> None:
    """Returned when every unit that left came back and nothing is still to ship; else partially returned.
    Orders still partly shipping keep their status (the lifecycle allows returns only after shipping)."""
    lines = list(OrderLine.objects.filter(order=order))
    if not any(ln.quantity_returned for ln in lines):
        return
    everything = all(ln.quantity_returned >= ln.quantity_shipped and ln.quantity_open == 0 for ln in lines)
    target = Order.Status.RETURNED if everything else Order.Status.PARTIALLY_RETURNED
    if target != order.status and target in ALLOWED_TRANSITIONS.get(order.status, ()):
        order_status_set(order=order, status=target, actor=actor, message=f"After return {rma.number}.")


# --- Refund ------------------------------------------------------------------------------------------------


def rma_refund_issue(
    *, rma: ReturnAuthorization, reference: str = "", actor: AbstractBaseUser | None = None
) -> ReturnAuthorization:
    """Record that the refund was paid (by the payment system or a person) and close the return.
    Safe to repeat: an issued refund is returned unchanged."""
    with transaction.atomic():
        rma = _lock_rma(rma.pk)
        if actor is not None and not (actor.is_superuser or user_has_role(user=actor, roles=[OPERATIONS])):
            raise PermissionDenied("Only Operations may record refunds.")
        if rma.refund_status == RMA.RefundStatus.ISSUED:
            return rma
        if rma.status != S.INSPECTED:
            raise ValidationError(
                f"Return {rma.number} is {rma.get_status_display().lower()}; refunds are issued once the units "
                "are received and inspected."
            )
        rma.refund_status = RMA.RefundStatus.ISSUED
        rma.refund_reference = reference.strip()[:100]
        rma.refund_issued_at = rma.closed_at = timezone.now()
        rma.status = S.CLOSED
        rma.save()
        order_event_add(
            order=rma.order,
            type="refund_issued",
            message=f"Refund of {rma.refund_amount} {rma.currency} issued for return {rma.number}"
            + (f" (ref. {rma.refund_reference})." if rma.refund_reference else "."),
            data={
                "rma": rma.number,
                "amount": str(rma.refund_amount),
                "currency": rma.currency,
                "reference": rma.refund_reference,
            },
            actor=actor,
        )
        return rma
