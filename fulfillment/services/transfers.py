"""Ship-to-store: a transfer received at the pickup store is reserved there for the customer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from common.roles import OPERATIONS, user_has_role
from fulfillment.models import (
    FulfillmentLine,
    FulfillmentOrder,
)
from fulfillment.services.workflow import M, S, _lock, _transition
from inventory.models import (
    Location,
    RefType,
    Reservation,
)
from inventory.services import (
    HoldLine,
    ReservationHold,
    reservation_hold,
    stock_receive,
)
from orders.models import Order, OrderLine

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def _reserve_received(
    *, order: Order, store: Location, lines: list[tuple[OrderLine, int]], actor: AbstractBaseUser | None
) -> Reservation:
    """Hold the received units for the customer at the store.

    Not `stock_reserve`: these units arrived for this customer, so the store's safety stock and walk-in
    protection must not stop them being held. The stock write still goes through inventory.services.
    """
    hold = ReservationHold(
        channel_id=order.channel_id,
        reference=f"order:{order.pk}",
        ref_type=RefType.ORDER,
        ref_id=order.pk,
        lines=[
            HoldLine(ol.product_id, store.pk, q, f"order_line:{ol.pk}", RefType.ORDER_LINE, ol.pk) for ol, q in lines
        ],
    )
    return reservation_hold(hold=hold, actor=actor)


def transfer_receive(*, fo_id: int, actor: AbstractBaseUser | None = None) -> FulfillmentOrder:
    """A ship-to-store parcel arrived: the units are received into the store's stock, held for the customer,
    and a pickup fulfilment order is created there (the customer order stays open until handover)."""
    with transaction.atomic():
        fo = _lock(fo_id)
        if fo.method != M.TRANSFER:
            raise ValidationError(f"FO-{fo.pk} is not a transfer.")
        store = fo.order.pickup_location
        if store is None:
            raise ValidationError(f"Order {fo.order.number} has no pickup store to receive at.")
        if actor is not None and getattr(actor, "is_authenticated", False):  # noqa: SIM102
            if not (actor.is_superuser or user_has_role(user=actor, roles=[OPERATIONS])):  # noqa: SIM102
                if not store.staff.filter(pk=actor.pk).exists():
                    raise PermissionDenied(f"This parcel goes to {store.code}; you can only receive at your own store.")
        if fo.status != S.IN_TRANSIT:
            raise ValidationError(
                f"FO-{fo.pk} is {fo.get_status_display().lower()}, not in transit; nothing to receive."
            )
        lines = [
            (ln.order_line, ln.quantity_shipped) for ln in fo.lines.select_related("order_line") if ln.quantity_shipped
        ]
        for ol, q in lines:
            stock_receive(product=ol.product, location=store, quantity=q, reference=f"fo:{fo.pk}:transfer", actor=actor)
        reservation = _reserve_received(order=fo.order, store=store, lines=lines, actor=actor)
        pickup = FulfillmentOrder.objects.create(
            order=fo.order, location=store, method=M.PICKUP, reservation=reservation, ship_by=fo.ship_by
        )
        FulfillmentLine.objects.bulk_create(
            [FulfillmentLine(fulfillment_order=pickup, order_line=ol, quantity=q) for ol, q in lines]
        )
        fo.pickup_fulfillment_order = pickup
        fo.received_at = timezone.now()
        fo.received_by = actor if getattr(actor, "pk", None) else None
        _transition(
            fo,
            S.RECEIVED,
            actor=actor,
            message=f"Transfer FO-{fo.pk} received at {store.code}; pick-up order FO-{pickup.pk} created.",
            data={"pickup_fulfillment_order": pickup.pk},
        )
        return fo
