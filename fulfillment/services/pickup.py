"""Buy online, pick up in store: ready for pickup, the customer's e-mail with the code, handover with the code,
reminders and no-shows."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from fulfillment.models import (
    FulfillmentLine,
    FulfillmentOrder,
    StoreSettings,
)
from fulfillment.services.store_settings import store_settings_ensure
from fulfillment.services.workflow import (
    PICKUP_CODE_ALPHABET,
    M,
    S,
    _cancel_order_line_units,
    _check_scope,
    _consume,
    _dom,
    _lines,
    _local,
    _lock,
    _order_refresh,
    _release,
    _sku_list,
    _transition,
    logger,
)
from notifications.services import notification_pickup_ready_resend, notification_pickup_reminder_queue
from orders.services import (
    order_event_add,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def _send_ready_email(fo_id: int, *, actor: AbstractBaseUser | None = None) -> FulfillmentOrder:
    notification_pickup_ready_resend(fo_id=fo_id, actor=actor)  # queued, sent once (notifications)
    return FulfillmentOrder.objects.select_related("order", "order__customer", "location").get(pk=fo_id)


def fulfillment_order_ready(
    *, fo_id: int, staging_location: str = "", actor: AbstractBaseUser | None = None, now: datetime | None = None
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


def fulfillment_order_resend_ready_email(*, fo_id: int, actor: AbstractBaseUser | None = None) -> FulfillmentOrder:
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
    actor: AbstractBaseUser | None = None,
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
