"""Changes to an order after it was placed: cancelling some units of some lines, or the whole order, through
one path. Each change runs in one transaction with the order row locked (select_for_update), so it is
serialised with routing, picking and other editors; it checks the caller's expected version (If-Match) under
that lock, gives stock back through inventory and takes units off unreleased fulfilment work through
fulfillment, moves the line counters through the lifecycle services, recomputes totals and priority, and writes
one timeline entry (which emits the outbound event and bumps the version).

Units on work already released to a location (sent to a warehouse or 3PL, or started at a store) are not
taken here: the location is asked to cancel them (fulfillment's cancel request: a prompt on the store's order
screen, or a `cancel_request` outbox message to a warehouse or 3PL) and the cancellation of those units
completes (`order_cancel_request_complete`) only when the location confirms. An address change that a
location's released work cannot serve any more asks that location the same way, for re-routing: the address
changes at once, and the units are routed again (`order_reroute_request_complete`) when the location confirms.
Method changes are still refused (OrderChangeConflict naming the fulfilment order) while a location has the
work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inventory.models import RefType, Reservation
from inventory.services import reservation_release
from orders.checks import address_key, address_point, address_problems, priority_score
from orders.models import Order, OrderHold, OrderLine
from orders.services.cancellation import NOT_CANCELLABLE
from orders.services.intake import _address_problems_by_field
from orders.services.lifecycle import (
    Status,
    _lock,
    _transition,
    order_lines_allocated_add,
    order_lines_cancelled_add,
)
from orders.services.timeline import order_event_add
from orders.signals import order_cancelled

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

CENT = Decimal("0.01")


class OrderVersionStale(Exception):
    """The caller changed an older version of the order than the current one (HTTP 412)."""

    def __init__(self, *, order: Order, expected: int) -> None:
        self.current = order.version
        super().__init__(
            f"Order {order.number} is at version {order.version}, not {expected}: reload it and try again."
        )


class OrderChangeConflict(Exception):
    """The order's state refuses the change (HTTP 409): the messages name the lines, units or fulfilment
    orders in the way."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__(" ".join(messages))


@dataclass(frozen=True, slots=True)
class OrderChangeResult:
    order: Order
    refund_amount: Decimal
    message: str
    # cancel requests sent to locations that have some of the units (the change is pending their answer)
    requests: tuple = ()


@contextmanager
def _fulfilment_conflicts() -> Iterator[None]:
    """Fulfilment refusing to withdraw work (busy, or it moved on meanwhile) is a conflict of the change."""
    try:
        yield
    except ValidationError as exc:
        raise OrderChangeConflict(exc.messages) from None


def _lock_with_work(order: Order) -> Order:
    """The order row, then its open fulfilment orders (without waiting: busy work is a conflict)."""
    from fulfillment.services import fulfillment_orders_lock

    locked = _lock(order)
    with _fulfilment_conflicts():
        fulfillment_orders_lock(order_id=locked.pk)
    return locked


def order_version_check(*, order: Order, expected_version: int | None) -> None:
    """Raise OrderVersionStale unless `expected_version` is None or the (locked) order's version."""
    if expected_version is not None and expected_version != order.version:
        raise OrderVersionStale(order=order, expected=expected_version)


def _who(actor: AbstractBaseUser | None) -> str:
    return getattr(actor, "username", "") or "The system"


def _requested(*, lines: list[OrderLine], wanted: dict[int, int] | None) -> dict[int, int]:
    """{line number: units} to cancel, checked against the lines; ValidationError for unknown lines or
    non-positive units (bad input), OrderChangeConflict for units shipped or already cancelled."""
    by_number = {ln.line_number: ln for ln in lines}
    if wanted is None:
        return {ln.line_number: ln.quantity_open for ln in lines if ln.quantity_open > 0}
    errors = [f"Line {n} does not exist on this order." for n in sorted(wanted) if n not in by_number]
    errors += [f"Line {n}: cancel at least 1 unit, not {q}." for n, q in sorted(wanted.items()) if q < 1]
    if errors:
        raise ValidationError({"lines": errors})
    conflicts = []
    for n, q in sorted(wanted.items()):
        ln = by_number[n]
        if q > ln.quantity_open:
            conflicts.append(
                f"Line {n} ({ln.sku}): {q} units asked, only {ln.quantity_open} can be cancelled "
                f"({ln.quantity_shipped} of {ln.quantity} shipped, {ln.quantity_cancelled} already cancelled; "
                "shipped units cannot be cancelled)."
            )
    if conflicts:
        raise OrderChangeConflict(conflicts)
    return dict(wanted)


def _from_fulfilment(
    *, order: Order, lines: dict[int, OrderLine], units: dict[int, int], work: dict
) -> tuple[dict[int, int], dict[int, dict[int, int]]]:
    """Split each line's units into unallocated ones (backordered, nothing to undo), units on unreleased
    fulfilment work, and units on released work (to ask of their location). Returns ({order line id: units to
    take off unreleased work}, {fulfilment order id: {order line id: units to ask for}}); units beyond that
    (already asked of the location) are a conflict naming the fulfilment orders."""
    need: dict[int, int] = {}
    ask: dict[int, dict[int, int]] = {}
    conflicts = []
    for n, q in units.items():
        ln = lines[n]
        unallocated = max(0, ln.quantity - ln.quantity_cancelled - ln.quantity_allocated)
        rest = q - min(q, unallocated)
        w = work.get(ln.pk)
        now = min(rest, w.unreleased if w else 0)
        if now:
            need[ln.pk] = now
        rest -= now
        for r in w.released if w else []:
            take = min(rest, r.units)
            if take:
                ask.setdefault(r.fulfillment_order_id, {})[ln.pk] = take
                rest -= take
        if rest:
            conflicts.append(
                f"Line {ln.line_number} ({ln.sku}): {rest} of the units are already asked of the location holding "
                "them; wait for its answer."
            )
    if conflicts:
        raise OrderChangeConflict(conflicts)
    return need, ask


def _totals_after_cancel(*, order: Order, value: Decimal, everything: bool) -> dict[str, Decimal]:
    """New subtotal, tax, shipping and total after cancelling goods worth `value`: tax shrinks in proportion
    to the subtotal, shipping is refunded only when the whole order is cancelled."""
    subtotal = max(Decimal(0), order.subtotal - value)
    tax = order.tax_total
    if order.subtotal > 0:
        tax = (order.tax_total * subtotal / order.subtotal).quantize(CENT)
    shipping = Decimal(0) if everything else order.shipping_total
    removed = (order.subtotal - subtotal) + (order.tax_total - tax) + (order.shipping_total - shipping)
    if order.subtotal <= 0:  # totals not itemised by the channel: take the goods' value off the total
        removed = value + (order.shipping_total - shipping)
    total = max(Decimal(0), order.total - removed).quantize(CENT)
    return {"subtotal": subtotal, "tax_total": tax, "shipping_total": shipping, "total": total}


def _finish(*, order: Order, lines: list[OrderLine], reason: str, actor: AbstractBaseUser | None) -> None:
    """The order's status after a cancellation: nothing open any more -> cancelled (or shipped when some
    units shipped), holds closed and `order_cancelled` sent; backordered with nothing waiting -> routed."""
    if all(ln.quantity_open == 0 for ln in lines):
        for res in Reservation.objects.filter(
            ref_type=RefType.ORDER, ref_id=order.pk, status=Reservation.Status.ACTIVE
        ).order_by("pk"):
            reservation_release(reservation=res, actor=actor, reference=f"order:{order.pk} cancelled")
        OrderHold.objects.filter(order=order, released_at__isnull=True).update(
            released_at=timezone.now(),
            released_by=actor if getattr(actor, "pk", None) else None,
            resolution=OrderHold.Resolution.CANCELLED,
            note=reason[:500],
        )
        shipped = any(ln.quantity_shipped for ln in lines)
        _transition(
            order=order,
            to=Status.SHIPPED if shipped else Status.CANCELLED,
            actor=actor,
            message="Unshipped remainder cancelled." if shipped else "",
        )
        order_cancelled.send(sender=Order, order=order, actor=actor)
    elif order.status == Status.BACKORDERED and all(
        ln.quantity_allocated + ln.quantity_cancelled >= ln.quantity for ln in lines
    ):
        _transition(order=order, to=Status.ROUTED, actor=actor, message="Nothing is waiting for stock any more.")


def order_units_cancel(
    *,
    order: Order,
    lines: dict[int, int] | None,
    reason: str,
    actor: AbstractBaseUser | None,
    expected_version: int | None = None,
) -> OrderChangeResult:
    """Cancel `lines` ({line number: units}) of the order, or every open unit when `lines` is None (the whole
    order). Backordered units go first, then units on fulfilment work not yet released (their stock goes back
    to sale), then units on work a location already has: that location is asked to cancel them (the result's
    `requests`; the cancellation of those units completes when it confirms). Raises ValidationError (bad input:
    naming the field), OrderVersionStale (412) or OrderChangeConflict (409: shipped units, units already asked
    of a location, an order past cancelling); nothing is written then."""
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why the units are cancelled."]})
    reason = reason.strip()[:500]
    with transaction.atomic():
        locked = _lock_with_work(order)
        order_version_check(order=locked, expected_version=expected_version)
        if locked.status == Status.CANCELLED and lines is None:
            return OrderChangeResult(locked, Decimal(0), f"Order {locked.number} is already cancelled.")
        if locked.status in NOT_CANCELLABLE | {Status.CANCELLED}:
            raise OrderChangeConflict(
                [f"Order {locked.number} is {locked.get_status_display().lower()}; nothing is left to cancel."]
            )
        all_lines = list(locked.lines.select_for_update().order_by("line_number"))
        from fulfillment.services import fulfillment_line_work

        work = fulfillment_line_work(order_id=locked.pk)
        units = _requested(lines=all_lines, wanted=lines)
        if lines is None:  # the whole order: units already asked of a location are not asked again
            pending = {ln.line_number: work[ln.pk].requested for ln in all_lines if ln.pk in work}
            units = {n: q - pending.get(n, 0) for n, q in units.items() if q > pending.get(n, 0)}
        by_number = {ln.line_number: ln for ln in all_lines}
        need, ask = _from_fulfilment(order=locked, lines=by_number, units=units, work=work)
        asked = {lid: sum(a.get(lid, 0) for a in ask.values()) for lid in {k for a in ask.values() for k in a}}
        now = {n: q - asked.get(by_number[n].pk, 0) for n, q in units.items()}
        now = {n: q for n, q in now.items() if q > 0}
        if not now and not ask:
            raise OrderChangeConflict([f"Every open unit of order {locked.number} is already asked of its location."])
        result = OrderChangeResult(locked, Decimal(0), "")
        if now:
            result = _cancel_now(order=locked, lines=all_lines, units=now, need=need, reason=reason, actor=actor)
        if ask:
            requests = _cancel_ask(order=locked, lines=all_lines, ask=ask, reason=reason, actor=actor)
            note = " ".join(r[1] for r in requests)
            result = OrderChangeResult(
                locked, result.refund_amount, f"{result.message} {note}".strip(), tuple(r[0] for r in requests)
            )
    return result


def _cancel_now(
    *,
    order: Order,
    lines: list[OrderLine],
    units: dict[int, int],
    need: dict[int, int],
    reason: str,
    actor: AbstractBaseUser | None,
) -> OrderChangeResult:
    """Cancel units that need no location's answer: backordered ones and ones on unreleased work."""
    by_number = {ln.line_number: ln for ln in lines}
    if need:
        from fulfillment.services import fulfillment_units_withdraw

        with _fulfilment_conflicts():
            fulfillment_units_withdraw(order_id=order.pk, amounts=need, actor=actor, reason=reason)
        order_lines_allocated_add(amounts={pk: -q for pk, q in need.items()})
    order_lines_cancelled_add(amounts={by_number[n].pk: q for n, q in units.items()})
    for n, q in units.items():
        by_number[n].quantity_cancelled += q
        by_number[n].quantity_allocated -= need.get(by_number[n].pk, 0)
    result = _cancel_record(order=order, lines=lines, units=units, reason=reason, actor=actor)
    _finish(order=order, lines=lines, reason=reason, actor=actor)
    return result


def _cancel_ask(
    *,
    order: Order,
    lines: list[OrderLine],
    ask: dict[int, dict[int, int]],
    reason: str,
    actor: AbstractBaseUser | None,
    kind: str = "cancel",
    rerouted_for: str = "the new address",
) -> list[tuple]:
    """Ask each location holding released units to cancel them (`kind` cancel: they leave the order; reroute:
    they are routed again); the timeline says what is pending where."""
    from fulfillment.services import fulfillment_cancel_request_add

    by_pk = {ln.pk: ln for ln in lines}
    out = []
    for fo_id, amounts in sorted(ask.items()):
        req = fulfillment_cancel_request_add(fo_id=fo_id, units=amounts, reason=reason, actor=actor, kind=kind)
        code = req.fulfillment_order.location.code
        what = ", ".join(f"{q} × {by_pk[lid].sku} (line {by_pk[lid].line_number})" for lid, q in amounts.items())
        then = (
            f"They are routed again for {rerouted_for} when the location confirms."
            if kind == "reroute"
            else "The cancellation completes when the location confirms."
        )
        message = (
            f"{_who(actor)} asked {code} to cancel {what} on FO-{fo_id}, which it already has. Why: {reason}. {then}"
        )
        order_event_add(
            order=order,
            type="cancellation_requested",
            message=message,
            data={
                "cancel_request": req.pk,
                "fulfillment_order": fo_id,
                "location": code,
                "reason": reason,
                "kind": kind,
                "lines": [
                    {"line_number": by_pk[lid].line_number, "sku": by_pk[lid].sku, "quantity": q}
                    for lid, q in amounts.items()
                ],
            },
            actor=actor,
        )
        out.append((req, message))
    return out


def order_cancel_request_complete(
    *, order_id: int, amounts: dict[int, int], reason: str, actor: AbstractBaseUser | None
) -> OrderChangeResult:
    """A location confirmed it cancelled units of released work ({order line id: units}, already taken off the
    work by fulfillment): the line counters, totals, refund and status follow, and `order.cancelled` is sent."""
    with transaction.atomic():
        locked = _lock(Order.objects.get(pk=order_id))
        all_lines = list(locked.lines.select_for_update().order_by("line_number"))
        by_pk = {ln.pk: ln for ln in all_lines}
        amounts = {lid: q for lid, q in amounts.items() if q > 0 and lid in by_pk}
        if not amounts:
            return OrderChangeResult(locked, Decimal(0), "Nothing to cancel.")
        order_lines_allocated_add(amounts={pk: -q for pk, q in amounts.items()})
        order_lines_cancelled_add(amounts=amounts)
        for lid, q in amounts.items():
            by_pk[lid].quantity_cancelled += q
            by_pk[lid].quantity_allocated -= q
        units = {by_pk[lid].line_number: q for lid, q in amounts.items()}
        result = _cancel_record(order=locked, lines=all_lines, units=units, reason=reason, actor=actor)
        _finish(order=locked, lines=all_lines, reason=reason, actor=actor)
    return result


def order_reroute_request_complete(
    *, order_id: int, amounts: dict[int, int], reason: str, actor: AbstractBaseUser | None
) -> OrderChangeResult:
    """A location confirmed it stopped units of released work for an address or method change ({order line
    id: units}, already taken off the work by fulfillment): they stay on the order and are routed again for
    its address and method as they are now (`reason` is the request's, naming the change)."""
    with transaction.atomic():
        locked = _lock(Order.objects.get(pk=order_id))
        by_pk = {ln.pk: ln for ln in locked.lines.select_for_update()}
        amounts = {lid: q for lid, q in amounts.items() if q > 0 and lid in by_pk}
        if not amounts:
            return OrderChangeResult(locked, Decimal(0), "Nothing to re-route.")
        order_lines_allocated_add(amounts={pk: -q for pk, q in amounts.items()})
        what = ", ".join(f"{q} × {by_pk[lid].sku} (line {by_pk[lid].line_number})" for lid, q in amounts.items())
        message = f"{what} routed again after {reason}."
        lines = [
            {"line_number": by_pk[lid].line_number, "sku": by_pk[lid].sku, "quantity": q} for lid, q in amounts.items()
        ]
        _changed(order=locked, change="reroute", message=message, data={"reason": reason, "lines": lines}, actor=actor)
        _reroute(order=locked, units=amounts, reason=reason, actor=actor)
    return OrderChangeResult(Order.objects.get(pk=order_id), Decimal(0), message)


def _cancel_record(
    *, order: Order, lines: list[OrderLine], units: dict[int, int], reason: str, actor: AbstractBaseUser | None
) -> OrderChangeResult:
    """Totals, priority and the timeline entry of a cancellation (the `order.cancelled` event)."""
    by_number = {ln.line_number: ln for ln in lines}
    value = sum((by_number[n].unit_price * q for n, q in units.items()), Decimal(0))
    everything = all(ln.quantity_open == 0 and ln.quantity_shipped == 0 for ln in lines)
    totals = _totals_after_cancel(order=order, value=value, everything=everything)
    refund = (order.total - totals["total"]).quantize(CENT)
    tier = order.customer.loyalty_tier if order.customer_id else "standard"
    priority = priority_score(ship_by=order.ship_by, now=timezone.now(), tier=tier, total=totals["total"])
    order.cancel_reason = reason
    Order.objects.filter(pk=order.pk).update(**totals, priority=priority, cancel_reason=reason)
    for k, v in totals.items():
        setattr(order, k, v)
    order.priority = priority
    detail = [
        {"line_number": n, "sku": by_number[n].sku, "quantity": q, "value": str(by_number[n].unit_price * q)}
        for n, q in sorted(units.items())
    ]
    what = ", ".join(f"{d['sku']} × {d['quantity']} (line {d['line_number']})" for d in detail)
    n_units = sum(units.values())
    scope = "the whole order" if everything else f"{n_units} unit{'s' if n_units != 1 else ''}"
    message = f"{_who(actor)} cancelled {scope}: {what}. Why: {reason}. Refund due {refund} {order.currency}."
    order_event_add(
        order=order,
        type="cancelled",
        message=message,
        data={
            "reason": reason,
            "lines": detail,
            "units": n_units,
            "partial": not everything,
            "refund_amount": str(refund),
            "totals": {k: str(v) for k, v in totals.items()},
        },
        actor=actor,
    )
    return OrderChangeResult(order, refund, message)


# --- Address, method and lines --------------------------------------------------------------------------

# Statuses in which an order's address, method and lines may still change.
CHANGEABLE = frozenset(
    {Status.CREATED, Status.VALIDATED, Status.ON_HOLD, Status.ROUTED, Status.BACKORDERED, Status.PARTIALLY_SHIPPED}
)
_PLACED = frozenset({Status.ROUTED, Status.BACKORDERED, Status.PARTIALLY_SHIPPED})


def _locked_for_change(*, order: Order, expected_version: int | None, what: str) -> Order:
    locked = _lock_with_work(order)
    order_version_check(order=locked, expected_version=expected_version)
    if locked.status not in CHANGEABLE:
        raise OrderChangeConflict(
            [f"Order {locked.number} is {locked.get_status_display().lower()}; its {what} can no longer change."]
        )
    return locked


def _reroute(*, order: Order, units: dict[int, int], reason: str, actor: AbstractBaseUser | None) -> None:
    """Route `units` ({order line id: units}, not allocated now) again, in this transaction."""
    from routing.services import order_reroute

    if any(units.values()):
        order_reroute(order_id=order.pk, quantities=units, exclude_location_ids=[], reason=reason, actor=actor)


def _changed(*, order: Order, change: str, message: str, data: dict, actor: AbstractBaseUser | None) -> None:
    order_event_add(order=order, type="changed", message=message, data={"change": change, **data}, actor=actor)


def order_address_input_errors(*, address: object) -> dict[str, list[str]]:
    """What is wrong with a new shipping address, by field (the checks intake makes, and it must be
    deliverable); empty when it is fine."""
    errors = _address_problems_by_field(name="shipping_address", address=address)
    if not errors and (problems := address_problems(address=address)):
        errors["shipping_address"] = problems
    return errors


def _address_moves(*, order: Order, checks: list) -> tuple[list[int], dict[int, dict[int, int]]]:
    """The fulfilment orders the new address moves: unreleased ones (withdrawn and routed again now) and
    {released fulfilment order id: {order line id: units}} whose location is asked to stop them (units already
    asked of it by a waiting request are not asked again)."""
    from fulfillment.services import fulfillment_line_work

    moving = {c.fulfillment_order_id for c in checks if c.reroute}
    ask: dict[int, dict[int, int]] = {}
    released: set[int] = set()
    for lid, w in fulfillment_line_work(order_id=order.pk).items():
        released.update(w.requested_on)
        for r in w.released:
            released.add(r.fulfillment_order_id)
            if r.fulfillment_order_id in moving:
                ask.setdefault(r.fulfillment_order_id, {})[lid] = r.units
    return sorted(moving - released), ask


def _plan_words(c, ask: dict, now_ids: list[int]) -> str:
    if not c.reroute:
        return f"FO-{c.fulfillment_order_id} kept: {c.reason}."
    if c.fulfillment_order_id in ask:
        return f"FO-{c.fulfillment_order_id} at {c.location_code} already has the work, asked to stop it: {c.reason}."
    if c.fulfillment_order_id not in now_ids:
        return (
            f"FO-{c.fulfillment_order_id} at {c.location_code}: its units are already asked of the location "
            f"(waiting for its answer): {c.reason}."
        )
    return f"FO-{c.fulfillment_order_id} re-routed: {c.reason}."


def order_address_change(
    *,
    order: Order,
    address: dict,
    reason: str,
    actor: AbstractBaseUser | None,
    expected_version: int | None = None,
) -> OrderChangeResult:
    """Change the shipping address. Each open shipping fulfilment order is re-checked against the new address
    (routing's `order_plan_recheck`): one that cannot reach it, or costs more than the threshold above the old
    plan, moves. Unreleased work is withdrawn and its units routed again at once; a location that already has
    the work is asked to stop it (a `reroute` cancel request, the result's `requests`) and its units are routed
    again when it confirms. The timeline records why, per fulfilment order."""
    if errors := order_address_input_errors(address=address):
        raise ValidationError(errors)
    reason = (reason or "").strip()[:300] or "address corrected"
    with transaction.atomic():
        locked = _locked_for_change(order=order, expected_version=expected_version, what="address")
        old = dict(locked.shipping_address or {})
        checks = []
        if locked.status in _PLACED:
            from routing.services import order_plan_recheck

            checks = order_plan_recheck(
                order_id=locked.pk,
                old_point=address_point(address=old),
                new_point=address_point(address=address),
                service_level=locked.service_level,
            )
        now_ids, ask = _address_moves(order=locked, checks=checks)
        Order.objects.filter(pk=locked.pk).update(shipping_address=address, address_key=address_key(address=address))
        locked.shipping_address = address
        units: dict[int, int] = {}
        if now_ids:
            from fulfillment.services import fulfillment_orders_withdraw

            with _fulfilment_conflicts():
                units = fulfillment_orders_withdraw(
                    order_id=locked.pk,
                    fulfillment_order_ids=now_ids,
                    actor=actor,
                    reason=f"the shipping address changed ({reason})",
                )
            order_lines_allocated_add(amounts={pk: -q for pk, q in units.items()})
        where = ", ".join(str(address.get(k)) for k in ("line1", "city", "postal_code", "country") if address.get(k))
        plan = " ".join(_plan_words(c, ask, now_ids) for c in checks)
        message = f"{_who(actor)} changed the shipping address to {where}. Why: {reason}. {plan}".strip()
        _changed(
            order=locked,
            change="address",
            message=message,
            data={
                "from": old,
                "to": address,
                "reason": reason,
                "plan": [
                    {
                        "fulfillment_order": c.fulfillment_order_id,
                        "location": c.location_code,
                        "reroute": c.reroute,
                        "asked": c.fulfillment_order_id in ask,
                        "why": c.reason,
                        "cost_before": c.cost_before,
                        "cost_after": c.cost_after,
                    }
                    for c in checks
                ],
            },
            actor=actor,
        )
        if units:
            _reroute(order=locked, units=units, reason=f"shipping address changed: {reason}", actor=actor)
        requests = []
        if ask:
            lines = list(locked.lines.order_by("line_number"))
            why = f"shipping address changed ({reason})"
            requests = _cancel_ask(order=locked, lines=lines, ask=ask, reason=why, actor=actor, kind="reroute")
    note = " ".join([message, *(r[1] for r in requests)])
    return OrderChangeResult(Order.objects.get(pk=locked.pk), Decimal(0), note, tuple(r[0] for r in requests))


def _pickup_store_errors(*, method: str, store) -> dict[str, list[str]]:
    if method not in Order.Method.values:
        return {"fulfillment_method": [f"Must be one of {', '.join(Order.Method.values)}."]}
    if method == Order.Method.PICKUP and store is None:
        return {"pickup_location": ["Name the store the customer picks up from."]}
    if store is not None and method == Order.Method.PICKUP and not (store.is_active and store.can_pickup):
        return {"pickup_location": [f"{store.code} does not offer pickup."]}
    return {}


def order_method_change(
    *,
    order: Order,
    method: str,
    pickup_location,
    reason: str,
    actor: AbstractBaseUser | None,
    expected_version: int | None = None,
) -> OrderChangeResult:
    """Change how the order reaches the customer (ship ↔ pickup) or the pickup store: unreleased fulfilment
    orders are withdrawn (their stock back to sale) and the open units routed again for the new method; a
    location that already has work is asked to stop it (a `reroute` cancel request, the result's `requests`)
    and its units are routed again for the new method when it confirms."""
    if errors := _pickup_store_errors(method=method, store=pickup_location):
        raise ValidationError(errors)
    store = pickup_location if method == Order.Method.PICKUP else None
    reason = (reason or "").strip()[:300] or "customer request"
    with transaction.atomic():
        locked = _locked_for_change(order=order, expected_version=expected_version, what="fulfilment method")
        ask = _released_asks(order=locked)
        before = (locked.fulfillment_method, locked.pickup_location.code if locked.pickup_location_id else None)
        units = {}
        if locked.status in _PLACED:
            from fulfillment.services import fulfillment_orders_withdraw_unreleased

            with _fulfilment_conflicts():
                units = fulfillment_orders_withdraw_unreleased(
                    order_id=locked.pk, actor=actor, reason=f"the fulfilment method changed ({reason})"
                )
            order_lines_allocated_add(amounts={pk: -q for pk, q in units.items()})
        Order.objects.filter(pk=locked.pk).update(fulfillment_method=method, pickup_location=store)
        locked.fulfillment_method, locked.pickup_location = method, store
        after = Order.Method(method).label.lower() + (f" at {store.code}" if store else "")
        message = f"{_who(actor)} changed the fulfilment method to {after}. Why: {reason}."
        _changed(
            order=locked,
            change="method",
            message=message,
            data={"from": list(before), "to": [method, store.code if store else None], "reason": reason},
            actor=actor,
        )
        if locked.status in _PLACED:
            lines = locked.lines.all()
            open_units = {ln.pk: ln.quantity - ln.quantity_allocated - ln.quantity_cancelled for ln in lines}
            _reroute(order=locked, units={k: v for k, v in open_units.items() if v > 0}, reason=reason, actor=actor)
        requests = []
        if ask:
            why = f"the fulfilment method changed ({reason})"
            requests = _cancel_ask(
                order=locked,
                lines=list(locked.lines.order_by("line_number")),
                ask=ask,
                reason=why,
                actor=actor,
                kind="reroute",
                rerouted_for="the new fulfilment method",
            )
    note = " ".join([message, *(r[1] for r in requests)])
    return OrderChangeResult(Order.objects.get(pk=locked.pk), Decimal(0), note, tuple(r[0] for r in requests))


def _released_asks(*, order: Order) -> dict[int, dict[int, int]]:
    """{released fulfilment order id: {order line id: units}}: every unit a location already has, but those
    already asked of it by a waiting request."""
    from fulfillment.services import fulfillment_line_work

    ask: dict[int, dict[int, int]] = {}
    for lid, w in fulfillment_line_work(order_id=order.pk).items():
        for r in w.released:
            if r.fulfillment_order_id not in w.requested_on:
                ask.setdefault(r.fulfillment_order_id, {})[lid] = r.units
    return ask


def _totals_after_add(*, order: Order, value: Decimal) -> dict[str, Decimal]:
    """Goods worth `value` added: subtotal up, tax at the order's current rate, shipping unchanged."""
    subtotal = order.subtotal + value
    tax = order.tax_total
    if order.subtotal > 0:
        tax = (order.tax_total * subtotal / order.subtotal).quantize(CENT)
    total = (order.total + (subtotal - order.subtotal) + (tax - order.tax_total)).quantize(CENT)
    return {"subtotal": subtotal, "tax_total": tax, "total": total}


def order_line_add(
    *,
    order: Order,
    sku: str,
    quantity: int,
    unit_price: Decimal,
    reason: str,
    actor: AbstractBaseUser | None,
    expected_version: int | None = None,
) -> OrderChangeResult:
    """Add a line (a known, active product): totals grow, and a placed order has the new units routed."""
    from inventory.models import Product

    product = Product.objects.filter(sku=sku, is_active=True).first() if isinstance(sku, str) else None
    if product is None:
        raise ValidationError({"sku": [f"Unknown or inactive SKU {str(sku)[:64]!r}."]})
    reason = (reason or "").strip()[:300] or "customer request"
    with transaction.atomic():
        locked = _locked_for_change(order=order, expected_version=expected_version, what="lines")
        number = (locked.lines.order_by("-line_number").values_list("line_number", flat=True).first() or 0) + 1
        line = OrderLine.objects.create(
            order=locked,
            line_number=number,
            product=product,
            sku=product.sku,
            name=product.name,
            quantity=quantity,
            unit_price=unit_price,
        )
        totals = _totals_after_add(order=locked, value=unit_price * quantity)
        Order.objects.filter(pk=locked.pk).update(**totals)
        message = f"{_who(actor)} added line {number}: {product.sku} × {quantity} at {unit_price}. Why: {reason}."
        _changed(
            order=locked,
            change="line_added",
            message=message,
            data={"line_number": number, "sku": product.sku, "quantity": quantity, "reason": reason},
            actor=actor,
        )
        if locked.status in _PLACED:
            _reroute(order=locked, units={line.pk: quantity}, reason=f"line {number} added", actor=actor)
    return OrderChangeResult(Order.objects.get(pk=locked.pk), Decimal(0), message)


def order_line_quantity_set(
    *,
    order: Order,
    line_number: int,
    quantity: int,
    reason: str,
    actor: AbstractBaseUser | None,
    expected_version: int | None = None,
) -> OrderChangeResult:
    """Set how many units of a line the customer wants (not counting cancelled ones): fewer cancels the
    difference through `order_units_cancel`; more grows the line and routes the extra units."""
    reason = (reason or "").strip()[:300] or "customer request"
    with transaction.atomic():
        locked = _locked_for_change(order=order, expected_version=expected_version, what="lines")
        line = locked.lines.select_for_update().filter(line_number=line_number).first()
        if line is None:
            raise ValidationError({"line_number": [f"Line {line_number} does not exist on this order."]})
        wanted = line.quantity - line.quantity_cancelled
        if quantity < wanted:
            return order_units_cancel(order=locked, lines={line_number: wanted - quantity}, reason=reason, actor=actor)
        extra = quantity - wanted
        if extra == 0:
            return OrderChangeResult(locked, Decimal(0), "Nothing changed.")
        OrderLine.objects.filter(pk=line.pk).update(quantity=line.quantity + extra)
        totals = _totals_after_add(order=locked, value=line.unit_price * extra)
        Order.objects.filter(pk=locked.pk).update(**totals)
        message = (
            f"{_who(actor)} changed line {line_number} ({line.sku}) from {wanted} to {quantity} units. Why: {reason}."
        )
        _changed(
            order=locked,
            change="quantity",
            message=message,
            data={"line_number": line_number, "sku": line.sku, "from": wanted, "to": quantity, "reason": reason},
            actor=actor,
        )
        if locked.status in _PLACED:
            _reroute(order=locked, units={line.pk: extra}, reason=f"line {line_number} grew", actor=actor)
    return OrderChangeResult(Order.objects.get(pk=locked.pk), Decimal(0), message)


def order_line_remove(
    *, order: Order, line_number: int, reason: str, actor: AbstractBaseUser | None, expected_version: int | None = None
) -> OrderChangeResult:
    """Remove a line: every open unit of it is cancelled (the line stays, fully cancelled, for the record)."""
    with transaction.atomic():
        locked = _locked_for_change(order=order, expected_version=expected_version, what="lines")
        line = locked.lines.filter(line_number=line_number).first()
        if line is None:
            raise ValidationError({"line_number": [f"Line {line_number} does not exist on this order."]})
        if line.quantity_open == 0:
            raise OrderChangeConflict([f"Line {line_number} ({line.sku}) has nothing left to cancel."])
        return order_units_cancel(
            order=locked,
            lines={line_number: line.quantity_open},
            reason=(reason or "").strip() or f"line {line_number} removed",
            actor=actor,
        )
