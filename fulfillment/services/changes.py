"""Order changes after placement, as fulfilment sees them: where an order line's open units sit (on work not yet
released to its location, or on released work), and taking units off unreleased work (the order's
partial cancellation and its re-routing after an address change)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from fulfillment.models import FulfillmentLine, FulfillmentOrder
from fulfillment.services.workflow import OPEN_STATUSES, S, _lines, _release, _transition

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True, slots=True)
class ReleasedWork:
    """Open units of one order line on a fulfilment order its location already has (released or started)."""

    fulfillment_order_id: int
    location_code: str
    status: str
    units: int


@dataclass(slots=True)
class LineWork:
    """Where an order line's open units sit on fulfilment orders."""

    unreleased: int = 0
    released: list[ReleasedWork] = field(default_factory=list)
    # units on released work already asked of their location (a cancel request waiting for its answer)
    requested: int = 0
    # released fulfilment orders holding those requested units
    requested_on: list[int] = field(default_factory=list)


def _is_released(fo: FulfillmentOrder) -> bool:
    """The location has the work: released to a warehouse or 3PL, or picking (or further) at a store."""
    return fo.released_at is not None or fo.status != S.CREATED


def _lock_nowait(pk: int) -> FulfillmentOrder:
    """Lock a fulfilment order without waiting: the order change holds the order row, and a pick or
    confirmation that holds this fulfilment order waits for the order row (its timeline entry), so waiting here
    could deadlock. Busy -> ValidationError naming it (the caller answers 409). On SQLite writers queue anyway."""
    try:
        with transaction.atomic():
            return (
                FulfillmentOrder.objects.select_for_update(of=("self",), nowait=True)
                .select_related("order", "location", "order__customer")
                .get(pk=pk)
            )
    except DatabaseError:
        code = FulfillmentOrder.objects.filter(pk=pk).values_list("location__code", flat=True).first()
        raise ValidationError(f"FO-{pk} at {code} is being worked on right now (a pick or confirmation).") from None


def fulfillment_orders_lock(*, order_id: int) -> None:
    """Lock the order's open fulfilment orders (primary-key order, without waiting) for an order change that
    holds the order row: a pick or confirmation in progress (it locks its fulfilment order first, then its
    lines and the order) makes the change refuse at once instead of deadlocking. Busy -> ValidationError."""
    ids = FulfillmentOrder.objects.filter(order_id=order_id, status__in=OPEN_STATUSES).order_by("pk")
    for pk in ids.values_list("pk", flat=True):
        _lock_nowait(pk)


def fulfillment_line_work(*, order_id: int) -> dict[int, LineWork]:
    """{order line id: LineWork} over the order's open fulfilment orders (transfers excluded: the units they
    carry also sit on the pickup fulfilment order they become). Released units already asked of their location
    by a waiting cancel request count in `requested`, not in `released`."""
    from fulfillment.services.cancel_requests import fulfillment_cancel_requested_units

    asked = fulfillment_cancel_requested_units(order_id=order_id)
    out: dict[int, LineWork] = {}
    lines = (
        FulfillmentLine.objects.filter(
            fulfillment_order__order_id=order_id, fulfillment_order__status__in=OPEN_STATUSES
        )
        .exclude(fulfillment_order__method=FulfillmentOrder.Method.TRANSFER)
        .select_related("fulfillment_order", "fulfillment_order__location")
        .order_by("fulfillment_order_id", "pk")
    )
    for fl in lines:
        fo = fl.fulfillment_order
        units = fl.quantity - fl.quantity_short - fl.quantity_shipped - fl.quantity_cancelled
        if units <= 0:
            continue
        work = out.setdefault(fl.order_line_id, LineWork())
        if _is_released(fo):
            pending = min(units, asked.get((fo.pk, fl.order_line_id), 0))
            work.requested += pending
            if pending:
                work.requested_on.append(fo.pk)
            if units > pending:
                work.released.append(ReleasedWork(fo.pk, fo.location.code, fo.status, units - pending))
        else:
            work.unreleased += units
    return out


def _withdraw_from(fo: FulfillmentOrder, remaining: dict[int, int], *, actor, reason: str) -> dict[int, int]:
    """Take units off one locked, unreleased fulfilment order; returns {order line id: units taken}."""
    lines = _lines(fo)
    by_fl, taken = {}, {}
    for fl in lines:
        take = min(remaining.get(fl.order_line_id, 0), fl.quantity - fl.quantity_picked - fl.quantity_short)
        if take > 0:
            by_fl[fl.pk] = take
            taken[fl.order_line_id] = taken.get(fl.order_line_id, 0) + take
            remaining[fl.order_line_id] -= take
    if not by_fl:
        return {}
    _release(fo, by_fl, actor=actor, reference=f"fo:{fo.pk}:withdrawn")
    for fl in lines:
        q = by_fl.get(fl.pk, 0)
        if q and q >= fl.quantity:
            fl.delete()
        elif q:
            FulfillmentLine.objects.filter(pk=fl.pk).update(quantity=fl.quantity - q)
    if not FulfillmentLine.objects.filter(fulfillment_order_id=fo.pk).exists():
        _transition(fo, S.CANCELLED, actor=actor, message=f"FO-{fo.pk} at {fo.location.code} cancelled: {reason}")
    return taken


def fulfillment_units_withdraw(
    *, order_id: int, amounts: dict[int, int], actor: AbstractBaseUser | None, reason: str
) -> dict[int, int]:
    """Take units of order lines ({order line id: units}) off the order's fulfilment orders that their location
    does not have yet (newest first), in the caller's transaction: their reserved stock goes back to sale through
    inventory, lines shrink or go, and a fulfilment order left without lines is cancelled (on the timeline).
    Raises ValidationError, before anything is written, when units sit only on released work.
    Returns {order line id: units taken}."""
    wanted = {k: v for k, v in amounts.items() if v > 0}
    work = fulfillment_line_work(order_id=order_id)
    short = [lid for lid, q in wanted.items() if work.get(lid, LineWork()).unreleased < q]
    if short:
        raise ValidationError(f"Order lines {sorted(short)}: not enough units on unreleased fulfilment work.")
    remaining, taken = dict(wanted), {}
    with transaction.atomic():
        ids = (
            FulfillmentOrder.objects.filter(order_id=order_id, status=S.CREATED, released_at__isnull=True)
            .exclude(method=FulfillmentOrder.Method.TRANSFER)
            .order_by("-pk")
            .values_list("pk", flat=True)
        )
        for pk in list(ids):
            if not any(remaining.values()):
                break
            fo = _lock_nowait(pk)
            if _is_released(fo):
                continue
            for lid, q in _withdraw_from(fo, remaining, actor=actor, reason=reason).items():
                taken[lid] = taken.get(lid, 0) + q
        if any(remaining.values()):
            raise ValidationError("The order's fulfilment work changed while units were withdrawn; try again.")
    return taken


def fulfillment_orders_withdraw_unreleased(
    *, order_id: int, actor: AbstractBaseUser | None, reason: str
) -> dict[int, int]:
    """Cancel every fulfilment order of the order that its location does not have yet (its stock goes back to
    sale), so routing can place the units again; returns {order line id: units withdrawn}."""
    work = fulfillment_line_work(order_id=order_id)
    amounts = {lid: w.unreleased for lid, w in work.items() if w.unreleased}
    if not amounts:
        return {}
    return fulfillment_units_withdraw(order_id=order_id, amounts=amounts, actor=actor, reason=reason)


def fulfillment_orders_withdraw(
    *, order_id: int, fulfillment_order_ids: list[int], actor: AbstractBaseUser | None, reason: str
) -> dict[int, int]:
    """Cancel these fulfilment orders of the order, none of them released to its location yet (their stock goes
    back to sale), so routing can place the units again; returns {order line id: units withdrawn}. Raises
    ValidationError, writing nothing, when one of them is released, closed or belongs to another order."""
    taken: dict[int, int] = {}
    with transaction.atomic():
        for pk in sorted(fulfillment_order_ids):
            fo = _lock_nowait(pk)
            if fo.order_id != order_id or fo.status != S.CREATED or _is_released(fo):
                raise ValidationError(f"FO-{pk} is {fo.get_status_display().lower()}; only unreleased work moves.")
            remaining = {fl.order_line_id: fl.quantity for fl in fo.lines.all()}
            for lid, q in _withdraw_from(fo, dict(remaining), actor=actor, reason=reason).items():
                taken[lid] = taken.get(lid, 0) + q
    return taken
