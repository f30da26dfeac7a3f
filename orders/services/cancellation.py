"""Cancelling an order whole: refused once anything shipped; reservations and open fulfilment work are
released through their owners (the `order_cancelled` signal)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inventory.models import RefType, Reservation
from inventory.services import reservation_release
from orders.models import Order, OrderHold, OrderLine
from orders.services.lifecycle import Status, _lock, _transition
from orders.services.timeline import order_event_add
from orders.signals import order_cancelled

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


# Statuses from which nothing can be cancelled any more.
NOT_CANCELLABLE = frozenset(
    {Status.SHIPPED, Status.DELIVERED, Status.CLOSED, Status.PARTIALLY_RETURNED, Status.RETURNED}
)


def order_cancel(*, order: Order, actor: AbstractBaseUser | None, reason: str) -> Order:
    """Cancel what has not shipped: lines' open units become cancelled, the order's active reservations
    (reference "order:<pk>") are released, active holds close, and `order_cancelled` is sent (fulfilment
    cancels its open work) — all in one transaction. A partly shipped order ends `shipped`; otherwise
    `cancelled`. Cancelling a cancelled order changes nothing; a fully shipped one cannot be cancelled."""
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why the order is cancelled."]})
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == Status.CANCELLED:
            return locked
        if locked.status in NOT_CANCELLABLE:
            raise ValidationError(
                f"Order {locked.number} is {locked.get_status_display().lower()}; nothing is left to cancel."
            )
        released = []
        for res in Reservation.objects.filter(
            ref_type=RefType.ORDER, ref_id=locked.pk, status=Reservation.Status.ACTIVE
        ).order_by("pk"):
            reservation_release(reservation=res, actor=actor, reference=f"order:{locked.pk} cancelled")
            released.append(res.pk)
        cancelled, cancelled_lines = {}, []
        lines = list(locked.lines.select_for_update().order_by("pk"))
        for ln in lines:
            open_units = ln.quantity - ln.quantity_shipped - ln.quantity_cancelled
            if open_units > 0:
                ln.quantity_cancelled += open_units
                cancelled[str(ln.line_number)] = open_units
                cancelled_lines.append({"line_number": ln.line_number, "sku": ln.sku, "quantity": open_units})
            ln.quantity_allocated = min(ln.quantity_allocated, ln.quantity_shipped)
        OrderLine.objects.bulk_update(lines, ["quantity_cancelled", "quantity_allocated"])
        now = timezone.now()
        OrderHold.objects.filter(order=locked, released_at__isnull=True).update(
            released_at=now,
            released_by=actor if getattr(actor, "pk", None) else None,
            resolution=OrderHold.Resolution.CANCELLED,
            note=reason[:500],
        )
        locked.cancel_reason = reason[:500]
        Order.objects.filter(pk=locked.pk).update(cancel_reason=locked.cancel_reason, updated_at=now)
        order_event_add(
            order=locked,
            type="cancelled",
            message=f"Cancelled: {reason}",
            data={
                "cancelled_units_by_line": cancelled,
                "released_reservations": released,
                "reason": locked.cancel_reason,
                "lines": cancelled_lines,
                "units": sum(cancelled.values()),
            },
            actor=actor,
        )
        any_shipped = any(ln.quantity_shipped for ln in lines)
        _transition(
            order=locked,
            to=Status.SHIPPED if any_shipped else Status.CANCELLED,
            actor=actor,
            message="Unshipped remainder cancelled." if any_shipped else "",
        )
        order_cancelled.send(sender=Order, order=locked, actor=actor)
    return locked
