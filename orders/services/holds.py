"""Holds: placed by checks at intake or by hand, released by an operator (then the order is routed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inventory.models import Product
from orders.models import Order, OrderHold
from orders.services.lifecycle import HoldKind, Status, _lock, _transition
from orders.services.timeline import order_event_add

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


# Statuses in which a hold can be placed by hand (nothing is reserved or shipped yet, or it is backordered).
HOLDABLE = frozenset({Status.CREATED, Status.VALIDATED, Status.BACKORDERED, Status.ON_HOLD})


def order_hold_place(*, order: Order, kind: str, reason: str, actor: AbstractBaseUser | None = None) -> OrderHold:
    """Put an order on hold (by hand, or by another app), with a reason in the timeline."""
    if kind not in HoldKind.values:
        raise ValidationError({"kind": [f"Unknown hold kind {kind!r}."]})
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the order is held."]})
    with transaction.atomic():
        locked = _lock(order)
        if locked.status not in HOLDABLE:
            raise ValidationError(f"Order {locked.number} is {locked.get_status_display().lower()}; it cannot be held.")
        hold = OrderHold.objects.create(order=locked, kind=kind, reason=reason)
        order_event_add(
            order=locked,
            type="hold_placed",
            message=f"{HoldKind(kind).label} hold: {reason}",
            data={"kind": kind, "hold_id": hold.pk},
            actor=actor,
        )
        _transition(order=locked, to=Status.ON_HOLD, actor=actor)
    return hold


def order_hold_release(*, hold: OrderHold, actor: AbstractBaseUser | None, note: str = "") -> Order:
    """Release one hold (Operations). When it was the last one the order becomes validated and is routed.

    An unknown-item hold is released only once every line's SKU is a known, active product (they are linked
    then); otherwise ValidationError names the SKUs still unknown. Releasing a released hold changes nothing.
    """
    with transaction.atomic():
        order = _lock(hold.order)
        hold = OrderHold.objects.select_for_update().get(pk=hold.pk)
        if hold.released_at is not None:
            return order
        if order.status == Status.CANCELLED:
            raise ValidationError(f"Order {order.number} is cancelled; its holds are closed.")
        if hold.kind == HoldKind.UNKNOWN_ITEM:
            _lines_link_products(order=order)
        hold.released_at = timezone.now()
        hold.released_by = actor if getattr(actor, "pk", None) else None
        hold.resolution = OrderHold.Resolution.RELEASED
        hold.note = note[:500]
        hold.save(update_fields=["released_at", "released_by", "resolution", "note"])
        order_event_add(
            order=order,
            type="hold_released",
            message=f"{hold.get_kind_display()} hold released" + (f": {note}" if note else "."),
            data={"kind": hold.kind, "hold_id": hold.pk},
            actor=actor,
        )
        if order.status == Status.ON_HOLD and not order.holds.filter(released_at__isnull=True).exists():
            _transition(order=order, to=Status.VALIDATED, actor=actor, message="All holds released.")
    return order


def _lines_link_products(*, order: Order) -> None:
    lines = list(order.lines.select_for_update().order_by("pk"))
    skus = {ln.sku for ln in lines if ln.sku}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus, is_active=True)}
    missing = [
        f"line {ln.line_number} has no SKU" if not ln.sku else f"SKU {ln.sku!r}"
        for ln in lines
        if ln.sku not in products
    ]
    if missing:
        raise ValidationError(
            f"Cannot release: {', '.join(missing)} still unknown or inactive. Add the product or cancel the order."
        )
    for ln in lines:
        if ln.product_id != products[ln.sku].pk:
            ln.product = products[ln.sku]
            ln.save(update_fields=["product"])
