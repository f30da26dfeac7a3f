"""Picking at stores (scan or tap) and pick confirmations; short picks and rejections with their stock effect,
handed back to routing for a new location."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from fulfillment.models import (
    FulfillmentLine,
    FulfillmentOrder,
    RejectionReason,
    StoreSettings,
)
from fulfillment.services.workflow import S, _check_scope, _lines, _lock, _release, _transition
from inventory.models import (
    InventoryMovement,
    LocationKind,
    StockLevel,
)
from inventory.services import (
    stock_adjust,
    stock_set_on_hand,
)
from orders.services import (
    order_event_add,
    order_lines_allocated_release,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True)
class ScanResult:
    outcome: str  # "scanned", "already_scanned", "not_in_order"
    message: str
    line_id: int | None = None


class PickSource(StrEnum):
    """How a picked unit was confirmed: a tap on the screen, or a barcode scan."""

    TAP = "tap"
    SCAN = "scan"


def fulfillment_line_pick(
    *, line_id: int, delta: int = 1, actor: AbstractBaseUser | None = None, source: PickSource = PickSource.TAP
) -> FulfillmentLine:
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
        if delta > 0 and source != PickSource.SCAN and fo.location.kind == LocationKind.STORE:
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


def fulfillment_line_scan(*, fo_id: int, code: str, actor: AbstractBaseUser | None = None) -> ScanResult:
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
    line = fulfillment_line_pick(line_id=line.pk, delta=1, actor=actor, source=PickSource.SCAN)
    return ScanResult(
        "scanned",
        f"{line.order_line.sku}: scanned ({line.quantity_picked} of {line.quantity - line.quantity_short}).",
        line.pk,
    )


def fulfillment_order_pick_confirm(
    *, fo_id: int, quantities: dict[int, int] | None = None, actor: AbstractBaseUser | None = None
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


def _reason(code: str) -> RejectionReason:
    reason = RejectionReason.objects.filter(code=code, is_active=True).first() if code else None
    if reason is None:
        labels = ", ".join(RejectionReason.objects.filter(is_active=True).values_list("label", flat=True))
        what = f"Unknown reason {code!r}" if code else "Choose a reason"
        raise ValidationError({"reason": f"{what}: one of {labels}."})
    return reason


def _apply_stock_effect(
    fo: FulfillmentOrder, line: FulfillmentLine, q: int, reason: RejectionReason, actor: AbstractBaseUser | None
) -> None:
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
    fo: FulfillmentOrder,
    shorts: dict[int, int],
    reason: RejectionReason,
    *,
    actor: AbstractBaseUser | None,
    note: str = "",
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
    *, line_id: int, quantity: int, reason_code: str, actor: AbstractBaseUser | None = None, note: str = ""
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


def fulfillment_order_reject(
    *, fo_id: int, reason_code: str, actor: AbstractBaseUser | None = None, note: str = ""
) -> FulfillmentOrder:
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
