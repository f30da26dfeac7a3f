"""Moving an order's delivery promise after placement: routing found the promise can no longer be kept and
placed the order late with a new date. The first promise stays on the order (`original_promised_delivery_date`)
and the timeline says why it moved."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from orders.models import Order
from orders.services.timeline import order_event_add

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def order_promise_redate(
    *,
    order_id: int,
    promised: date,
    reason: str,
    previous: date | None = None,
    actor: AbstractBaseUser | None = None,
) -> bool:
    """Set the order's promised delivery date to `promised` and tell its timeline why ("changed" with
    change "promise", so channels hear of it as order.changed). The promise made first is kept in
    `original_promised_delivery_date` the first time it moves; `previous` is the promise the caller held the
    order to when the order stores none (routing derives one from the placed time). Returns False (and writes
    nothing) when the order already promises that date."""
    errors = {}
    if not isinstance(promised, date):
        errors["promised"] = ["A date is required."]
    if not (reason or "").strip():
        errors["reason"] = ["Say why the promise moves."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise ValidationError({"order_id": [f"Order {order_id} does not exist."]})
        before = order.promised_delivery_date or previous
        if before == promised:
            return False
        original = order.original_promised_delivery_date or before
        Order.objects.filter(pk=order_id).update(
            promised_delivery_date=promised, original_promised_delivery_date=original
        )
        order_event_add(
            order=order,
            type="changed",
            message=f"Promise moved from {_iso(before)} to {promised.isoformat()}: {reason.strip()}"[:500],
            data={
                "change": "promise",
                "from": _iso(before),
                "to": promised.isoformat(),
                "original": _iso(original),
                "reason": reason.strip(),
            },
            actor=actor,
        )
    return True


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
