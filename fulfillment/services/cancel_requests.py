"""Asking a location to cancel units it already has (work released to a warehouse or 3PL, or started at a
store). The request is recorded on the fulfilment order; a warehouse or 3PL gets a `cancel_request` message
through the outbox and answers with a `cancel_confirmed` or `cancel_refused` event, a store associate answers on
the order screen. A request has a kind: `cancel` (the order's units are cancelled) or `reroute` (the order's
address changed and this location cannot serve it: the units stay on the order and are routed again).
Confirmed: the units come off the work (their stock back to sale) and the order's cancellation, or re-routing,
completes through orders. Refused (already packed, picked or shipped): the units will ship, the order timeline
says so. An answer to a request already answered changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from fulfillment.models import CancelRequest, FulfillmentOrder
from fulfillment.services.changes import _withdraw_from
from fulfillment.services.outbox import outbox_message_add
from fulfillment.services.workflow import OPEN_STATUSES, _check_scope, _lines, _lock
from inventory.models import LocationKind
from orders.services import order_event_add

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def _describe(fo: FulfillmentOrder, units: dict[int, int]) -> str:
    by_line = {fl.order_line_id: fl.order_line for fl in fo.lines.select_related("order_line")}
    parts = []
    for lid, q in sorted(units.items()):
        ol = by_line.get(lid)
        parts.append(f"{q} × {ol.sku} (line {ol.line_number})" if ol else f"{q} × order line {lid}")
    return ", ".join(parts)


def _units(req: CancelRequest) -> dict[int, int]:
    return {int(k): int(v) for k, v in req.units.items()}


def fulfillment_cancel_requested_units(*, order_id: int) -> dict[tuple[int, int], int]:
    """{(fulfilment order id, order line id): units} under cancel requests still waiting for an answer."""
    out: dict[tuple[int, int], int] = {}
    for req in CancelRequest.objects.filter(
        fulfillment_order__order_id=order_id, status=CancelRequest.Status.REQUESTED
    ).order_by("pk"):
        for lid, q in _units(req).items():
            key = (req.fulfillment_order_id, lid)
            out[key] = out.get(key, 0) + q
    return out


def fulfillment_cancel_request_add(
    *,
    fo_id: int,
    units: dict[int, int],
    reason: str,
    actor: AbstractBaseUser | None,
    kind: str = CancelRequest.Kind.CANCEL,
) -> CancelRequest:
    """Record a request to the fulfilment order's location to cancel `units` ({order line id: units}), in the
    caller's transaction; a warehouse or 3PL is sent a `cancel_request` message through the outbox (its
    `purpose` says whether the order cancels the units or re-routes them). Nothing on the work changes until the
    location answers."""
    if kind not in CancelRequest.Kind.values:
        raise ValueError(f"Unknown cancel request kind {kind!r}.")
    fo = FulfillmentOrder.objects.select_related("order", "location").get(pk=fo_id)
    req = CancelRequest.objects.create(
        fulfillment_order=fo,
        kind=kind,
        units={str(k): v for k, v in units.items() if v > 0},
        reason=reason[:500],
        requested_by=actor if getattr(actor, "pk", None) else None,
    )
    if fo.location.kind in (LocationKind.WAREHOUSE, LocationKind.THIRD_PARTY):
        skus = {fl.order_line_id: fl.order_line.sku for fl in fo.lines.select_related("order_line")}
        outbox_message_add(
            kind="cancel_request",
            location=fo.location,
            key=f"cancel_request:{req.pk}",
            payload={
                "cancel_request": req.pk,
                "fulfillment_order": fo.pk,
                "order": fo.order.number,
                "reason": req.reason,
                "purpose": req.kind,
                "lines": [{"sku": skus.get(lid, ""), "quantity": q} for lid, q in sorted(units.items()) if q > 0],
                "answer_with": ["cancel_confirmed", "cancel_refused"],
            },
        )
    return req


def _answerable(request_id: int, actor: AbstractBaseUser | None) -> tuple[FulfillmentOrder, CancelRequest]:
    fo_id = CancelRequest.objects.filter(pk=request_id).values_list("fulfillment_order_id", flat=True).first()
    if fo_id is None:
        raise ValidationError({"cancel_request": [f"Cancel request {request_id} does not exist."]})
    fo = _lock(fo_id)
    _check_scope(fo, actor)
    return fo, CancelRequest.objects.select_for_update().get(pk=request_id)


def _answer(req: CancelRequest, status: str, *, actor: AbstractBaseUser | None, note: str) -> None:
    req.status, req.answered_at, req.answer_note = status, timezone.now(), note[:300]
    req.answered_by = actor if getattr(actor, "pk", None) else None
    req.save(update_fields=["status", "answered_at", "answered_by", "answer_note"])


def _refuse(fo: FulfillmentOrder, req: CancelRequest, *, actor: AbstractBaseUser | None, note: str) -> None:
    _answer(req, CancelRequest.Status.REFUSED, actor=actor, note=note)
    what = _describe(fo, _units(req))
    if req.kind == CancelRequest.Kind.REROUTE:
        message = (
            f"{fo.location.code} could not stop {what} on FO-{fo.pk} for the address change: {note} The units "
            "will ship as packed, to the old address; Operations must contact the carrier to redirect them."
        )
    else:
        message = f"{fo.location.code} could not cancel {what} on FO-{fo.pk}: {note} The units will ship."
    order_event_add(
        order=fo.order,
        type="cancellation_refused",
        message=message,
        data={
            "fulfillment_order": fo.pk,
            "location": fo.location.code,
            "cancel_request": req.pk,
            "kind": req.kind,
            "note": note,
        },
        actor=actor,
    )


def fulfillment_cancel_request_refuse(
    *, request_id: int, actor: AbstractBaseUser | None, note: str = ""
) -> CancelRequest:
    """The location answers that it cannot cancel (already packed): the request is refused and the order
    timeline says the units will ship. A request already answered is returned unchanged."""
    with transaction.atomic():
        fo, req = _answerable(request_id, actor)
        if req.status == CancelRequest.Status.REQUESTED:
            _refuse(fo, req, actor=actor, note=(note or "").strip()[:280] or "Already packed.")
        return req


def fulfillment_cancel_request_confirm(
    *, request_id: int, actor: AbstractBaseUser | None, note: str = ""
) -> CancelRequest:
    """The location confirms it cancelled the units: they come off the fulfilment order (stock back to sale,
    the fulfilment order cancelled when nothing is left) and the order's cancellation completes (counters,
    totals, refund, `order.cancelled`), or, for a `reroute` request, the units are routed again for the order's
    new address. When the work moved on meanwhile (shipped, or the units picked) the
    request is refused instead, saying why. A request already answered is returned unchanged."""
    from orders.services import order_cancel_request_complete, order_reroute_request_complete

    with transaction.atomic():
        fo, req = _answerable(request_id, actor)
        if req.status != CancelRequest.Status.REQUESTED:
            return req
        units = _units(req)
        if fo.status not in OPEN_STATUSES:
            _refuse(fo, req, actor=actor, note=f"FO-{fo.pk} is already {fo.get_status_display().lower()}.")
            return req
        free = {}
        for fl in _lines(fo):
            free[fl.order_line_id] = (
                free.get(fl.order_line_id, 0) + fl.quantity - fl.quantity_picked - fl.quantity_short
            )
        if any(free.get(lid, 0) < q for lid, q in units.items()):
            _refuse(fo, req, actor=actor, note=f"The units are already picked or packed on FO-{fo.pk}.")
            return req
        reason = f"{req.reason} (cancellation confirmed by {fo.location.code})"
        taken = _withdraw_from(fo, dict(units), actor=actor, reason=reason)
        _answer(req, CancelRequest.Status.CONFIRMED, actor=actor, note=(note or "").strip())
        if req.kind == CancelRequest.Kind.REROUTE:
            order_reroute_request_complete(order_id=fo.order_id, amounts=taken, reason=reason, actor=actor)
        else:
            order_cancel_request_complete(order_id=fo.order_id, amounts=taken, reason=reason, actor=actor)
        return req


def fulfillment_cancel_requests_waiting(*, fo: FulfillmentOrder) -> list[CancelRequest]:
    """The fulfilment order's cancel requests waiting for an answer, each with `what` (units in words)."""
    reqs = list(
        CancelRequest.objects.filter(fulfillment_order=fo, status=CancelRequest.Status.REQUESTED)
        .select_related("requested_by")
        .order_by("pk")
    )
    for req in reqs:
        req.what = _describe(fo, _units(req))
    return reqs
