"""Warehouses and 3PLs: consolidation, release (one outbox message per group) and the confirmations they send back."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from fulfillment.models import (
    CancelRequest,
    FulfillmentEvent,
    FulfillmentOrder,
    OutboxMessage,
    RejectionReason,
)
from fulfillment.services.dropship import purchase_order_create
from fulfillment.services.outbox import outbox_message_add
from fulfillment.services.picking import _reason, _short_lines, fulfillment_order_pick_confirm, fulfillment_order_reject
from fulfillment.services.shipping import fulfillment_order_deliver, fulfillment_order_ship
from fulfillment.services.workflow import M, S, _check_scope, _customer_email, _dom, _lock, _transition, logger
from inventory.models import (
    LocationKind,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


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


def _release_group(
    fos: list[FulfillmentOrder], *, actor: AbstractBaseUser | None = None, now: datetime
) -> OutboxMessage:
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
    *, fo_id: int, actor: AbstractBaseUser | None = None, now: datetime | None = None
) -> FulfillmentOrder:
    """Send a warehouse or 3PL its work through the outbox, holding it for the consolidation window first
    so that orders for the same customer and address leave together. High-priority orders go at once,
    taking any held orders of the same group with them."""
    return _release_or_hold(fo_id=fo_id, actor=actor, now=now or timezone.now(), at_once=False)


def fulfillment_order_release_now(
    *, fo_id: int, actor: AbstractBaseUser | None = None, now: datetime | None = None
) -> FulfillmentOrder:
    """Release at once, without waiting for the consolidation window, taking any held orders of the same
    group with it (an operator's "release now")."""
    return _release_or_hold(fo_id=fo_id, actor=actor, now=now or timezone.now(), at_once=True)


def _release_or_hold(*, fo_id: int, actor: AbstractBaseUser | None, now: datetime, at_once: bool) -> FulfillmentOrder:
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
        urgent = at_once or fo.order.priority >= _dom("HIGH_PRIORITY") or window.total_seconds() == 0
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


EVENT_TYPES = ("picked", "shipped", "rejected", "delivered", "cancel_confirmed", "cancel_refused")


def _cancel_answer(fo: FulfillmentOrder, type: str, payload: dict, actor: AbstractBaseUser | None) -> None:
    """A warehouse or 3PL answers a cancel request: the one named, or every request waiting on the order."""
    from fulfillment.services.cancel_requests import (
        fulfillment_cancel_request_confirm,
        fulfillment_cancel_request_refuse,
    )

    asked = CancelRequest.objects.filter(fulfillment_order=fo)
    if payload.get("cancel_request") is not None:
        ids = list(asked.filter(pk=payload["cancel_request"]).values_list("pk", flat=True))
        if not ids:
            raise ValidationError(
                {"cancel_request": f"Cancel request {payload['cancel_request']} is not on FO-{fo.pk}."}
            )
    else:
        ids = list(asked.filter(status=CancelRequest.Status.REQUESTED).order_by("pk").values_list("pk", flat=True))
        if not ids:
            raise ValidationError({"cancel_request": f"FO-{fo.pk} has no cancel request waiting for an answer."})
    note = str(payload.get("reason") or "").strip()
    for pk in ids:
        if type == "cancel_confirmed":
            fulfillment_cancel_request_confirm(request_id=pk, actor=actor, note=note)
        else:
            fulfillment_cancel_request_refuse(request_id=pk, actor=actor, note=note)


def fulfillment_event_apply(
    *, fo_id: int, event_id: str, type: str, payload: dict, actor: AbstractBaseUser | None = None
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
        else:
            _cancel_answer(fo, type, payload, actor)
        fo.refresh_from_db()
        return fo, False
